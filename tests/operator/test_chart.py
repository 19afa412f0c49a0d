"""The Helm chart, linted and rendered by Helm's own engine (helm-python-sdk): strict lint, the operator's
least-privilege RBAC, namespaced installs, the optional example pipeline, values.schema.json."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import helm_python as helm
import jsonschema
import kubernetes_validate
import pytest
import yaml

from fitpipe_operator.cluster import PLURALS, READ_ONLY
from fitpipe_operator.crd import jsonschema_of, openapi_schema
from fitpipe_operator.handlers import WATCHED_CHILDREN
from tests.operator.conftest import CHART


@pytest.fixture(scope="module")
def chart() -> Iterator[helm.Chart]:
    with helm.Chart.load(CHART) as loaded:
        yield loaded


def objects(chart: helm.Chart, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    rendered = chart.render(values or {}, name="fitpipe", namespace="fitpipe-system")
    return [
        doc
        for path, text in sorted(rendered.items())
        if not path.endswith("NOTES.txt")
        for doc in yaml.safe_load_all(text)
        if doc
    ]


def of_kind(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["kind"] == kind]


def test_chart_lints_clean_in_strict_mode() -> None:
    report = helm.lint(CHART, strict=True)
    assert report["errors"] == [] and report["messages"] == [], report


def test_lint_reports_values_the_schema_refuses() -> None:
    report = helm.lint(CHART, {"statusInterval": "often"}, strict=True)
    assert report["errors"] or any(m["severity"] >= 2 for m in report["messages"])


def test_rendered_objects_pass_kubernetes_strict_schemas(chart: helm.Chart) -> None:
    docs = objects(chart, {"watchNamespaces": ["trial-a"]}) + objects(chart)
    assert {d["kind"] for d in docs} == {
        "Deployment",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "RoleBinding",
    }
    for doc in docs:
        kubernetes_validate.validate(doc, kubernetes_validate.latest_version(), strict=True)


def test_operator_watches_all_namespaces_by_default(chart: helm.Chart) -> None:
    docs = objects(chart)
    container = of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    assert container["args"][:3] == ["operator", "run", "--all-namespaces"]
    assert "--monitoring-labels=release=kube-prometheus-stack" in container["args"]
    assert container["image"] == "ghcr.io/fitpipe/fitpipe:0.1.0"
    binding = of_kind(docs, "ClusterRoleBinding")[0]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "fitpipe", "namespace": "fitpipe-system"}
    ]
    assert not of_kind(docs, "RoleBinding")


def test_namespaced_install_grants_rights_only_in_those_namespaces(chart: helm.Chart) -> None:
    docs = objects(chart, {"watchNamespaces": ["trial-a", "trial-b"]})
    assert not of_kind(docs, "ClusterRoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in of_kind(docs, "RoleBinding")) == ["trial-a", "trial-b"]
    args = of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--namespace=trial-a" in args and "--namespace=trial-b" in args and "--all-namespaces" not in args


def grants(rules: list[dict[str, Any]]) -> dict[tuple[str, str], set[str]]:
    out: dict[tuple[str, str], set[str]] = {}
    for rule in rules:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                out.setdefault((group, resource), set()).update(rule["verbs"])
    return out


def test_rbac_grants_exactly_what_the_operator_uses(chart: helm.Chart) -> None:
    role = of_kind(objects(chart), "ClusterRole")[0]
    expected: dict[tuple[str, str], set[str]] = {
        ("fitpipe.io", "fitbitpipelines"): {"get", "list", "watch", "patch"},
        ("fitpipe.io", "fitbitpipelines/status"): {"patch"},
        # blockOwnerDeletion on children, under OwnerReferencesPermissionEnforcement
        ("fitpipe.io", "fitbitpipelines/finalizers"): {"update"},
        ("", "events"): {"create"},
        # Generated once; no Secret anywhere is ever read, listed or changed.
        ("", "secrets"): {"create"},
        ("", "persistentvolumeclaims"): {"get", "patch"},
    }
    for api_version, kind in PLURALS:
        if kind == "Secret" or (api_version, kind) in READ_ONLY:
            continue
        group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
        expected[(group, PLURALS[(api_version, kind)])] = {"get", "list", "create", "patch", "delete"}
    for group, _, plural in WATCHED_CHILDREN:
        expected[(group, plural)].add("watch")
    assert grants(role["rules"]) == expected
    assert not any("*" in rule["verbs"] or "*" in rule["resources"] for rule in role["rules"])


def test_monitoring_labels_are_passed_to_the_operator(chart: helm.Chart) -> None:
    docs = objects(chart, {"monitoringLabels": {"release": "kps", "team": "trials"}})
    args = of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--monitoring-labels=release=kps,team=trials" in args
    docs = objects(chart, {"monitoringLabels": None})
    args = of_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--monitoring-labels=" in args


def test_example_pipeline_is_installed_only_when_asked(chart: helm.Chart) -> None:
    assert not of_kind(objects(chart), "FitbitPipeline")
    docs = objects(chart, {"examplePipeline": {"enabled": True, "namespace": "trial-a"}})
    (pipeline,) = of_kind(docs, "FitbitPipeline")
    assert pipeline["metadata"]["namespace"] == "trial-a"
    jsonschema.Draft202012Validator(jsonschema_of(openapi_schema())).validate(pipeline)


def test_notes_say_what_to_apply_next(chart: helm.Chart) -> None:
    notes = chart.render({}, name="fitpipe", namespace="fitpipe-system")["fitpipe/templates/NOTES.txt"]
    assert "kubectl apply -f examples/fitbitpipeline.yaml" in notes
    assert "--for=condition=Ready" in notes


@pytest.mark.parametrize(
    "values",
    [
        {"statusInterval": "often"},
        {"statusInterval": 1},
        {"watchNamespaces": "trial-a"},
        {"watchNamespaces": ["Trial_A"]},
        {"image": {"pullPolicy": "Sometimes"}},
        {"replicaCount": 2},
        {"resources": {"requests": {"memory": "lots"}}},
        {"examplePipeline": {"enabled": "yes"}},
        {"monitoringLabels": {"release": "not a label value"}},
        {"monitoringLabels": {"bad key": "x"}},
    ],
)
def test_values_schema_refuses_bad_values(chart: helm.Chart, values: dict[str, Any]) -> None:
    with pytest.raises(helm.HelmValuesError):
        chart.validate_schema(chart.merge_values(values))
    with pytest.raises(helm.HelmError):
        chart.render(values, name="fitpipe", namespace="fitpipe-system")


def test_values_schema_accepts_the_defaults(chart: helm.Chart) -> None:
    chart.validate_schema(chart.merge_values({}))
