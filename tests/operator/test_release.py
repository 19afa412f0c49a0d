"""Pinning a release's images (docs/kubernetes.md "Release builds"): images.json, the chart's CRD and
values.yaml and the docs' reference move together, and a pinned CRD makes `spec: {}` run digests; the
chart's template uses repository@digest."""

from __future__ import annotations

import shutil
from pathlib import Path

import helm_python as helm
import pytest
import yaml

from fitpipe.errors import InputError
from fitpipe_operator.images import IMAGES_FILE, defaults
from fitpipe_operator.release import VALUES_FILE, Targets, pin_images, values_digest
from tests.operator.conftest import CHART, REPO

DOCS_FILE = REPO / "docs" / "kubernetes.md"

DIGEST = "sha256:" + "0123456789abcdef" * 4
TIMESCALEDB = "timescale/timescaledb-ha:pg15@sha256:" + "fedcba9876543210" * 4


@pytest.fixture
def copies(tmp_path: Path) -> Targets:
    targets = Targets(
        images=tmp_path / "images.json",
        crd=tmp_path / "crd.yaml",
        values=tmp_path / "values.yaml",
        docs=tmp_path / "kubernetes.md",
    )
    shutil.copy(IMAGES_FILE, targets.images)
    shutil.copy(VALUES_FILE, targets.values)
    shutil.copy(DOCS_FILE, targets.docs)
    return targets


def test_development_defaults_are_tags_and_the_chart_agrees() -> None:
    assert defaults().digest == "" and values_digest(VALUES_FILE.read_text()) == ""


def test_pinning_writes_every_default_consistently(copies: Targets) -> None:
    pinned = pin_images(digest=DIGEST, timescaledb=TIMESCALEDB, targets=copies)
    assert (pinned.digest, pinned.timescaledb) == (DIGEST, TIMESCALEDB)
    assert values_digest(copies.values.read_text()) == DIGEST
    assert yaml.safe_load(copies.values.read_text())["image"]["digest"] == DIGEST
    crd = yaml.safe_load(copies.crd.read_text())
    spec = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    assert spec["image"]["properties"]["digest"]["default"] == DIGEST
    assert spec["timescaledb"]["properties"]["image"]["default"] == TIMESCALEDB
    assert f'`"{DIGEST}"`' in copies.docs.read_text()
    # The rest of values.yaml (its comments) is untouched.
    before, after = VALUES_FILE.read_text().splitlines(), copies.values.read_text().splitlines()
    assert [b for b, a in zip(before, after, strict=True) if b != a] == ['  digest: ""']


def test_a_pinned_crd_runs_digests_for_an_empty_spec(
    copies: Targets, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin_images(digest=DIGEST, timescaledb=TIMESCALEDB, targets=copies)
    from fitpipe_operator import images
    from fitpipe_operator.render import render

    real = images.defaults
    monkeypatch.setattr("fitpipe_operator.crd.defaults", lambda: real(copies.images))
    manifests = render("trial-a", "trial-a", {"googleHealth": {"secretName": "g"}})
    api = next(m for m in manifests if m["metadata"]["name"] == "trial-a-api" and m["kind"] == "Deployment")
    assert api["spec"]["template"]["spec"]["containers"][0]["image"] == f"ghcr.io/fitpipe/fitpipe@{DIGEST}"
    database = next(m for m in manifests if m["kind"] == "StatefulSet")
    assert database["spec"]["template"]["spec"]["containers"][0]["image"] == TIMESCALEDB


@pytest.mark.parametrize(
    ("digest", "timescaledb", "field"),
    [
        ("sha256:abc", None, "--digest"),
        (None, "timescale/timescaledb-ha:pg15", "--timescaledb"),
        (None, "Timescale/HA@sha256:" + "0" * 64, "--timescaledb"),
    ],
)
def test_bad_pins_are_refused_and_nothing_is_written(
    copies: Targets, digest: str | None, timescaledb: str | None, field: str
) -> None:
    before = copies.images.read_text()
    with pytest.raises(InputError) as refused:
        pin_images(digest=digest, timescaledb=timescaledb, targets=copies)
    assert refused.value.field == field
    assert copies.images.read_text() == before and not copies.crd.exists()


def test_the_chart_runs_repository_at_digest_when_set() -> None:
    with helm.Chart.load(CHART) as chart:
        rendered = chart.render(
            {"image": {"digest": DIGEST, "tag": "9.9.9"}}, name="fitpipe", namespace="fitpipe-system"
        )
        docs = [
            d
            for path, text in rendered.items()
            if not path.endswith("NOTES.txt")
            for d in yaml.safe_load_all(text)
            if d and d.get("kind") == "Deployment"
        ]
        assert (
            docs[0]["spec"]["template"]["spec"]["containers"][0]["image"]
            == f"ghcr.io/fitpipe/fitpipe@{DIGEST}"
        )
        with pytest.raises(helm.HelmError):
            chart.render({"image": {"digest": "latest"}}, name="fitpipe", namespace="fitpipe-system")


def test_pinning_without_the_reference_to_update_refuses_before_writing(
    copies: Targets, tmp_path: Path
) -> None:
    before = copies.values.read_text()
    missing = Targets(images=copies.images, crd=copies.crd, values=copies.values, docs=tmp_path / "nope.md")
    with pytest.raises(InputError, match="nope.md: no such file") as raised:
        pin_images(digest=DIGEST, timescaledb=None, targets=missing)
    assert raised.value.hint == "run from the root of the fitpipe checkout, or pass --docs"
    assert copies.values.read_text() == before and not copies.crd.exists()
