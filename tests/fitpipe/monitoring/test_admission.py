"""The admission collector shows each gate's slots (in use, free) and its queue as they are at the scrape, and
a running API exposes them for both of its gates."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from fitpipe.dbroles import API
from fitpipe.monitoring.admission import AdmissionCollector
from fitpipe.settings import Settings
from fitpipe_api.gate import Gate
from fitpipe_api.main import create_app
from tests.conftest import role_url


def _gauges(registry: CollectorRegistry, gate: str) -> tuple[float | None, float | None, float | None]:
    def value(name: str, labels: dict[str, str]) -> float | None:
        return registry.get_sample_value(name, labels)

    return (
        value("fitpipe_api_admission_slots", {"gate": gate, "state": "in_use"}),
        value("fitpipe_api_admission_slots", {"gate": gate, "state": "free"}),
        value("fitpipe_api_admission_waiting", {"gate": gate}),
    )


def test_slots_and_waiters_are_counted_as_they_are_at_the_scrape() -> None:
    requests, exports = Gate("request", 2, 5.0, 1), Gate("export", 1, 5.0, 1)
    registry = CollectorRegistry()
    registry.register(AdmissionCollector([requests, exports]))
    assert _gauges(registry, "request") == (0, 2, 0)
    assert _gauges(registry, "export") == (0, 1, 0)

    async def scenario() -> None:
        await requests.acquire()
        await requests.acquire()
        waiter = asyncio.create_task(requests.acquire())
        await asyncio.sleep(0)  # the third request queues
        assert _gauges(registry, "request") == (2, 0, 1)
        assert _gauges(registry, "export") == (0, 1, 0)
        requests.release()  # handed straight to the waiter: still 2 in use, nobody waiting
        await waiter
        assert _gauges(registry, "request") == (2, 0, 0)
        requests.release()
        requests.release()

    asyncio.run(scenario())
    assert _gauges(registry, "request") == (0, 2, 0)


def test_a_waiter_whose_wait_ran_out_is_not_counted() -> None:
    gate = Gate("request", 1, 0.01, 1)
    registry = CollectorRegistry()
    registry.register(AdmissionCollector([gate]))

    async def scenario() -> None:
        await gate.acquire()
        with pytest.raises(Exception, match="busy"):
            await gate.acquire()
        assert _gauges(registry, "request") == (1, 0, 0)
        gate.release()

    asyncio.run(scenario())
    assert _gauges(registry, "request") == (0, 1, 0)


@pytest.mark.db
def test_the_api_exposes_both_gates_with_their_configured_slots(database_url: str) -> None:
    settings = Settings(_env_file=None, fitpipe_api_pool_size=3, fitpipe_api_export_slots=4)
    with TestClient(create_app(settings, url=role_url(database_url, API))) as client:
        text = client.get("/metrics").text
    assert 'fitpipe_api_admission_slots{gate="request",state="free"} 3.0' in text
    assert 'fitpipe_api_admission_slots{gate="request",state="in_use"} 0.0' in text
    assert 'fitpipe_api_admission_slots{gate="export",state="free"} 4.0' in text
    assert 'fitpipe_api_admission_waiting{gate="export"} 0.0' in text
