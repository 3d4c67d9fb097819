"""The Node registration shared by hollow nodes and the agent: retried until the apiserver answers,
an existing Node taken over with the backend's status, a deleted one registered again, and the
agent's Node body built from `docker info`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from agents.node import AgentConfig, node_body
from agents.nodestatus import NODE, NodeRegistrar, healthy_conditions
from minikube_py.api.errors import ServiceUnavailable
from tests.unit.fake_api import FakeApi
from tests.unit.fake_clock import ManualClock

INFO = {"NCPU": 2, "MemTotal": 8 * 1024**3, "Architecture": "x86_64", "OperatingSystem": "Debian GNU/Linux 12",
        "KernelVersion": "6.1.0", "ID": "abc", "_version": {"Version": "20.10.24"}}


def body(name: str = "n1") -> Any:
    return lambda: node_body(AgentConfig(node_name=name, node_ip="192.0.2.7", data_dir=Path("/tmp")), INFO,
                             "2026-12-01T20:00:00Z")


def test_the_agents_node_comes_from_docker_info() -> None:
    node = body()()
    assert node["status"]["capacity"] == {"cpu": "2", "memory": f"{8 * 1024**2}Ki", "pods": "110"}
    info = node["status"]["nodeInfo"]
    assert (info["containerRuntimeVersion"], info["architecture"], info["osImage"], info["kernelVersion"]) == (
        "docker://20.10.24", "amd64", "Debian GNU/Linux 12", "6.1.0")
    assert node["status"]["addresses"] == [{"type": "InternalIP", "address": "192.0.2.7"},
                                           {"type": "Hostname", "address": "n1"}]
    assert node["status"]["daemonEndpoints"] == {"kubeletEndpoint": {"Port": 10250}}
    assert [c["type"] for c in node["status"]["conditions"]] == ["MemoryPressure", "DiskPressure", "PIDPressure",
                                                                  "Ready"]


async def test_registration_is_retried_until_the_apiserver_answers() -> None:
    api, clock = FakeApi(), ManualClock()
    api.fail("create", "nodes", ServiceUnavailable("etcd is away"), times=3)
    reg = NodeRegistrar(api, renew_every=2.0, clock=clock)  # type: ignore[arg-type]
    task = asyncio.create_task(reg.register("n1", body()))
    for _ in range(40):
        await clock.advance(1.0)
        await asyncio.sleep(0)
        if task.done():
            break
    node = await task
    assert node["metadata"]["name"] == "n1"
    lease = api.of("leases")[0]
    assert (lease["spec"]["holderIdentity"], lease["spec"]["leaseDurationSeconds"]) == ("n1", 8)


async def test_an_existing_node_is_taken_over_with_the_backends_status() -> None:
    api, clock = FakeApi(), ManualClock()
    await api.create(NODE, None, {"metadata": {"name": "n1"}, "spec": {"podCIDR": "10.244.3.0/24"},
                                  "status": {"capacity": {"cpu": "1"}, "conditions": healthy_conditions("a", "a")}})
    seen: list[str] = []
    reg = NodeRegistrar(api, renew_every=10.0, clock=clock,  # type: ignore[arg-type]
                        on_node=lambda n: seen.append(n["spec"].get("podCIDR")))
    node = await reg.register("n1", body())
    assert node["status"]["capacity"]["cpu"] == "2"
    assert node["spec"]["podCIDR"] == "10.244.3.0/24" and "10.244.3.0/24" in seen


async def test_status_keeps_transition_times_and_a_deleted_node_is_registered_again() -> None:
    api, clock = FakeApi(), ManualClock()
    reg = NodeRegistrar(api, renew_every=10.0, clock=clock)  # type: ignore[arg-type]
    await reg.register("n1", body())
    first = {c["type"]: c["lastTransitionTime"] for c in api.of("nodes")[0]["status"]["conditions"]}
    await clock.advance(120)
    await reg.post_status("n1", body())
    conds = api.of("nodes")[0]["status"]["conditions"]
    assert {c["type"]: c["lastTransitionTime"] for c in conds} == first
    assert all(c["lastHeartbeatTime"] != first[c["type"]] for c in conds)  # a heartbeat, not a transition
    await api.delete(NODE, None, "n1")
    await reg.post_status("n1", body())
    assert [n["metadata"]["name"] for n in api.of("nodes")] == ["n1"]
