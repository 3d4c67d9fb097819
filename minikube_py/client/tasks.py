"""Running a group of long-lived asyncio tasks together (informers, workers, loops): wait for all,
and when one fails or the group is cancelled, cancel and reap the rest.  Used by the controller
manager, every controller's workers and the hollow nodes."""

from __future__ import annotations

import asyncio
import contextlib


async def run_together(tasks: list[asyncio.Task[None]]) -> None:
    try:
        await asyncio.gather(*tasks)
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
