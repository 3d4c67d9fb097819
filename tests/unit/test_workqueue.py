"""The work queue's rules (client-go's): dedup, one worker per key, re-processing of a key added
while it was being processed, delayed adds, per-key backoff and the cool-down."""

from __future__ import annotations

import asyncio

from minikube_py.client.workqueue import WorkQueue


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
    q = WorkQueue(base_delay=0.01)
    q.add_after("x", 0.05)
    assert q.get_nowait() is None
    await asyncio.sleep(0.08)
    assert q.get_nowait() == "x"
    q.done("x")
    delays = [q.add_rate_limited("y") for _ in range(4)]
    assert delays == [0.01, 0.02, 0.04, 0.08]
    q.forget("y")
    assert q.backoff("y") == 0.01


async def test_cool_down_batches_adds() -> None:
    q = WorkQueue()
    q.cool_down("k", 0.05)
    for _ in range(5):
        q.add("k")
    assert q.get_nowait() is None  # held back, once
    await asyncio.sleep(0.08)
    assert q.get_nowait() == "k"
    q.done("k")
    assert q.get_nowait() is None
