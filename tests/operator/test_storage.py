"""What a new volume size or class means for the database StatefulSet: which claim templates grow, and
which changes no claim can follow (checked before anything is touched; the cluster tests roll it out)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from fitpipe_operator.errors import ClusterError
from fitpipe_operator.render import render
from fitpipe_operator.storage import claim_changes
from tests.operator.conftest import GOOGLE


def statefulset(storage: dict[str, Any]) -> dict[str, Any]:
    spec = {**GOOGLE, "timescaledb": {"storage": storage}}
    return copy.deepcopy(next(m for m in render("trial-a", "trial-a", spec) if m["kind"] == "StatefulSet"))


def test_a_bigger_size_grows_the_data_claim() -> None:
    assert claim_changes(statefulset({"size": "20Gi"}), statefulset({"size": "25Gi"})) == {"data": "25Gi"}


def test_the_same_size_written_otherwise_is_no_change() -> None:
    assert claim_changes(statefulset({"size": "1Gi"}), statefulset({"size": "1024Mi"})) == {}


def test_a_smaller_size_is_refused() -> None:
    with pytest.raises(ClusterError, match="cannot shrink"):
        claim_changes(statefulset({"size": "20Gi"}), statefulset({"size": "10Gi"}))


@pytest.mark.parametrize(("before", "after"), [("standard", "fast"), (None, "fast"), ("fast", None)])
def test_another_storage_class_is_refused(before: str | None, after: str | None) -> None:
    def storage(name: str | None) -> dict[str, Any]:
        return {"size": "20Gi", **({"storageClassName": name} if name else {})}

    with pytest.raises(ClusterError, match="StorageClass cannot change"):
        claim_changes(statefulset(storage(before)), statefulset(storage(after)))
