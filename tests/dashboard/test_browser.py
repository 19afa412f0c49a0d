"""The dashboard in a real headless Chromium against the real API and database, a coordinator signed in:
the cohort grid sorts and filters, a click opens the participant, the range and the imputation toggle
change the chart and the numbers, Email reaches a real SMTP server, the pipeline page shows the failed run. No console errors. Each test
saves a screenshot of its page to docs/screenshots/."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
from selenium.webdriver.common.keys import Keys

from fitpipe.contracts import ParticipantListEntry
from fitpipe_dashboard.client import ApiClient
from tests.api.factories import body_of
from tests.dashboard.browser import dashboard_in_browser, figure, grid_users, screenshot, sign_in
from tests.dashboard.cohort import OFF, STUDY, WALK, local_day
from tests.dashboard.conftest import (
    ADMIN,
    BROWSER_FLAGS,
    CHROMIUM,
    COORDINATOR,
    PASSWORD,
    SCREENSHOTS,
    Stack,
    needs_browser,
)

pytestmark = [pytest.mark.db, pytest.mark.browser, needs_browser]


@contextmanager
def signed_in(stack: Stack, username: str) -> Iterator[Any]:
    """The dashboard in Chromium with `username` signed in; no console errors by the end."""
    assert CHROMIUM is not None
    with dashboard_in_browser(stack.api_url, CHROMIUM, BROWSER_FLAGS) as br:
        br.driver.get(br.server_url + "/login")
        sign_in(br, username, PASSWORD)
        br.wait_for_element("#signed-in-user")
        yield br
        errors = [e for e in br.get_logs() if e.get("level") == "SEVERE"]
        assert errors == [], f"browser console errors: {errors}"


@pytest.fixture
def browser(stack: Stack) -> Iterator[Any]:
    """The dashboard with the study's coordinator signed in."""
    with signed_in(stack, COORDINATOR) as br:
        yield br


@pytest.fixture
def admin_browser(stack: Stack) -> Iterator[Any]:
    with signed_in(stack, ADMIN) as br:
        yield br


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = check()
        except Exception:  # the page is still rendering: elements come and go
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _x_range(browser: Any) -> list[str]:
    """The local times the heart-rate chart spans, as ISO text."""
    return [str(x).replace(" ", "T") for x in figure(browser, "hr-graph")["layout"]["xaxis"]["range"]]


def _message(browser: Any, graph_id: str) -> str:
    """The text an empty or failed figure shows instead of data."""
    return str(figure(browser, graph_id)["layout"]["annotations"][0]["text"])


def _api_participants(stack: Stack) -> list[ParticipantListEntry]:
    with ApiClient(stack.api_url, stack.token) as client:
        return client.participants(STUDY).participants


def _open_cohort(browser: Any) -> None:
    browser.driver.get(browser.server_url + "/")
    wait_until(lambda: len(grid_users(browser)) == 4, "the four participants in the grid")


def _summary(browser: Any) -> str:
    return str(browser.find_element("#hr-summary").text)


def _minutes(summary: str) -> int:
    match = re.search(r"([\d,]+) minutes with data", summary)
    assert match, summary
    return int(match.group(1).replace(",", ""))


def _set_range(browser: Any, start: str, end: str) -> None:
    inputs = [
        browser.find_element(f"#page-participant input.dash-datepicker-{which}-date")
        for which in ("start", "end")
    ]
    for element, value in zip(inputs, (start, end), strict=True):
        element.send_keys(Keys.CONTROL, "a")
        element.send_keys(value)
        element.send_keys(Keys.TAB)


