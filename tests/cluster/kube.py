"""A small Kubernetes client for the cluster tests, over the official client's transport: objects by
kind and name, server-side apply as a named field manager (as `kubectl apply --server-side` does),
errors that carry the API server's status and message, and polling with a clear timeout message."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urlencode

import kubernetes.client
import kubernetes.config

T = TypeVar("T")

# kind -> (apiVersion, plural, namespaced)
KINDS: dict[str, tuple[str, str, bool]] = {
    "Namespace": ("v1", "namespaces", False),
    "Node": ("v1", "nodes", False),
    "PersistentVolume": ("v1", "persistentvolumes", False),
    "Secret": ("v1", "secrets", True),
    "ConfigMap": ("v1", "configmaps", True),
    "Service": ("v1", "services", True),
    "Pod": ("v1", "pods", True),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims", True),
    "ServiceAccount": ("v1", "serviceaccounts", True),
    "ResourceQuota": ("v1", "resourcequotas", True),
    "Event": ("v1", "events", True),
    "Deployment": ("apps/v1", "deployments", True),
    "ReplicaSet": ("apps/v1", "replicasets", True),
    "StatefulSet": ("apps/v1", "statefulsets", True),
    "Job": ("batch/v1", "jobs", True),
    "CronJob": ("batch/v1", "cronjobs", True),
    "NetworkPolicy": ("networking.k8s.io/v1", "networkpolicies", True),
    "Ingress": ("networking.k8s.io/v1", "ingresses", True),
    "HorizontalPodAutoscaler": ("autoscaling/v2", "horizontalpodautoscalers", True),
    "PodDisruptionBudget": ("policy/v1", "poddisruptionbudgets", True),
    "ClusterRole": ("rbac.authorization.k8s.io/v1", "clusterroles", False),
    "ClusterRoleBinding": ("rbac.authorization.k8s.io/v1", "clusterrolebindings", False),
    "Role": ("rbac.authorization.k8s.io/v1", "roles", True),
    "RoleBinding": ("rbac.authorization.k8s.io/v1", "rolebindings", True),
    "CustomResourceDefinition": ("apiextensions.k8s.io/v1", "customresourcedefinitions", False),
    "FitbitPipeline": ("fitpipe.io/v1alpha1", "fitbitpipelines", True),
    "ServiceMonitor": ("monitoring.coreos.com/v1", "servicemonitors", True),
    "PrometheusRule": ("monitoring.coreos.com/v1", "prometheusrules", True),
    "Prometheus": ("monitoring.coreos.com/v1", "prometheuses", True),
    "Alertmanager": ("monitoring.coreos.com/v1", "alertmanagers", True),
    "AlertmanagerConfig": ("monitoring.coreos.com/v1alpha1", "alertmanagerconfigs", True),
}


class KubeError(Exception):
    def __init__(self, method: str, path: str, status: int, body: Any) -> None:
        self.status = status
        self.body = body if isinstance(body, dict) else {}
        self.message = str(self.body.get("message") or body)
        self.reason = str(self.body.get("reason") or "")
        super().__init__(f"{method} {path}: {status} {self.reason}: {self.message}")


def path_of(kind: str, name: str | None = None, namespace: str | None = None, subresource: str = "") -> str:
    api_version, plural, namespaced = KINDS[kind]
    root = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
    path = (
        f"{root}/namespaces/{quote(namespace)}/{plural}" if namespaced and namespace else f"{root}/{plural}"
    )
    if name:
        path += f"/{quote(name)}"
    return f"{path}/{subresource}" if subresource else path


class Kube:
    def __init__(self, api: kubernetes.client.ApiClient) -> None:
        self.api = api

    @classmethod
    def from_kubeconfig(cls, path: Path) -> Kube:
        return cls(kubernetes.config.new_client_from_config(config_file=str(path)))

    @classmethod
    def with_token(cls, server: str, ca_file: Path, token: str) -> Kube:
        configuration = kubernetes.client.Configuration(host=server)
        configuration.ssl_ca_cert = str(ca_file)
        configuration.api_key = {"authorization": f"Bearer {token}"}
        return cls(kubernetes.client.ApiClient(configuration))

    def impersonating(self, user: str) -> Kube:
        """The same credentials acting as `user` (needs the `impersonate` right, which the admin has)."""
        client = kubernetes.client.ApiClient(self.api.configuration)
        client.set_default_header("Impersonate-User", user)
        return Kube(client)

    def can(
        self,
        user: str,
        verb: str,
        resource: str,
        namespace: str | None = None,
        group: str = "",
        subresource: str = "",
    ) -> bool:
        """What the API server's authorizers answer for `user` (a SubjectAccessReview)."""
        attributes = {"verb": verb, "group": group, "resource": resource}
        if namespace:
            attributes["namespace"] = namespace
        if subresource:
            attributes["subresource"] = subresource
        review = self.request(
            "POST",
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            {
                "apiVersion": "authorization.k8s.io/v1",
                "kind": "SubjectAccessReview",
                "spec": {
                    "user": user,
                    "groups": ["system:serviceaccounts", "system:authenticated"],
                    "resourceAttributes": attributes,
                },
            },
        )
        return bool(review["status"]["allowed"])

    def close(self) -> None:
        self.api.close()

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        content_type: str = "application/json",
        accept: str = "application/json",
    ) -> Any:
        headers = {"Accept": accept}
        if body is not None:
            headers["Content-Type"] = content_type
        url_path = path + (f"?{urlencode(query)}" if query else "")
        method, url, headers, _, _ = self.api.param_serialize(
            method=method, resource_path=url_path, header_params=headers, auth_settings=["BearerToken"]
        )
        response = self.api.call_api(method, url, header_params=headers, body=body, _request_timeout=60)
        response.read()
        data = json.loads(response.data) if response.data else None
        if response.status >= 300:
            raise KubeError(method, path, response.status, data)
        return data

    def get(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any] | None:
        try:
            return dict(self.request("GET", path_of(kind, name, namespace)))
        except KubeError as exc:
            if exc.status == 404:
                return None
            raise

    def table(self, kind: str, namespace: str) -> list[dict[str, str]]:
        """What `kubectl get <kind>` prints: the printer columns of each object, by column name."""
        answer = self.request(
            "GET", path_of(kind, None, namespace), accept="application/json;as=Table;v=v1;g=meta.k8s.io"
        )
        names = [c["name"] for c in answer["columnDefinitions"]]
        return [dict(zip(names, map(str, row["cells"]), strict=True)) for row in answer["rows"]]

    def list(self, kind: str, namespace: str | None = None, selector: str = "") -> list[dict[str, Any]]:
        query = {"labelSelector": selector} if selector else None
        return list(self.request("GET", path_of(kind, None, namespace), query=query)["items"])

    def apply(self, manifest: dict[str, Any], manager: str = "platform-engineer") -> dict[str, Any]:
        meta = manifest["metadata"]
        path = path_of(manifest["kind"], meta["name"], meta.get("namespace"))
        return dict(
            self.request(
                "PATCH",
                path,
                manifest,
                query={"fieldManager": manager, "force": "true"},
                content_type="application/apply-patch+yaml",
            )
        )

    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        meta = manifest["metadata"]
        return dict(self.request("POST", path_of(manifest["kind"], None, meta.get("namespace")), manifest))

    def patch(
        self,
        kind: str,
        name: str,
        namespace: str | None,
        body: Any,
        *,
        subresource: str = "",
        manager: str = "kubectl-edit",
    ) -> dict[str, Any]:
        return dict(
            self.request(
                "PATCH",
                path_of(kind, name, namespace, subresource),
                body,
                query={"fieldManager": manager},
                content_type="application/merge-patch+json",
            )
        )

    def delete(
        self, kind: str, name: str, namespace: str | None = None, propagation: str = "Background"
    ) -> bool:
        try:
            self.request("DELETE", path_of(kind, name, namespace), {"propagationPolicy": propagation})
        except KubeError as exc:
            if exc.status == 404:
                return False
            raise
        return True


def eventually(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.25) -> T:
    """Poll check() until it returns something truthy (returned), or fail after `timeout` s naming `what`
    and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        last = check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not reached in {timeout:.0f} s (last seen: {last!r})")
        time.sleep(interval)


def condition(body: dict[str, Any] | None, kind: str) -> dict[str, Any]:
    for cond in ((body or {}).get("status") or {}).get("conditions") or []:
        if cond.get("type") == kind:
            return dict(cond)
    return {}
