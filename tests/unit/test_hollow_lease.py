"""Hollow nodes renew their Leases on the timing profile's schedule (10 s, 2 s fast) unless told
otherwise, with the kubelet's lease duration of four renewals, over a FakeApi and a ManualClock."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from agents.hollow import HollowConfig, HollowNodes
from minikube_py.api.timing import TIMINGS
from tests.unit.fake_api import FakeApi
from tests.unit.fake_clock import ManualClock


async def _renewals_within(config: HollowConfig, seconds: float) -> tuple[int, int]:
    """(lease writes per node in `seconds` of heartbeats, the leases' duration)"""
    api, clock = FakeApi(), ManualClock()
    nodes = HollowNodes(api, config, clock=clock)  # type: ignore[arg-type]
    await nodes.register()
    before = len(api.writes(plural="leases"))
    task = asyncio.create_task(nodes.heartbeat())
    try:
        await asyncio.sleep(0)  # the loop's first sleep starts now
        for _ in range(round(seconds * 2)):  # half-second steps, letting each renewal round finish
            await clock.advance(0.5)
            for _ in range(5):
                await asyncio.sleep(0)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    leases = api.of("leases")
    assert {lease["metadata"]["name"] for lease in leases} == set(nodes.names)
    return (len(api.writes(plural="leases")) - before) // config.count, leases[0]["spec"]["leaseDurationSeconds"]


@pytest.mark.parametrize(("profile", "renewals", "duration"), [("fast", 5, 8), ("kubernetes", 1, 40)])
async def test_leases_are_renewed_on_the_timing_profiles_schedule(profile: str, renewals: int, duration: int) -> None:
    config = HollowConfig(count=2, timing=TIMINGS[profile])
    assert await _renewals_within(config, 10.0) == (renewals, duration)
    assert TIMINGS[profile].node_grace / config.renew_every >= 5  # renewed well within the grace period


async def test_lease_renew_overrides_the_profile() -> None:
    config = HollowConfig(count=1, timing=TIMINGS["fast"], lease_renew=5.0)
    assert await _renewals_within(config, 10.0) == (2, 20)
