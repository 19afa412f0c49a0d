"""fitpipe's own parsers read the synthetic cohort completely: every file known, every sample kept."""

from __future__ import annotations

import collections
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from fitpipe_ingest.records import ParseContext
from fitpipe_ingest.sources.registry import detect_source
from fitpipe_ingest.synth.cohort import CohortResult
from fitpipe_ingest.tree import DirectoryTree


def _parse(
    folder: Path, timezone: str
) -> tuple[str, list[str], collections.Counter[str], collections.Counter[str], int]:
    tree = DirectoryTree(folder)
    source = detect_source(tree)
    plan = source.plan(tree)
    samples: collections.Counter[str] = collections.Counter()
    rejected: collections.Counter[str] = collections.Counter()
    sleeps = 0
    for path in plan.files:
        parsed = source.parse(tree, path, ParseContext(timezone=ZoneInfo(timezone)))
        for batch in parsed.batches:
            samples[batch.metric] += len(batch)
        rejected.update(r.kind for r in parsed.rejected)
        sleeps += len(parsed.sleep)
    return source.name, plan.unknown, samples, rejected, sleeps


@pytest.mark.parametrize("fixture", ["takeout", "wearipedia"])
def test_every_file_is_read_and_every_heart_rate_sample_kept(
    fixture: str, request: pytest.FixtureRequest
) -> None:
    out, result = request.getfixturevalue(fixture)
    assert isinstance(result, CohortResult)
    for written in result.participants:
        profile = next(p for p in result.profiles if p.participant_id == written.participant_id)
        name, unknown, samples, rejected, sleeps = _parse(out / written.participant_id, profile.timezone)
        assert name == fixture and unknown == []
        assert samples["heart_rate"] == written.samples
        assert samples["steps"] > 0 and samples["resting_heart_rate"] > 0
        # the only records set aside are the 50.0 SpO2 minutes the real export writes too
        assert set(rejected) <= {"sentinel_value"}
        if fixture == "takeout" and profile.kind == "excellent":
            assert sleeps >= 1 and samples["hrv_rmssd"] > 0 and samples["spo2"] > 0
