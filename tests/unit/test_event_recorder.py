"""EventRecorder as client-go's broadcaster: one writer sends events one at a time from a queue of
1,000, a full queue drops new events, and repeats are counted on the first event."""

from __future__ import annotations

import asyncio
from typing import Any

from minikube_py.client.events import QUEUED_LIMIT, EventRecorder


class SlowApi:
    """Records event writes; each waits until released, so the queue fills."""

    def __init__(self) -> None:
        self.created: list[dict[str, Any]] = []
        self.patched: list[dict[str, Any]] = []
        self.in_flight = self.most_in_flight = 0
        self.release = asyncio.Event()

    async def _wait(self) -> None:
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        await self.release.wait()
        self.in_flight -= 1

    async def create(self, info: Any, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        await self._wait()
        self.created.append(body)
        return body

    async def patch(self, info: Any, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        await self._wait()
        self.patched.append(body)
        return body


def _pod(i: int) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"}}


async def test_one_write_at_a_time_and_a_full_queue_drops_new_events() -> None:
    api = SlowApi()
    recorder = EventRecorder(api, "test")  # type: ignore[arg-type]
    for i in range(QUEUED_LIMIT + 6):
        recorder.event(_pod(i), "Normal", "Scheduled", f"assigned p{i}")
    assert recorder.dropped == 6  # queued in one go: 1,000 wait, the rest are dropped
    await asyncio.sleep(0.01)  # the writer takes the first one and waits in its write
    recorder.event(_pod(9999), "Normal", "Scheduled", "assigned p9999")  # room for one again
    assert recorder.dropped == 6
    api.release.set()
    await recorder.flush()
    assert len(api.created) == QUEUED_LIMIT + 1 and api.most_in_flight == 1
    assert [e["metadata"]["name"].split(".")[0] for e in api.created[:3]] == ["p0", "p1", "p2"]


async def test_a_repeat_is_counted_on_the_first_event() -> None:
    api = SlowApi()
    api.release.set()
    recorder = EventRecorder(api, "test")  # type: ignore[arg-type]
    for _ in range(3):
        recorder.event(_pod(1), "Warning", "FailedMount", "volume x not found")
    await recorder.flush()
    assert len(api.created) == 1 and [p["count"] for p in api.patched] == [2, 3]
