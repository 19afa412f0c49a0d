"""The JSON printer writes Fitbit's export style."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fitpipe_ingest.synth.writers.fitbit_json import dumps

from .conftest import REAL_TAKEOUT


def test_dumps_writes_spaced_colons_and_joined_records() -> None:
    records = [
        {"dateTime": "07/16/25 17:00:01", "value": {"bpm": 59, "confidence": 3}},
        {"a": [{"b": 1.5}], "c": None},
    ]
    assert dumps(records) == (
        '[{\n  "dateTime" : "07/16/25 17:00:01",\n  "value" : {\n    "bpm" : 59,\n    "confidence" : 3\n  }\n},'
        '{\n  "a" : [{\n    "b" : 1.5\n  }],\n  "c" : null\n}]'
    )


@pytest.mark.skipif(
    not REAL_TAKEOUT.exists(),
    reason=f"the real Takeout export is not at {REAL_TAKEOUT} (set FITPIPE_SHARED_DATA)",
)
@pytest.mark.parametrize(
    "name",
    [
        "heart_rate-2025-07-17.json",
        "steps-2025-07-05.json",
        "sleep-2025-07-05.json",
        "resting_heart_rate-2024-10-18.json",
    ],
)
def test_dumps_reproduces_the_real_export_byte_for_byte(name: str) -> None:
    raw = (REAL_TAKEOUT / "Global Export Data" / name).read_text(encoding="utf-8")
    assert dumps(json.loads(raw)) == raw


def test_dumps_refuses_values_json_cannot_hold(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="cannot write"):
        dumps([{"when": tmp_path}])
