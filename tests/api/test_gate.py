"""The admission gate on its own (fitpipe_api.gate): slots, the bounded wait, first come first served while the
queue drains, newest first once it stands, and no slot lost to a timeout or a cancellation."""

from __future__ import annotations

import asyncio
import time

import pytest

from fitpipe_api.gate import Gate, ServerBusy


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _holders(gate: Gate, n: int) -> None:
    for _ in range(n):
        await gate.acquire()


def test_free_slots_are_taken_at_once_and_a_full_gate_says_busy_after_the_wait() -> None:
    async def scenario() -> float:
        gate = Gate("request", 2, wait=0.2, retry_after=3)
        await _holders(gate, 2)
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        with pytest.raises(ServerBusy) as busy:
            await gate.acquire()
        assert busy.value.retry_after == 3 and "all 2 request slots" in busy.value.message
        assert gate.in_use == 2 and gate.waiting == 0
        return loop.time() - t0

    waited = asyncio.run(scenario())
    assert 0.15 <= waited < 1.0


def test_a_released_slot_goes_to_the_oldest_waiter_while_the_queue_drains() -> None:
    async def scenario() -> list[int]:
        clock = Clock()
        gate = Gate("request", 1, wait=10, retry_after=1, clock=clock)
        await gate.acquire()
        order: list[int] = []

        async def waiter(i: int) -> None:
            await gate.acquire()
            order.append(i)

        tasks = []
        for i in range(3):
            tasks.append(asyncio.create_task(waiter(i)))
            await asyncio.sleep(0)
        for _ in range(3):
            clock.now += 1  # well under wait / 2 = 5 s
            gate.release()
            await asyncio.sleep(0)
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == [0, 1, 2]


def test_once_the_queue_stands_the_newest_waiter_is_served_first() -> None:
    async def scenario() -> list[int]:
        clock = Clock()
        gate = Gate("request", 1, wait=10, retry_after=1, clock=clock)
        await gate.acquire()
        order: list[int] = []

        async def waiter(i: int) -> None:
            await gate.acquire()
            order.append(i)
            gate.release()

        tasks = []
        for i in range(3):
            tasks.append(asyncio.create_task(waiter(i)))
            clock.now += 1
            await asyncio.sleep(0)
        clock.now += 5  # the oldest has waited 8 s: over wait / 2
        gate.release()
        await asyncio.gather(*tasks)
        return order

    assert asyncio.run(scenario()) == [2, 1, 0]


def test_a_timeout_or_a_cancellation_never_loses_a_slot() -> None:
    async def scenario() -> None:
        gate = Gate("request", 1, wait=0.05, retry_after=1)
        await gate.acquire()
        cancelled = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        with pytest.raises(ServerBusy):
            await gate.acquire()
        # granted and cancelled in the same step: the slot must pass on
        racing = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)
        gate.release()
        racing.cancel()
        with pytest.raises(asyncio.CancelledError):
            await racing
        assert gate.in_use == 0 and gate.waiting == 0
        await gate.acquire()  # the one slot is there to take
        assert gate.in_use == 1

    asyncio.run(scenario())


def test_a_gate_without_slots_refuses_at_once() -> None:
    with pytest.raises(ServerBusy, match="serves no exports"):
        asyncio.run(Gate("export", 0, wait=5, retry_after=1).acquire())


def test_a_release_when_every_waiter_has_just_timed_out_frees_the_slot() -> None:
    """On a loaded event loop the waits of every queued request can end (their expiry callbacks run) in the
    same turn of the loop as a holder releases, before any of the waiters' tasks has run again to leave the
    queue. The release must free the slot; it once raised IndexError (a 500 for the releasing request, whose
    answer was ready) and lost the slot for good."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        gate = Gate("request", 1, wait=0.01, retry_after=1)
        await gate.acquire()
        waiters = [asyncio.create_task(gate.acquire()) for _ in range(3)]
        await asyncio.sleep(0)
        assert gate.waiting == 3
        errors: list[BaseException] = []

        def release() -> None:
            try:
                gate.release()
            except Exception as exc:  # a callback's exception would only be logged by the loop
                errors.append(exc)

        time.sleep(0.05)  # the loop is starved: every wait is over and no expiry has run yet
        # due after the three expiries, so it runs in the same turn, after them and before the waiters resume
        loop.call_later(0, release)
        results = await asyncio.gather(*waiters, return_exceptions=True)
        assert errors == []
        assert all(isinstance(r, ServerBusy) for r in results), results
        assert gate.in_use == 0 and gate.waiting == 0
        await gate.acquire()
        assert gate.in_use == 1

    asyncio.run(scenario())


def test_a_release_right_after_every_waiter_was_cancelled_frees_the_slot() -> None:
    async def scenario() -> None:
        gate = Gate("request", 1, wait=10, retry_after=1)
        await gate.acquire()
        waiters = [asyncio.create_task(gate.acquire()) for _ in range(2)]
        await asyncio.sleep(0)
        for w in waiters:
            w.cancel()  # their futures are cancelled now; the tasks leave the queue only when they run
        gate.release()
        for w in waiters:
            with pytest.raises(asyncio.CancelledError):
                await w
        assert gate.in_use == 0 and gate.waiting == 0
        await gate.acquire()
        assert gate.in_use == 1

    asyncio.run(scenario())


def test_a_release_skips_ended_waiters_and_hands_the_slot_to_a_live_one_in_either_order() -> None:
    async def scenario(clock_jump: float) -> None:
        clock = Clock()
        gate = Gate("request", 1, wait=10, retry_after=1, clock=clock)
        await gate.acquire()
        first = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)
        live = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)
        last = asyncio.create_task(gate.acquire())
        await asyncio.sleep(0)
        first.cancel()
        last.cancel()
        clock.now += clock_jump  # 0: FIFO; 6: over wait / 2, newest first
        gate.release()
        await live  # it got the slot
        for w in (first, last):
            with pytest.raises(asyncio.CancelledError):
                await w
        assert gate.in_use == 1 and gate.waiting == 0

    asyncio.run(scenario(0))
    asyncio.run(scenario(6))
