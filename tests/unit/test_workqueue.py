"""The work queue's rules (client-go's): dedup, one worker per key, re-processing of a key added
while it was being processed, delayed adds, per-key backoff and the cool-down.  Time is the
manual clock's: nothing sleeps."""

from __future__ import annotations

import pytest

from minikube_py.client.workqueue import WorkQueue
from tests.unit.fake_clock import ManualClock


async def test_dedup_and_one_worker_per_key() -> None:
    q = WorkQueue()
    for _ in range(3):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    first = await q.get()
    q.add(first)  # added while processing: not handed out again until done
    second = await q.get()
    assert {first, second} == {"a", "b"}
    assert q.get_nowait() is None
    q.done(first)
    assert q.get_nowait() == first  # processed again: the change made meanwhile is not lost


async def test_add_after_and_backoff() -> None:
    clock = ManualClock()
    q = WorkQueue(base_delay=0.01, clock=clock)
    q.add_after("x", 0.05)
    assert q.get_nowait() is None
    await clock.advance(0.049)
    assert q.get_nowait() is None
    await clock.advance(0.001)
    assert q.get_nowait() == "x"
    q.done("x")
    delays = [q.add_rate_limited("y") for _ in range(4)]
    assert delays == [0.01, 0.02, 0.04, 0.08]
    q.forget("y")
    assert q.backoff("y") == 0.01


async def test_cool_down_batches_adds() -> None:
    clock = ManualClock()
    q = WorkQueue(clock=clock)
    q.cool_down("k", 0.05)
    for _ in range(5):
        q.add("k")
    assert q.get_nowait() is None  # held back, once
    assert q.waiting("k") == pytest.approx(0.05)
    await clock.advance(0.05)
    assert q.get_nowait() == "k"
    q.done("k")
    assert q.get_nowait() is None


async def test_a_retry_after_longer_than_the_backoff_wins() -> None:
    clock = ManualClock()
    q = WorkQueue(base_delay=0.01, clock=clock)
    assert q.add_rate_limited("z", at_least=5.0) == 5.0
    assert q.waiting("z") == pytest.approx(5.0)
    assert q.add_rate_limited("z") == 0.02  # an earlier wake-up replaces the later one
    assert q.waiting("z") == pytest.approx(0.02)


async def test_shutdown_cancels_timers_and_refuses_delays() -> None:
    clock = ManualClock()
    q = WorkQueue(clock=clock)
    q.add_after("a", 1.0)
    q.shutdown()
    q.add_after("b", 1.0)
    await clock.advance(2.0)
    assert q.get_nowait() is None and clock.pending() == []


async def test_waiting_workers_wake_one_per_key_and_end_at_shutdown() -> None:
    import asyncio

    q = WorkQueue()
    got: list[object] = []

    async def worker() -> None:
        while True:
            key = await q.get()
            got.append(key)
            q.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(3)]
    await asyncio.sleep(0)  # all three wait in get()
    q.add("a")
    q.add("b")
    for _ in range(3):
        await asyncio.sleep(0)
    assert sorted(got) == ["a", "b"]  # type: ignore[type-var]
    q.shutdown()
    results = await asyncio.gather(*workers, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
