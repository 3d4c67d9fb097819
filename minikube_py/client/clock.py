"""The clock of the control loops: wall time for what goes on the wire (conditions, events,
deadlines measured from a timestamp), monotonic time and timers for backoffs and delays.

Controllers, the scheduler, work queues, informers, the REST client's Retry-After waits and the
agents take a `Clock` instead of calling `time` or `asyncio.sleep`, so unit tests drive them with
a manual clock (tests/unit/fake_clock.py) and no real waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Wall time, epoch seconds."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` on the event loop after `delay` seconds."""
        ...


class SystemClock:
    """The real clock: time.time, the event loop's monotonic time and its timers."""

    def now(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


SYSTEM = SystemClock()
