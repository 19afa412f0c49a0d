"""The cohort grid's columns are CohortRow's fields (fitpipe_dashboard/layout/cohort.py): every column id,
tooltip and `params.data.<field>` of its scripts names a field of the row model, a wrong name is refused
when the layout is built, and the rows the page sends are exactly that model's fields."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from fitpipe_dashboard.callbacks.cohort import render_cohort
from fitpipe_dashboard.cohort import CohortRow, row_data
from fitpipe_dashboard.layout.cohort import COLUMNS, ROW_ID, CellClicked, cohort_page, column, script
from tests.dashboard.answers import participant_json, participants_answer

FIELDS = set(CohortRow.model_fields)


def test_every_column_tooltip_and_script_of_the_grid_names_a_row_field() -> None:
    assert {c["field"] for c in COLUMNS} <= FIELDS
    assert {c["tooltipField"] for c in COLUMNS if "tooltipField" in c} <= FIELDS
    grid = json.dumps(cohort_page().to_plotly_json(), default=lambda o: o.to_plotly_json())
    used = set(re.findall(r"params\.data\.(\w+)", grid))
    assert used <= FIELDS and {"flags", "days", "sleep_text", "in_cooldown", "study", "user_id"} <= used
    assert ROW_ID == {"function": "params.data.study + '/' + params.data.user_id"}


def test_a_column_or_script_naming_no_row_field_is_refused_when_the_layout_is_built() -> None:
    with pytest.raises(ValueError, match="'adherence', which is not a field of CohortRow"):
        column("adherence", "adherence %", 100)
    with pytest.raises(ValueError, match="'flag_list', which is not a field of CohortRow"):
        script("params.data.flag_list.includes('low_wear')")
    with pytest.raises(ValueError, match="'notes'"):
        column("flags", "flags", 100, tooltipField="notes")


def test_grid_rows_from_the_model_carry_exactly_the_row_fields() -> None:
    answer = participants_answer(
        participant_json("P01", last_contacted="2024-01-10T00:00:00Z"),
        participant_json(
            "P02",
            flags=["low_wear"],
            flag_details={"low_wear": {"message": "adherence 50 % is below 70 %", "pct": 50}},
        ),
        participant_json("X01", study="other"),
    )
    rows, counts = render_cohort(answer, "trial", None, cooldown_hours=24)
    sent = row_data(rows)
    assert [set(r) for r in sent] == [FIELDS, FIELDS]
    p01, p02 = sent
    assert (p01["last_contacted_h"], p01["in_cooldown"], p01["last_sync_h"]) == (12.0, True, 1.0)
    assert (p02["flags"], p02["flag_count"], p02["flag_notes"]) == (
        "low_wear",
        1,
        "adherence 50 % is below 70 %",
    )
    assert (counts.participants, counts.flagged, counts.syncing_today) == (2, 1, 2)
    assert answer.generated_at == datetime(2024, 1, 10, 12, tzinfo=UTC)  # "now" of the hours above


def test_a_cell_click_names_the_participant_and_anything_else_is_no_click() -> None:
    cell = CellClicked.of({"colId": "contact", "rowId": "trial/P/01", "value": "Email", "rowIndex": 3})
    assert cell is not None and cell.colId == "contact" and cell.participant == ("trial", "P/01")
    assert CellClicked.of(None) is None and CellClicked.of("P01") is None
    assert CellClicked.of({"colId": 3}) is None
    no_row = CellClicked.of({"colId": "flags"})
    assert no_row is not None and no_row.participant is None
