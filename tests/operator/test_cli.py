"""`fitpipe operator render|crd|reference` as a user runs them: exit codes and what they print."""

from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

from fitpipe.cli import cli
from fitpipe_operator.crd import crd_yaml
from fitpipe_operator.reference import reference_markdown
from fitpipe_operator.render import render_document
from tests.operator.conftest import EXAMPLE


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["operator", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_render_prints_every_child_as_one_yaml_stream() -> None:
    code, out, _ = run("render", "-f", str(EXAMPLE))
    assert code == 0
    documents = list(yaml.safe_load_all(out))
    assert documents == render_document(yaml.safe_load(EXAMPLE.read_text()))
    assert {d["metadata"]["namespace"] for d in documents} == {"trial-a"}


def test_render_reads_stdin_and_defaults_the_namespace() -> None:
    pipeline = "apiVersion: fitpipe.io/v1alpha1\nkind: FitbitPipeline\nmetadata: {name: demo}\nspec: {googleHealth: {secretName: g}}\n"
    code, out, _ = run("render", "-f", "-", "-n", "study-x", stdin=pipeline)
    assert code == 0
    assert {d["metadata"]["namespace"] for d in yaml.safe_load_all(out)} == {"study-x"}


def test_render_names_the_file_and_field_of_a_bad_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(
        "apiVersion: fitpipe.io/v1alpha1\nkind: FitbitPipeline\nmetadata: {name: demo}\nspec: {api: {replicas: -2}}\n"
    )
    code, out, err = run("render", "-f", str(path))
    assert code == 6 and out == ""
    assert f"file {path}" in err and "field spec.api.replicas" in err


def test_render_refuses_other_kinds(tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\n")
    code, _, err = run("render", "-f", str(path))
    assert code == 6 and "expected a FitbitPipeline, found 'Pod'" in err


def test_crd_prints_what_the_chart_ships() -> None:
    code, out, _ = run("crd")
    assert code == 0 and out == crd_yaml()


def test_reference_prints_the_generated_markdown() -> None:
    code, out, _ = run("reference")
    assert code == 0 and out == reference_markdown()


def test_run_needs_a_namespace_choice() -> None:
    code, _, err = run("run")
    assert code == 2 and "--all-namespaces" in err


def test_render_takes_the_monitoring_labels_the_chart_passes() -> None:
    pipeline = "apiVersion: fitpipe.io/v1alpha1\nkind: FitbitPipeline\nmetadata: {name: demo}\nspec: {googleHealth: {secretName: g}}\n"
    code, out, _ = run("render", "-f", "-", "--monitoring-labels", "release=kps,team=trials", stdin=pipeline)
    assert code == 0
    (monitor,) = [d for d in yaml.safe_load_all(out) if d["kind"] == "ServiceMonitor"]
    assert (
        monitor["metadata"]["labels"]["release"] == "kps"
        and monitor["metadata"]["labels"]["team"] == "trials"
    )
    code, _, err = run("render", "-f", "-", "--monitoring-labels", "release", stdin=pipeline)
    assert code == 2 and "'release' is not key=value" in err


def test_render_honours_the_generated_secrets_of_a_pipelines_status() -> None:
    pipeline = (
        "apiVersion: fitpipe.io/v1alpha1\nkind: FitbitPipeline\nmetadata: {name: demo}\n"
        "spec: {googleHealth: {secretName: g}}\nstatus: {generatedSecrets: {demo-db-api: 2}}\n"
    )
    code, out, _ = run("render", "-f", "-", stdin=pipeline)
    assert code == 0
    (api,) = [
        d
        for d in yaml.safe_load_all(out)
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "demo-api"
    ]
    assert "fitpipe.io/config-checksum" in api["spec"]["template"]["metadata"]["annotations"]


def test_admin_pod_prints_a_pod_that_passes_pod_security_restricted() -> None:
    code, out, _ = run("admin-pod", "-f", str(EXAMPLE), "--seconds", "600")
    assert code == 0
    pod = yaml.safe_load(out)
    assert (pod["kind"], pod["metadata"]["name"], pod["metadata"]["namespace"]) == (
        "Pod",
        "trial-a-admin",
        "trial-a",
    )
    assert pod["spec"]["activeDeadlineSeconds"] == 600
    (container,) = pod["spec"]["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert pod["spec"]["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}


def test_admin_pod_names_the_field_of_a_bad_pipeline() -> None:
    pipeline = "apiVersion: fitpipe.io/v1alpha1\nkind: FitbitPipeline\nmetadata: {name: demo}\nspec: {api: {replicas: -2}}\n"
    code, out, err = run("admin-pod", "-f", "-", stdin=pipeline)
    assert code == 6 and out == "" and "field spec.api.replicas" in err
