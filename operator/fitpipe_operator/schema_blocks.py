"""The hardening sections of the FitbitPipeline schema (issue 14): network policy, backups, the dashboard's
sign-in and ingress, API autoscaling, secret revisions. crd.spec_schema() puts them in place.

Selectors are written as in a NetworkPolicy peer. They default as a whole, never field by field, so a
user who writes `namespaceSelector: {}` (every namespace) gets exactly that."""

from __future__ import annotations

from typing import Any

from fitpipe_operator.images import REFERENCE_PATTERN
from fitpipe_operator.schema_types import (
    CRON_PATTERN,
    TIMEZONE_PATTERN,
    boolean,
    integer,
    obj,
    resources,
    secret_name,
    string,
    string_list,
    string_map,
)

__all__ = [
    "image_reference",
    "label_selector",
    "peer",
    "network_policy",
    "backup",
    "dashboard_auth",
    "dashboard_ingress",
    "api_autoscaling",
    "secret_revisions",
]

# A DNS name as an Ingress host accepts it (wildcards allowed in the first label).
HOST_PATTERN = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
LABEL_KEY_PATTERN = r"^([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"


def image_reference(description: str, default: str) -> dict[str, Any]:
    return string(description, default=default, pattern=REFERENCE_PATTERN, maxLength=512)


def label_selector(description: str) -> dict[str, Any]:
    """A metav1.LabelSelector: matchLabels and matchExpressions, `{}` selecting everything."""
    expression = obj(
        "A label requirement.",
        {
            "key": string("Label key.", pattern=LABEL_KEY_PATTERN, maxLength=316),
            "operator": string("How the values relate.", enum=["In", "NotIn", "Exists", "DoesNotExist"]),
            "values": string_list("Values (In, NotIn).", string("A value.", maxLength=63), max_items=32),
        },
        required=["key", "operator"],
        defaulted=False,
    )
    return obj(
        description,
        {
            "matchLabels": string_map("Labels that must all match.", max_properties=16),
            "matchExpressions": string_list("Requirements that must all hold.", expression, max_items=16),
        },
        defaulted=False,
    )


def peer(description: str, default: dict[str, Any]) -> dict[str, Any]:
    """A NetworkPolicy peer by selectors (namespaceSelector alone: every pod there; podSelector alone:
    pods of the pipeline's namespace; both: those pods in those namespaces)."""
    schema = obj(
        description,
        {
            "namespaceSelector": label_selector("Namespaces (by their labels)."),
            "podSelector": label_selector("Pods (by their labels)."),
        },
        defaulted=False,
        rules=[
            {
                "rule": "has(self.namespaceSelector) || has(self.podSelector)",
                "message": "a peer needs a namespaceSelector or a podSelector",
            }
        ],
    )
    schema["default"] = default
    return schema


def _names(name: str) -> dict[str, Any]:
    return {"matchLabels": {"kubernetes.io/metadata.name": name}}


def network_policy() -> dict[str, Any]:
    port = integer("A TCP port.", minimum=1, maximum=65535)
    return obj(
        "NetworkPolicies for every workload of the pipeline: who may connect to what, and where each may "
        "connect to (docs/kubernetes.md#network-policies). Enforced by the cluster's network plugin.",
        {
            "enabled": boolean("Render the NetworkPolicies.", True),
            "prometheus": peer(
                "Who scrapes the API's /metrics (default: kube-prometheus-stack's Prometheus in `monitoring`).",
                {
                    "namespaceSelector": _names("monitoring"),
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "prometheus"}},
                },
            ),
            "ingressController": peer(
                "The ingress controller's pods: they reach the dashboard (and the API with "
                "`apiFromIngressController`). Default: ingress-nginx in `ingress-nginx`.",
                {
                    "namespaceSelector": _names("ingress-nginx"),
                    "podSelector": {"matchLabels": {"app.kubernetes.io/name": "ingress-nginx"}},
                },
            ),
            "apiFromIngressController": boolean(
                "Admit the ingress controller to the API too (an Ingress of your own in front of the API, "
                "for analysts' tools, consent callbacks and Google's webhooks).",
                False,
            ),
            "dns": peer(
                "The cluster DNS every pod may ask (default: kube-dns/CoreDNS in kube-system).",
                {
                    "namespaceSelector": _names("kube-system"),
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
                },
            ),
            "smtpPorts": string_list(
                "Ports of the mail server (egress of the API and ingest when spec.smtp is set).",
                port,
                max_items=4,
            )
            | {"default": [25, 465, 587]},
            "externalCIDRs": string_list(
                "Where HTTPS egress may go (Google's APIs, the identity provider, S3): a NetworkPolicy cannot "
                "name hosts, so by default anywhere; narrow it to an egress proxy or your cloud's ranges.",
                string("A CIDR.", pattern=r"^[0-9a-fA-F:.]+/[0-9]{1,3}$", maxLength=43),
                max_items=32,
            )
            | {"default": ["0.0.0.0/0", "::/0"]},
        },
    )