def test_cohort_sorts_filters_and_opens_a_participant_whose_chart_follows_range_and_imputation(
    stack: Stack, browser: Any
) -> None:
    people = _api_participants(stack)
    _open_cohort(browser)
    counts = browser.find_element("#count-flagged").text
    assert counts == str(sum(1 for p in people if p.flags))
    # the flags of each participant are the API's, as badges
    p02_flags = browser.driver.find_elements_by_css_selector('.ag-row[row-id="trial/P02"] .badge')
    expected = next(p.flags for p in people if p.user_id == "P02")
    assert sorted(b.get_attribute("class").split("badge-")[1] for b in p02_flags) == sorted(expected)
    screenshot(browser, SCREENSHOTS / "cohort.png")

    browser.find_element('.ag-header-cell[col-id="adherence_pct"] .ag-header-cell-label').click()
    by_adherence = [
        p.user_id for p in sorted(people, key=lambda p: (p.adherence.adherence_pct or 0, p.user_id))
    ]
    wait_until(lambda: grid_users(browser) == by_adherence, f"rows sorted by adherence {by_adherence}")
    browser.find_element('.ag-header-cell[col-id="adherence_pct"] .ag-header-cell-label').click()
    wait_until(lambda: grid_users(browser) == by_adherence[::-1], "rows sorted by adherence, descending")

    browser.find_element("#cohort-filter").send_keys("P02")
    wait_until(lambda: grid_users(browser) == ["P02"], "only P02 after filtering")
    browser.clear_input("#cohort-filter")
    wait_until(lambda: len(grid_users(browser)) == 4, "every row back")

    browser.find_element(
        '.ag-pinned-left-cols-container .ag-row[row-id="trial/P01"] [col-id="user_id"]'
    ).click()
    wait_until(lambda: browser.find_element("#participant-title").text == "P01 · study trial", "P01's page")
    week = wait_until(lambda: "(auto)" in _summary(browser) and _summary(browser), "the heart-rate summary")
    assert "hourly (auto)" in week and "America/New_York" in week

    day = local_day(stack.participants["P01"], 1)
    _set_range(browser, day, day)
    # the two dates are typed one after the other: wait for the chart of that one day, not of the step between
    next_day = (date.fromisoformat(day) + timedelta(days=1)).isoformat()
    wait_until(
        lambda: _x_range(browser) == [f"{day}T00:00:00", f"{next_day}T00:00:00"], f"the chart of {day}"
    )
    observed = wait_until(
        lambda: "per minute (auto)" in _summary(browser) and _summary(browser),
        "minute heart rate for one day",
    )
    assert "(observed values only)" in observed
    fig = figure(browser, "hr-graph")
    assert fig["layout"]["xaxis"]["title"]["text"] == "participant's local time (America/New_York)"
    assert fig["layout"]["yaxis"]["title"]["text"] == "heart rate (bpm)"
    assert not any(t.get("name") == "imputed" for t in fig["data"])
    off_start = f"{day} {OFF[0] // 60:02d}:{OFF[0] % 60:02d}"
    shaded = [str(s["x0"]).replace("T", " ") for s in fig["layout"]["shapes"]]
    assert any(x.startswith(off_start) for x in shaded), f"non-wear from {off_start} not shaded: {shaded}"

    browser.find_element("#hr-impute input").click()
    filled = wait_until(
        lambda: "imputed, included" in _summary(browser) and _summary(browser),
        "the summary with imputed values",
    )
    measured = _minutes(observed)
    assert f"{measured + WALK[1]:,} minutes with data ({WALK[1]} imputed, included)" in filled
    assert measured == 24 * 60 - WALK[1] - OFF[1]
    imputed = wait_until(
        lambda: [t for t in figure(browser, "hr-graph")["data"] if t.get("name") == "imputed"],
        "imputed points in the chart",
    )
    assert len(imputed[0]["x"]) == WALK[1]
    walk_start = f"{day}T{WALK[0] // 60:02d}:{WALK[0] % 60:02d}"
    assert str(imputed[0]["x"][0]).replace(" ", "T").startswith(walk_start)
    wait_until(lambda: figure(browser, "trend-rhr").get("data"), "the resting heart rate trend")
    assert figure(browser, "trend-rhr")["layout"]["yaxis"]["title"]["text"] == "resting heart rate (bpm)"
    screenshot(browser, SCREENSHOTS / "participant.png")

    browser.find_element("#hr-impute input").click()
    wait_until(lambda: _summary(browser) == observed, "the observed-only numbers again")


