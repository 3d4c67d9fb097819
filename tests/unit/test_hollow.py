"""Hollow nodes over a FakeApi and a ManualClock: Leases renewed on the timing profile's schedule
(10 s, 2 s fast) unless told otherwise, with the kubelet's lease duration of four renewals; pod IPs
from the node's podCIDR once it has one, and the node's InternalIP as the pod's hostIP."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import subprocess
import sys

import pytest

from agents.hollow import POD, HollowConfig, HollowNodes
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


async def test_pods_get_ips_from_their_nodes_pod_cidr() -> None:
    api, clock = FakeApi(), ManualClock()
    nodes = HollowNodes(api, HollowConfig(count=2), clock=clock)  # type: ignore[arg-type]
    await nodes.register()
    api.objects[("nodes", None, "hollow-node-1")]["spec"]["podCIDR"] = "10.244.7.0/24"  # the controller's
    pods = []
    for name, node in (("a", "hollow-node-1"), ("b", "hollow-node-1"), ("c", "hollow-node-0")):
        pods.append(await api.create(POD, "default", {"metadata": {"name": name}, "spec": {
            "nodeName": node, "containers": [{"name": "c", "image": "x"}]}}))
    api.sync_one(nodes.pods)
    for p in pods:
        await nodes._handle(f"default/{p['metadata']['name']}")
    status = {p["metadata"]["name"]: p["status"] for p in api.of("pods")}
    assert status["a"]["podIP"] != status["b"]["podIP"]
    for name in "ab":
        assert ipaddress.ip_address(status[name]["podIP"]) in ipaddress.ip_network("10.244.7.0/24")
        assert status[name]["hostIP"] == "10.199.0.2"
    assert status["c"]["hostIP"] == "10.199.0.1"
    assert status["c"]["podIP"].startswith("10.200.0.")  # no podCIDR yet: the node's fallback range


@pytest.mark.parametrize(("flag", "message"), [("--lease-renew=0", "--lease-renew must be more than 0 seconds"),
                                               ("--count=0", "--count must be at least 1")])
def test_a_bad_flag_ends_in_one_line(flag: str, message: str) -> None:
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli.main", "hollow-nodes", flag], capture_output=True,
                          text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", f"minikube-py: error: {message}\n")
