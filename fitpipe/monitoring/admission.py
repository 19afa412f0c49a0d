"""A Prometheus collector for the API's admission gates (request and export slots), read at each scrape.

The gates queue requests before they take a pooled connection, so under load the queue is here, not in the
pool (whose waiting gauge then stays at 0). A slot held with no request running (one lost) shows as in_use
that never falls back to 0 on an idle server.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from fitpipe.monitoring.metrics import describe, family

__all__ = ["AdmissionCollector", "Admission"]

_NAMES = ("fitpipe_api_admission_slots", "fitpipe_api_admission_waiting")


class Admission(Protocol):
    """What a gate shows: its name (`request`, `export`), its slots, those taken, and who waits for one."""

    @property
    def name(self) -> str: ...
    @property
    def slots(self) -> int: ...
    @property
    def in_use(self) -> int: ...
    @property
    def waiting(self) -> int: ...


class AdmissionCollector(Collector):
    """Exports fitpipe_api_admission_slots{gate, state=in_use|free} and fitpipe_api_admission_waiting{gate}."""

    def __init__(self, gates: Iterable[Admission]) -> None:
        self._gates = tuple(gates)

    def describe(self) -> Iterator[Metric]:
        return describe(_NAMES)

    def collect(self) -> Iterator[Metric]:
        slots = family("fitpipe_api_admission_slots").gauge()
        waiting = family("fitpipe_api_admission_waiting").gauge()
        for gate in self._gates:
            in_use = gate.in_use
            slots.add_metric([gate.name, "in_use"], in_use)
            slots.add_metric([gate.name, "free"], max(gate.slots - in_use, 0))
            waiting.add_metric([gate.name], gate.waiting)
        yield slots
        yield waiting
