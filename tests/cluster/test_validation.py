"""The API server itself enforces the FitbitPipeline schema the chart installs: CEL rules, enums, bounds
and patterns refuse a bad spec with a message naming the field, unknown fields are refused (strict field
validation, kubectl's default), defaults are filled in server-side, and transition rules refuse
changing the volume's StorageClass or shrinking it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cluster.harness import refused, restricted_namespace
from tests.cluster.kube import Kube, path_of

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

NS = "validation"
GOOGLE = {"googleHealth": {"secretName": "google"}}


@pytest.fixture(scope="module")
def namespace(kube: Kube, chart_release: dict[str, Any]) -> str:
    restricted_namespace(kube, NS)
    return NS


def create(kube: Kube, spec: dict[str, Any], name: str = "check", dry_run: bool = True) -> dict[str, Any]:
    query = {"fieldValidation": "Strict"}
    if dry_run:
        query["dryRun"] = "All"
    body = {
        "apiVersion": "fitpipe.io/v1alpha1",
        "kind": "FitbitPipeline",
        "metadata": {"name": name, "namespace": NS},
    }
    return dict(
        kube.request("POST", path_of("FitbitPipeline", None, NS), {**body, "spec": spec}, query=query)
    )


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        ({"ingest": {"source": {"type": "inbox"}}, **GOOGLE}, "spec.ingest.source", "inboxClaimName"),
        ({}, "spec", "googleHealth.secretName"),
        (
            {"monitoring": {"alertmanager": {"enabled": True}}, **GOOGLE},
            "spec.monitoring.alertmanager",
            "to, from and smarthost",
        ),
        ({"image": {"pullPolicy": "Sometimes"}, **GOOGLE}, "spec.image.pullPolicy", "Unsupported value"),
        ({"ingest": {"source": {"type": "ftp"}}, **GOOGLE}, "spec.ingest.source.type", "Unsupported value"),
        ({"api": {"replicas": 51}, **GOOGLE}, "spec.api.replicas", "less than or equal to 50"),
        ({"ingest": {"lagHours": -1}, **GOOGLE}, "spec.ingest.lagHours", "greater than or equal to 0"),
        ({"ingest": {"schedule": "every day"}, **GOOGLE}, "spec.ingest.schedule", "should match"),
        (
            {"timescaledb": {"storage": {"size": "lots"}}, **GOOGLE},
            "spec.timescaledb.storage.size",
            "should match",
        ),
        (
            {"monitoring": {"thresholds": {"apiErrorRatio": 2}}, **GOOGLE},
            "spec.monitoring.thresholds.apiErrorRatio",
            "less than or equal to 1",
        ),
    ],
)
def test_a_bad_spec_is_refused_by_the_api_server(
    kube: Kube, namespace: str, spec: dict[str, Any], field: str, words: str
) -> None:
    error = refused(lambda: create(kube, spec))
    assert error.status == 422
    assert field in error.message and words in error.message, error.message


def test_an_unknown_field_is_refused(kube: Kube, namespace: str) -> None:
    error = refused(lambda: create(kube, {**GOOGLE, "api": {"replicaCount": 3}}))
    assert error.status == 400  # strict decoding, before validation
    assert 'unknown field "spec.api.replicaCount"' in error.message


def test_a_name_too_long_for_its_children_is_refused(kube: Kube, namespace: str) -> None:
    error = refused(lambda: create(kube, GOOGLE, name="a" * 41))
    assert error.status == 422 and "at most 40 characters" in error.message


def test_defaults_are_filled_in_by_the_api_server(kube: Kube, namespace: str) -> None:
    stored = create(kube, GOOGLE)["spec"]
    assert stored["api"] == {
        "replicas": 2,
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "1Gi"}},
        "service": {"type": "ClusterIP", "port": 8000},
    }
    assert stored["timescaledb"]["storage"] == {"size": "20Gi", "deleteWithPipeline": False}
    assert stored["ingest"]["schedule"] == "0 1 * * *" and stored["ingest"]["timeZone"] == "UTC"
    assert stored["monitoring"]["alertmanager"]["enabled"] is False


@pytest.fixture(scope="module")
def stored(kube: Kube, namespace: str) -> str:
    # Stored for real (no operator acts on it here: no Secret named google exists, nothing would run).
    create(
        kube,
        {**GOOGLE, "timescaledb": {"storage": {"size": "10Gi", "storageClassName": "standard"}}},
        name="volume",
        dry_run=False,
    )
    return "volume"


def update(kube: Kube, name: str, storage: dict[str, Any]) -> dict[str, Any]:
    return kube.patch("FitbitPipeline", name, NS, {"spec": {"timescaledb": {"storage": storage}}})


def test_the_storage_class_cannot_change(kube: Kube, stored: str) -> None:
    error = refused(lambda: update(kube, stored, {"storageClassName": "fast"}))
    assert error.status == 422
    assert "storageClassName cannot change once the pipeline exists" in error.message
    error = refused(lambda: update(kube, stored, {"storageClassName": None}))
    assert "storageClassName cannot change" in error.message


def test_the_volume_cannot_shrink_but_may_grow(kube: Kube, stored: str) -> None:
    error = refused(lambda: update(kube, stored, {"size": "9Gi"}))
    assert error.status == 422 and "size cannot shrink" in error.message
    # The same size written another way is no change; a bigger one is accepted.
    assert update(kube, stored, {"size": "10240Mi"})["spec"]["timescaledb"]["storage"]["size"] == "10240Mi"
    assert update(kube, stored, {"size": "11Gi"})["spec"]["timescaledb"]["storage"]["size"] == "11Gi"
