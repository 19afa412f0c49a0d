"""status_update(): observedGeneration moves only with a reconciled pass, errors are listed and cleared,
and a condition's lastTransitionTime stays while its status does."""

from __future__ import annotations

from fitpipe_operator.status import condition, status_update


def test_observed_generation_moves_only_when_the_pass_reconciled() -> None:
    failed = status_update(
        {}, [condition("Reconciled", False, "ApplyFailed", "x")], now="t1", generation=3, reconciled=False
    )
    assert "observedGeneration" not in failed
    assert failed["conditions"][1]["observedGeneration"] == 3  # the attempt is dated, the spec is not claimed
    done = status_update(
        failed, [condition("Reconciled", True, "Applied", "y")], now="t2", generation=3, reconciled=True
    )
    assert done["observedGeneration"] == 3


def test_errors_are_listed_then_cleared() -> None:
    listed = status_update(
        {}, [], now="t", generation=1, reconciled=False, errors=["CronJob/a: exceeded quota"]
    )
    assert listed["errors"] == ["CronJob/a: exceeded quota"]
    cleared = status_update(listed, [], now="t", generation=1, reconciled=True, errors=[])
    assert cleared["errors"] is None  # null in a merge patch removes the field


def test_transition_time_stays_while_the_status_does() -> None:
    first = status_update(
        {}, [condition("ApiReady", False, "Unavailable", "0/2")], now="t1", generation=1, reconciled=True
    )
    same = status_update(
        first, [condition("ApiReady", False, "Unavailable", "0/2")], now="t2", generation=1, reconciled=True
    )
    flipped = status_update(
        same, [condition("ApiReady", True, "Available", "2/2")], now="t3", generation=1, reconciled=True
    )

    def api(status: dict) -> dict:
        return next(c for c in status["conditions"] if c["type"] == "ApiReady")

    assert api(first)["lastTransitionTime"] == api(same)["lastTransitionTime"] == "t1"
    assert api(flipped)["lastTransitionTime"] == "t3"