def backup() -> dict[str, Any]:
    s3 = obj(
        "An S3-compatible bucket (AWS S3, MinIO, Ceph RGW, ...).",
        {
            "bucket": string("Bucket name.", pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", maxLength=63),
            "endpoint": string(
                "Endpoint host, e.g. s3.eu-central-1.amazonaws.com or minio.backup.svc.",
                pattern=r"^[A-Za-z0-9]([-A-Za-z0-9.]*[A-Za-z0-9])?$",
                maxLength=253,
            ),
            "port": integer("Endpoint port.", minimum=1, maximum=65535, default=443),
            "region": string("Region, e.g. eu-central-1 (MinIO: us-east-1).", maxLength=63),
            "uriStyle": string(
                "`host` (bucket.endpoint) or `path` (endpoint/bucket, MinIO's default).",
                enum=["host", "path"],
                default="host",
            ),
            "verifyTLS": boolean("Verify the endpoint's certificate.", True),
            "secretName": secret_name("Secret with keys `accessKeyId` and `secretAccessKey`."),
        },
        defaulted=False,
    )
    repository = obj(
        "Where pgBackRest keeps backups and archived WAL.",
        {
            "type": string("`pvc` or `s3`.", enum=["pvc", "s3"], default="pvc"),
            "claimName": secret_name(
                "type pvc: an existing PersistentVolumeClaim of your own (keep it on other storage than "
                "the database; ReadWriteMany lets a restore drill read it while production writes)."
            ),
            "s3": s3,
            "path": string(
                "Path of the repository in the claim or bucket; default /fitpipe/<namespace>/<name>.",
                pattern=r"^/[A-Za-z0-9._/-]*$",
                maxLength=256,
            ),
            "cipherSecretName": secret_name(
                "Secret with key `passphrase`: encrypts the repository (aes-256-cbc). Keep a copy outside "
                "the cluster: without it no backup can be restored."
            ),
        },
        rules=[
            {
                "rule": "!has(self.type) || self.type != 'pvc' || has(self.claimName)",
                "message": "backup.repository.type pvc needs claimName",
            },
            {
                "rule": "!has(self.type) || self.type != 's3' || (has(self.s3) && has(self.s3.bucket) && "
                "has(self.s3.endpoint) && has(self.s3.region) && has(self.s3.secretName))",
                "message": "backup.repository.type s3 needs s3.bucket, s3.endpoint, s3.region and s3.secretName",
            },
        ],
        defaulted=False,
    )
    return obj(
        "Continuous backups with pgBackRest (in the timescaledb-ha image): WAL archived as it fills or "
        "every archiveTimeoutSeconds, scheduled full and differential backups, retention, and restores "
        "(docs/kubernetes.md#backups-and-restores).",
        {
            "enabled": boolean(
                "Archive WAL and take the scheduled backups. Switching it on or off restarts the database once.",
                False,
            ),
            "repository": repository,
            "schedule": obj(
                "When backups run (cron, in timeZone).",
                {
                    "full": string("Full backups.", pattern=CRON_PATTERN, default="0 2 * * 0"),
                    "differential": string(
                        "Differential backups (changes since the last full one).",
                        pattern=CRON_PATTERN,
                        default="0 2 * * 1-6",
                    ),
                },
            ),
            "timeZone": string("IANA time zone of the schedule.", pattern=TIMEZONE_PATTERN, default="UTC"),
            "retention": obj(
                "How many backups pgBackRest keeps (older ones, and the WAL only they need, are expired).",
                {
                    "full": integer("Full backups kept.", minimum=1, maximum=100, default=4),
                    "differential": integer("Differential backups kept.", minimum=1, maximum=100, default=6),
                },
            ),
            "archiveTimeoutSeconds": integer(
                "Force a WAL switch after this many seconds, so at most this much committed work waits to be "
                "archived on a quiet database: the recovery point objective.",
                minimum=30,
                maximum=3600,
                default=300,
            ),
            "activeDeadlineSeconds": integer(
                "A backup running longer than this is reported failed.",
                minimum=600,
                maximum=604800,
                default=43200,
            ),
            "resources": resources(
                "CPU and memory of the backup sidecar (pgBackRest compresses and checksums).",
                {"cpu": "100m", "memory": "128Mi"},
                {"memory": "1Gi"},
            ),
            "restore": obj(
                "Restore the database from the repository: set `id` to a new value and the database pod "
                "restarts and restores once before PostgreSQL starts (also with enabled: false, e.g. a "
                "restore drill into a fresh pipeline that must not write into the repository).",
                {
                    "id": string(
                        "Any new value runs one restore; keep it afterwards (removing it restarts the "
                        "database once more, without restoring).",
                        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$",
                    ),
                    "target": string(
                        "Point in time to recover to, e.g. `2026-03-04 09:00:00+01`; unset: the latest.",
                        pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?"
                        r"([+-][0-9]{2}(:?[0-9]{2})?|Z)?$",
                        maxLength=40,
                    ),
                },
                required=["id"],
                defaulted=False,
            ),
        },
        rules=[
            {
                "rule": "(!has(self.enabled) || !self.enabled) && !has(self.restore) || has(self.repository)",
                "message": "backup.enabled and backup.restore need backup.repository",
            }
        ],
    )


def dashboard_auth(proxy_image: str) -> dict[str, Any]:
    oidc = obj(
        "Sign-in through the hospital's identity provider: an oauth2-proxy sidecar in front of the dashboard.",
        {
            "issuerURL": string(
                "The OIDC issuer, e.g. https://login.hospital.example/realms/staff.",
                pattern=r"^https://[^\s]+$",
                maxLength=2048,
            ),
            "clientID": string("The client registered at the identity provider.", maxLength=256),
            "clientSecretName": secret_name("Secret with key `client-secret`: the client's secret."),
            "emailDomains": string_list(
                "Email domains the proxy lets through (default: any; fitpipe then admits only people who "
                "have a fitpipe account).",
                string("A domain, or `*`.", pattern=r"^(\*|[A-Za-z0-9.-]+)$", maxLength=253),
                max_items=32,
            ),
            "allowedGroups": string_list(
                "Groups (the IdP's groups claim) the proxy lets through; none: no group check.",
                string("A group.", maxLength=256),
                max_items=32,
            ),
            "emailClaim": string("The ID token claim holding the email.", default="email", maxLength=64),
            "match": string(
                "How fitpipe finds the person: by email (default) or by user name.",
                enum=["email", "username"],
                default="email",
            ),
            "image": image_reference("The oauth2-proxy image (pinned by digest).", proxy_image),
            "resources": resources(
                "CPU and memory of the proxy.", {"cpu": "25m", "memory": "32Mi"}, {"memory": "128Mi"}
            ),
        },
    )
    return obj(
        "How people sign in to the dashboard (docs/kubernetes.md#signing-in-to-the-dashboard).",
        {
            "mode": string(
                "`password`: fitpipe accounts (`fitpipe users`); `oidc`: the hospital's identity provider "
                "through oauth2-proxy, with the `signin` token of spec.apiToken.",
                enum=["password", "oidc"],
                default="password",
            ),
            "oidc": oidc,
        },
        rules=[
            {
                "rule": "!has(self.mode) || self.mode != 'oidc' || (has(self.oidc) && "
                "has(self.oidc.issuerURL) && has(self.oidc.clientID) && has(self.oidc.clientSecretName))",
                "message": "dashboard.auth.mode oidc needs oidc.issuerURL, oidc.clientID and oidc.clientSecretName",
            }
        ],
    )


def dashboard_ingress() -> dict[str, Any]:
    return obj(
        "An Ingress with TLS in front of the dashboard (session cookies are Secure: browsers send them "
        "only over HTTPS).",
        {
            "enabled": boolean("Create the Ingress.", False),
            "className": secret_name("IngressClass; the cluster's default if unset."),
            "host": string(
                "Host name, e.g. trial-a.dashboard.hospital.example.", pattern=HOST_PATTERN, maxLength=253
            ),
            "tlsSecretName": secret_name("Secret of type kubernetes.io/tls with the host's certificate."),
            "annotations": string_map(
                "Annotations of the Ingress (e.g. cert-manager.io/cluster-issuer).",
                max_properties=32,
                max_length=1024,
            ),
        },
        rules=[
            {
                "rule": "!has(self.enabled) || !self.enabled || (has(self.host) && has(self.tlsSecretName))",
                "message": "dashboard.ingress.enabled needs host and tlsSecretName",
            }
        ],
    )


def api_autoscaling() -> dict[str, Any]:
    return obj(
        "Scale the API with a HorizontalPodAutoscaler on CPU; when set, `replicas` is the autoscaler's and "
        "the operator stops setting it.",
        {
            "minReplicas": integer("Fewest replicas.", minimum=1, maximum=50, default=2),
            "maxReplicas": integer("Most replicas.", minimum=1, maximum=100),
            "targetCPUUtilization": integer(
                "Average CPU use, in percent of the request, the autoscaler keeps.",
                minimum=10,
                maximum=100,
                default=70,
            ),
        },
        required=["maxReplicas"],
        defaulted=False,
        rules=[
            {
                "rule": "!has(self.minReplicas) || self.minReplicas <= self.maxReplicas",
                "message": "api.autoscaling.minReplicas must not exceed maxReplicas",
            }
        ],
    )


def secret_revisions() -> dict[str, Any]:
    return string_map(
        "Secret name -> a revision of your choosing. After changing a Secret's contents, change its "
        "revision here: every workload that reads that Secret rolls (the operator never reads Secrets, so "
        "it cannot see the change itself; docs/kubernetes.md#rotating-secrets).",
        max_properties=32,
        max_length=63,
    )
