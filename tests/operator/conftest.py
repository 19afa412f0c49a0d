"""Fixtures of the operator tests: the example FitbitPipeline and the spec variants render() is tried on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "fitbitpipeline.yaml"
CHART = REPO / "charts" / "fitpipe"

GOOGLE = {"googleHealth": {"secretName": "google"}}
OIDC = {
    "issuerURL": "https://login.hospital.example/realms/staff",
    "clientID": "fitpipe-trial-a",
    "clientSecretName": "oidc-client",
}

# name -> spec; together they switch every optional part on and off at least once.
VARIANTS: dict[str, dict[str, Any]] = {
    "minimal": GOOGLE,
    "example": yaml.safe_load(EXAMPLE.read_text())["spec"],
    "inbox-source": {"ingest": {"source": {"type": "inbox", "inboxClaimName": "trial-inbox"}}},
    "own-secrets": {
        **GOOGLE,
        "timescaledb": {"credentialsSecret": "db-admin"},
        "tokenKey": {"secretName": "token-key"},
        "apiToken": {"secretName": "dashboard-token"},
        "smtp": {"secretName": "smtp"},
    },
    "lean": {
        **GOOGLE,
        "dashboard": {"enabled": False},
        "api": {"replicas": 0},
        "monitoring": {
            "serviceMonitor": {"enabled": False},
            "prometheusRule": {"enabled": False},
            "grafanaDashboards": {"enabled": False},
        },
    },
    "hardened": {
        **GOOGLE,
        "smtp": {"secretName": "smtp"},
        "api": {"autoscaling": {"minReplicas": 2, "maxReplicas": 6}},
        "dashboard": {
            "replicas": 2,
            "auth": {
                "mode": "oidc",
                "oidc": {**OIDC, "emailDomains": ["hospital.example"], "allowedGroups": ["trial-a"]},
            },
            "ingress": {
                "enabled": True,
                "host": "trial-a.hospital.example",
                "tlsSecretName": "trial-a-tls",
                "className": "nginx",
            },
        },
        "networkPolicy": {"apiFromIngressController": True},
        "backup": {
            "enabled": True,
            "repository": {
                "type": "s3",
                "s3": {
                    "bucket": "fitpipe-backups",
                    "endpoint": "s3.eu-central-1.amazonaws.com",
                    "region": "eu-central-1",
                    "secretName": "backup-s3",
                },
                "cipherSecretName": "backup-cipher",
            },
            "restore": {"id": "drill-1", "target": "2026-03-04 09:00:00+01"},
        },
        "secretRevisions": {"smtp": "2026-03"},
    },
    "backup-pvc": {
        **GOOGLE,
        "backup": {"enabled": True, "repository": {"type": "pvc", "claimName": "trial-a-backups"}},
        "dashboard": {"service": {"type": "NodePort"}},
        "networkPolicy": {"enabled": False},
    },
    "disposable": {
        **GOOGLE,
        "timescaledb": {"storage": {"deleteWithPipeline": True, "size": "1Gi", "storageClassName": "fast"}},
        "ingest": {"suspend": True, "schedule": "@daily", "timeZone": "America/Argentina/Buenos_Aires"},
        "image": {
            "repository": "registry.example.org/fitpipe",
            "digest": "sha256:" + "ab" * 32,
            "pullSecrets": ["registry"],
        },
        "monitoring": {
            "thresholds": {"ingestStaleHours": 30, "apiErrorRatio": 0.1},
            "labels": {"release": "kps"},
        },
    },
}


@pytest.fixture(params=sorted(VARIANTS))
def variant(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param, VARIANTS[request.param]


@pytest.fixture
def example_document() -> dict[str, Any]:
    return dict(yaml.safe_load(EXAMPLE.read_text()))