def test_email_from_the_grid_reaches_the_participant_and_the_cooldown_skips_them_next_time(
    stack: Stack, browser: Any
) -> None:
    people = {p.user_id: p for p in _api_participants(stack)}
    _open_cohort(browser)
    browser.find_element('.ag-row[row-id="trial/P02"] [col-id="contact"]').click()
    preview = wait_until(lambda: browser.find_element("#contact-recipients").text, "the preview")
    assert "p02@example.org" in preview and "will be emailed" in preview
    assert stack.inbox.received == []  # a preview sends nothing
    browser.find_element("#contact-confirm").click()
    wait_until(lambda: browser.find_element("#contact-done"), "the result")
    assert "sent" in browser.find_element("#contact-outcomes").text
    [(rcpt, message)] = stack.inbox.received
    assert rcpt == ["p02@example.org"]
    assert message["X-Fitpipe-Reason"] == ",".join(people["P02"].flags)
    assert "participant P02" in body_of(message)
    browser.find_element("#contact-close").click()
    wait_until(
        lambda: (
            "cooldown" in browser.find_element('.ag-row[row-id="trial/P02"] [col-id="last_contacted_h"]').text
        ),
        "P02 marked as contacted within the cooldown",
    )

    browser.find_element("#email-flagged").click()
    wait_until(
        lambda: "skipped" in browser.find_element('#contact-recipients tr[data-user="P02"]').text,
        "P02 skipped in the preview (cooldown)",
    )
    screenshot(browser, SCREENSHOTS / "contact.png")
    browser.find_element("#contact-confirm").click()
    wait_until(lambda: browser.find_element("#contact-done"), "the batch result")
    flagged = sorted(u for u, p in people.items() if p.flags and u != "P02")
    assert sorted(r[0][0] for r in stack.inbox.received[1:]) == [f"{u.lower()}@example.org" for u in flagged]
    assert "refused" in browser.find_element('#contact-outcomes tr[data-user="P02"] .outcome').get_attribute(
        "class"
    )


def test_pipeline_page_shows_an_admin_the_runs_the_failed_runs_error_and_quarantine_by_reason(
    stack: Stack, admin_browser: Any
) -> None:
    browser = admin_browser
    browser.driver.get(browser.server_url + "/pipeline")
    wait_until(lambda: figure(browser, "quarantine-graph").get("data") is not None, "the pipeline page")
    screenshot(browser, SCREENSHOTS / "pipeline.png")
    runs = wait_until(lambda: browser.find_element("#runs").text, "the runs table")
    assert "failed" in runs and "success" in runs
    assert "not readable" in browser.find_element("#error-list").text
    bars = wait_until(lambda: figure(browser, "quarantine-graph").get("data"), "the quarantine chart")
    assert sum(bars[0]["x"]) == 3  # the three out-of-range heart rates of P02


def test_an_api_error_is_a_message_on_the_page_not_a_blank_graph(stack: Stack, browser: Any) -> None:
    browser.driver.get(browser.server_url + "/participant/trial/NOPE")
    error = wait_until(lambda: browser.find_element("#participant-error").text, "the error message")
    assert "NOPE" in error and "404" in error
    text = wait_until(
        lambda: "could not be loaded" in _message(browser, "hr-graph") and _message(browser, "hr-graph"),
        "the chart's message",
    )
    assert "NOPE" in text
    assert "could not be loaded" in _message(browser, "trend-rhr")


def test_a_coordinator_sees_that_a_run_failed_but_not_its_error_details(stack: Stack, browser: Any) -> None:
    browser.driver.get(browser.server_url + "/pipeline")
    errors = wait_until(lambda: browser.find_element("#error-list").text, "the error list")
    assert "1 error(s); details are visible to admins" in errors
    assert "not readable" not in errors
