"""The FitbitPipeline CRD: a valid CustomResourceDefinition, the chart's copy current, and its
openAPIV3Schema accepting the example and refusing broken pipelines (checked with jsonschema)."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from fitpipe_operator.crd import CRD_FILE, crd_manifest, crd_yaml, jsonschema_of, openapi_schema, spec_schema
from fitpipe_operator.spec import apply_defaults
from tests.operator.conftest import GOOGLE


def validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(jsonschema_of(openapi_schema()))


def pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "fitpipe.io/v1alpha1",
        "kind": "FitbitPipeline",
        "metadata": {"name": "t"},
        "spec": spec,
    }


def test_crd_is_a_valid_custom_resource_definition() -> None:
    kubernetes_validate.validate(crd_manifest(), kubernetes_validate.latest_version(), strict=True)


def test_chart_ships_the_current_crd() -> None:
    assert CRD_FILE.read_text() == crd_yaml(), "run `fitpipe operator crd --write`"
    assert yaml.safe_load(CRD_FILE.read_text()) == crd_manifest()


def test_schema_is_structural() -> None:
    # The API server refuses `additionalProperties` next to `properties`, and objects without a type.
    def walk(node: dict[str, Any], path: str) -> None:
        assert "type" in node, path
        assert not ("properties" in node and "additionalProperties" in node), path
        for key, sub in node.get("properties", {}).items():
            walk(sub, f"{path}.{key}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(openapi_schema(), "")


def test_example_pipeline_is_valid(example_document: dict[str, Any]) -> None:
    validator().validate(example_document)


def test_defaults_are_valid_against_the_schema() -> None:
    full = apply_defaults(spec_schema(), copy.deepcopy(GOOGLE))
    assert full["ingest"]["schedule"] == "0 1 * * *"
    assert full["timescaledb"]["image"].startswith("timescale/timescaledb-ha:")
    validator().validate(pipeline(full))


@pytest.mark.parametrize(
    ("spec", "path"),
    [
        ({"ingest": {"schedule": "daily"}}, ["spec", "ingest", "schedule"]),
        ({"ingest": {"source": {"type": "fitbit"}}}, ["spec", "ingest", "source", "type"]),
        ({"api": {"replicas": "two"}}, ["spec", "api", "replicas"]),
        ({"api": {"service": {"type": "Ingress"}}}, ["spec", "api", "service", "type"]),
        (
            {"timescaledb": {"resources": {"requests": {"memory": "2 GB"}}}},
            ["spec", "timescaledb", "resources", "requests", "memory"],
        ),
        (
            {"monitoring": {"serviceMonitor": {"interval": "half a minute"}}},
            ["spec", "monitoring", "serviceMonitor", "interval"],
        ),
        (
            {"monitoring": {"thresholds": {"apiErrorRatio": 2}}},
            ["spec", "monitoring", "thresholds", "apiErrorRatio"],
        ),
        ({"dashbord": {}}, ["spec"]),
    ],
)
def test_broken_pipelines_are_refused_by_the_schema(spec: dict[str, Any], path: list[str]) -> None:
    errors = list(validator().iter_errors(pipeline(spec)))
    assert errors, "the schema accepted a broken pipeline"
    assert [list(e.absolute_path) for e in errors] == [path]


def test_a_pipeline_without_spec_is_refused() -> None:
    document = pipeline({})
    del document["spec"]
    assert not validator().is_valid(document)


def test_printer_columns_show_ready_schedule_last_ingest_and_age() -> None:
    columns = crd_manifest()["spec"]["versions"][0]["additionalPrinterColumns"]
    assert [c["name"] for c in columns] == ["Ready", "Schedule", "Last Ingest", "Result", "Age"]
    assert columns[0]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'


def test_the_volume_has_transition_rules_against_a_new_class_or_a_smaller_size() -> None:
    from fitpipe_operator.crd import spec_schema

    storage = spec_schema()["properties"]["timescaledb"]["properties"]["storage"]
    rules = {r["message"]: r["rule"] for r in storage["x-kubernetes-validations"]}
    assert all("oldSelf" in rule for rule in rules.values())
    assert any("storageClassName cannot change" in m for m in rules)
    assert any("cannot shrink" in m for m in rules)
