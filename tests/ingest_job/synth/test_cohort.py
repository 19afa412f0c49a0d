"""The cohort as a whole: determinism, participants.csv, the no-data participant, adherence spread."""

from __future__ import annotations

import csv
import hashlib
from datetime import date
from pathlib import Path

import pytest

from fitpipe.errors import ConflictError
from fitpipe_ingest.synth import cohort
from fitpipe_ingest.synth.cohort import CohortResult
from fitpipe_ingest.synth.profiles import plan_cohort

from .conftest import heart_rate_times, write


def _tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize("fmt", ["takeout", "wearipedia"])
def test_same_seed_writes_byte_identical_files(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "a", format=fmt, seed=11)
    write(tmp_path / "b", format=fmt, seed=11)
    first, second = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    assert len(first) > 6
    assert first == second


def test_another_seed_writes_other_data(tmp_path: Path) -> None:
    write(tmp_path / "a", seed=1, kinds=("excellent",) * 3)
    write(tmp_path / "b", seed=2, kinds=("excellent",) * 3)
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    shared = [name for name in a if name in b and "heart_rate-" in name]
    assert shared and all(a[name] != b[name] for name in shared)


def test_worker_processes_do_not_change_the_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cohort, "IN_PROCESS_PARTICIPANT_DAYS", 0)  # use workers even for this small cohort
    options = {"participants": 2, "days": 2, "kinds": ("excellent", "poor"), "seed": 5}
    write(tmp_path / "one", jobs=1, **options)
    write(tmp_path / "two", jobs=2, **options)
    assert _tree(tmp_path / "one") == _tree(tmp_path / "two")


def test_a_longer_range_leaves_the_earlier_days_as_they_were(tmp_path: Path) -> None:
    write(tmp_path / "short", days=2, kinds=("good",) * 3)
    write(tmp_path / "long", days=4, kinds=("good",) * 3)
    short, long = _tree(tmp_path / "short"), _tree(tmp_path / "long")
    daily = [name for name in short if "/heart_rate-" in name]
    assert daily and all(short[name] == long[name] for name in daily)
    assert len([n for n in long if "/heart_rate-" in n]) > len(daily)


def test_participants_csv_lists_everyone(takeout: tuple[Path, CohortResult]) -> None:
    out, result = takeout
    with open(out / "participants.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["participant_id", "timezone", "email", "profile", "enrolment_start"]
    assert [r["participant_id"] for r in rows] == ["P0001", "P0002", "P0003"]
    assert [r["email"] for r in rows] == ["p0001@example.org", "p0002@example.org", "p0003@example.org"]
    assert [r["timezone"] for r in rows] == [p.timezone for p in result.profiles]
    assert {r["enrolment_start"] for r in rows} == {"2024-01-01"}


def test_the_no_data_participant_is_listed_without_a_folder(takeout: tuple[Path, CohortResult]) -> None:
    out, result = takeout
    listed = (out / "participants.csv").read_text()
    assert "P0003,Europe/London,p0003@example.org,no_data," in listed
    assert not (out / "P0003").exists()
    assert sorted(p.name for p in out.iterdir() if p.is_dir()) == ["P0001", "P0002"]


def test_wear_read_back_from_the_files_spreads_from_excellent_to_poor(
    takeout: tuple[Path, CohortResult],
) -> None:
    out, result = takeout
    # a wear minute is a minute with at least one heart-rate sample (RAPIDS' definition)
    wear = {p: len({t // 60 for t in heart_rate_times(out / p)}) / (3 * 1440) for p in ("P0001", "P0002")}
    assert wear["P0001"] > 0.9  # excellent
    assert wear["P0002"] < 0.7  # poor: trips the adherence flag
    assert {r.participant_id: r.kind for r in result.participants} == {"P0001": "excellent", "P0002": "poor"}


def test_the_default_mix_spans_every_kind_and_trips_the_flags() -> None:
    profiles = plan_cohort(20, 30, date(2024, 1, 1), seed=0)
    kinds = [p.kind for p in profiles]
    assert {"excellent", "good", "fair", "poor", "dropout", "late_sync"} <= set(kinds)
    assert 1 <= kinds.count("no_data") <= 2
    assert any(p.sync_lag_days >= 3 for p in profiles)  # no upload in 48 h
    assert all(p.dropout_day is not None and p.dropout_day < 30 for p in profiles if p.kind == "dropout")
    assert all(50 <= p.resting_hr <= 80 for p in profiles)
    assert len({p.timezone for p in profiles}) == 5


def test_a_small_cohort_still_has_someone_without_data() -> None:
    assert [p.kind for p in plan_cohort(3, 3, date(2024, 1, 1), seed=4)].count("no_data") == 1


def test_a_second_run_into_the_same_folder_needs_overwrite(tmp_path: Path) -> None:
    write(tmp_path, participants=2, days=1)
    with pytest.raises(ConflictError, match="already holds a synthetic cohort"):
        write(tmp_path, participants=2, days=1)
    (tmp_path / "notes.txt").write_text("keep me")
    write(tmp_path, participants=1, days=1, overwrite=True, kinds=("good",))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P0001", "notes.txt", "participants.csv"]
