"""The figures and words of the dashboard, from API answers decoded with their models (fitpipe.contracts): gaps shaded and not bridged, imputed values
drawn apart and switching the summary, sleep stages, relative times, addresses."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from dash import html

from fitpipe.contracts import AdherenceAnswer, QuarantineAnswer, QuarantineRecord, Run, Series, SleepAnswer
from fitpipe_dashboard.callbacks.pipeline import latest_errors, runs_table
from fitpipe_dashboard.charts.gaps import MIN_GAP, band, break_at_gaps, find_gaps
from fitpipe_dashboard.charts.heart_rate import heart_rate_figure, summarize
from fitpipe_dashboard.charts.heatmap import wear_heatmap
from fitpipe_dashboard.charts.pipeline import quarantine_figure
from fitpipe_dashboard.charts.sleep import STAGE_ORDER, hypnogram_figure
from fitpipe_dashboard.paths import parse_path, participant_path
from fitpipe_dashboard.timefmt import ago, to_local
from tests.dashboard.answers import adherence_json


def _minutes(start: str, n: int, skip: range = range(0)) -> pd.DatetimeIndex:
    t = pd.date_range(start, periods=n, freq="1min")
    return t[~np.isin(np.arange(n), list(skip))]


def test_a_hole_longer_than_the_minimum_is_a_gap_and_a_short_one_is_not() -> None:
    t = _minutes("2024-01-01 00:00", 120, skip=range(30, 70))  # 40 minutes missing
    t = t.delete(5)  # one missing minute: not a gap
    gaps = find_gaps(t, t[0], t[-1] + pd.Timedelta(minutes=1), "1m")
    assert gaps == [(pd.Timestamp("2024-01-01 00:30"), pd.Timestamp("2024-01-01 01:10"))]
    assert MIN_GAP["1m"] > pd.Timedelta(minutes=1)


def test_the_line_breaks_at_a_gap_instead_of_bridging_it() -> None:
    t = _minutes("2024-01-01 00:00", 60, skip=range(20, 40))
    xs, ys = break_at_gaps(t, np.arange(t.size, dtype=float), "1m")
    assert xs.count(None) == 1 and ys[xs.index(None)] is None
    bx, by = band(t, np.zeros(t.size), np.ones(t.size), "1m")
    assert bx.count(None) == 1 and len(bx) == 2 * t.size + 1


def _series(impute: bool, **changes: Any) -> Series:
    t = _minutes("2024-01-01 05:00", 60)
    walk = (t >= pd.Timestamp("2024-01-01 05:20")) & (t < pd.Timestamp("2024-01-01 05:30"))
    v = np.full(t.size, 60.0)
    v[walk] = 100.0
    keep = ~walk | impute
    body: dict[str, Any] = {
        "user_id": "P01",
        "study": "trial",
        "metric": "heart_rate",
        "aggregation": "mean",
        "points": int(keep.sum()),
        "imputed_points": int(walk[keep].sum()),
        "timezone": "America/New_York",
        "granularity": "1m",
        "unit": "bpm",
        "start": "2024-01-01T05:00:00Z",
        "end": "2024-01-01T06:00:00Z",
        "t": [x.isoformat() + "Z" for x in t[keep]],
        "v": v[keep].tolist(),
        "imputed": walk[keep].tolist(),
        "min": [None] * int(keep.sum()),
        "max": [None] * int(keep.sum()),
    }
    if impute:
        body |= {"lo": [90.0 if w else None for w in walk], "hi": [110.0 if w else None for w in walk]}
    return Series.model_validate(body | changes)


def test_imputed_minutes_are_a_separate_trace_and_change_the_summary_only_when_included() -> None:
    with_imputed, observed = _series(True), _series(False)
    fig = heart_rate_figure(with_imputed, True, "empty")
    names = [trace.name for trace in fig.data]
    assert "imputed" in names and names.count("imputed") == 1
    assert len(next(tr for tr in fig.data if tr.name == "imputed").x) == 10
    included, plain = summarize(with_imputed, True), summarize(observed, False)
    assert (included.mean, plain.mean) == (np.mean([60.0] * 50 + [100.0] * 10), 60.0)
    assert included.imputed_minutes == 10 and "10 imputed, included" in included.text()
    assert "imputed" not in [tr.name for tr in heart_rate_figure(with_imputed, False, "empty").data]


def test_times_are_drawn_in_the_participants_local_time_with_the_zone_named_on_the_axis() -> None:
    fig = heart_rate_figure(_series(False), False, "empty")
    assert fig.layout.xaxis.title.text == "participant's local time (America/New_York)"
    assert fig.layout.yaxis.title.text == "heart rate (bpm)"
    instant = datetime(2024, 1, 1, 5, tzinfo=UTC)
    assert to_local([instant], "America/New_York")[0] == pd.Timestamp("2024-01-01 00:00")


def test_an_empty_range_says_why_instead_of_drawing_empty_axes() -> None:
    empty = _series(False, t=[], v=[], imputed=[], min=[], max=[], points=0)
    fig = heart_rate_figure(empty, False, "no heart rate on 2024-01-01 — device not worn")
    assert fig.layout.annotations[0].text == "no heart rate on 2024-01-01 — device not worn"


def test_the_hypnogram_follows_the_stages_and_says_which_route_it_needs_without_one() -> None:
    stages: dict[str, list[Any]] = {
        "start": ["2024-01-02T04:00:00Z", "2024-01-02T04:30:00Z", "2024-01-02T05:00:00Z"],
        "seconds": [1800, 1800, 600],
        "level": ["light", "deep", "rem"],
        "is_short": [False, False, False],
    }
    night = {"end": "2024-01-02T05:10:00Z", "minutes_asleep": 60, "minutes_awake": 10, "efficiency": 90}
    answer = SleepAnswer.model_validate(
        {
            "user_id": "P01",
            "study": "trial",
            "timezone": "UTC",
            "start_date": "2024-01-02",
            "end_date": "2024-01-02",
            "sessions": [
                night
                | {
                    "start": "2024-01-02T04:00:00Z",
                    "local_date": "2024-01-02",
                    "is_main_sleep": True,
                    "sleep_type": "stages",
                    "source": "takeout",
                    "stages": stages,
                }
            ],
        }
    )
    fig = hypnogram_figure(answer, "in January")
    drawn: Any = fig.data[0].y
    assert drawn is not None and list(drawn) == [STAGE_ORDER[s] for s in stages["level"] for _ in range(2)]
    assert "/api/v1/sleep" in hypnogram_figure(None, "in January").layout.annotations[0].text


def test_relative_times_read_as_a_manager_says_them() -> None:
    assert [ago(h) for h in (None, 0.001, 0.5, 3.2, 30, 72)] == [
        "never",
        "just now",
        "30 min ago",
        "3 h ago",
        "30 h ago",
        "3 d ago",
    ]


def test_a_participant_address_survives_any_id() -> None:
    path = participant_path("study one", "P/01 é")
    route = parse_path(path)
    assert (route.page, route.study, route.user_id) == ("participant", "study one", "P/01 é")
    assert parse_path("/pipeline").page == "pipeline" and parse_path(None).page == "cohort"


def test_the_runs_table_and_error_list_show_status_duration_and_the_errors() -> None:
    now = datetime(2024, 1, 2, 12, tzinfo=UTC)
    run = Run.model_validate(
        {
            "id": 7,
            "trigger": "daily",
            "status": "failed",
            "started_at": "2024-01-02T09:00:00Z",
            "finished_at": "2024-01-02T09:03:00Z",
            "seconds": 180.0,
            "participants": 3,
            "files": 12,
            "rows_new": 1500,
            "rows_quarantined": 2,
            "errors": 1,
            "error": "inbox unreadable",
            "rows_read": 1600,
            "rows_updated": 0,
            "rows_present": 98,
            "details": {},
            "studies": {},
        }
    )
    table = runs_table([run], now)
    assert isinstance(table, html.Table)
    cells = [td.children for td in table.children[1].children[0].children]
    assert cells[2] == "failed" and cells[3].startswith("3 h ago") and cells[4] == "3.0 min"
    record = QuarantineRecord.model_validate(
        {
            "id": 1,
            "source": "takeout",
            "raw": "400",
            "first_seen": "2024-01-02T11:00:00Z",
            "last_seen": "2024-01-02T11:00:00Z",
            "study": "trial",
            "user_id": "P02",
            "file": "hr.json",
            "record": "line 4",
            "field": "value",
            "reason": "400 is above 250 bpm",
        }
    )
    [listing] = latest_errors([run], [record], now)
    assert isinstance(listing, html.Ul) and isinstance(listing.children, list)
    texts = [
        li.children for li in listing.children if isinstance(li, html.Li) and isinstance(li.children, str)
    ]
    assert len(texts) == len(listing.children), "one line of text per item"
    assert texts[0].endswith("inbox unreadable") and "trial/P02" in texts[1] and "above 250" in texts[1]


def test_the_wear_heatmap_has_a_row_per_participant_and_a_column_per_local_day_from_the_model() -> None:
    answer = AdherenceAnswer.model_validate(
        adherence_json(
            ("P01", ["2024-01-08", "2024-01-09"], [95.5, 40.0], [True, False]),
            ("P02", ["2024-01-09"], [None], [False]),
            ("P03", [], [], []),  # no complete local day yet: no row
        )
    )
    fig = wear_heatmap(answer)
    heat = fig.data[0]
    assert list(heat.y) == ["P01", "P02"]
    assert [str(d) for d in heat.x] == ["2024-01-08", "2024-01-09"]
    assert [list(row) for row in heat.z] == [[95.5, 40.0], [None, None]]
    assert [list(row) for row in heat.text] == [["valid day", "not a valid day"], ["", "not a valid day"]]
    nobody = wear_heatmap(AdherenceAnswer.model_validate(adherence_json(("P03", [], [], []))))
    assert nobody.layout.annotations[0].text.startswith("no wear data yet")


def test_quarantine_bars_are_the_models_counts_by_reason_largest_on_top() -> None:
    answer = QuarantineAnswer.model_validate(
        {
            "records": [],
            "by_reason": [{"reason": "above 250 bpm", "count": 7}, {"reason": "bad timestamp", "count": 2}],
        }
    )
    bars = quarantine_figure(answer).data[0]
    assert (list(bars.y), list(bars.x)) == (["bad timestamp", "above 250 bpm"], [2, 7])
    empty = quarantine_figure(QuarantineAnswer(records=[], by_reason=[]))
    assert "nothing quarantined" in empty.layout.annotations[0].text
