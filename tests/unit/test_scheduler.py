"""Scheduler logic on NodeInfo and on a preloaded cache: filters with kube-scheduler's reasons,
bin-packing versus spreading, the unschedulable summary, assumed pods and binding (FakeApi)."""

from __future__ import annotations

from typing import Any

from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import InformerFactory
from minikube_py.scheduler.framework import (
    NodeInfo,
    PodInfo,
    filter_node_affinity,
    filter_ports,
    filter_resources,
    filter_taints,
    nodes_to_find,
    pod_requests,
    unschedulable_message,
)
from minikube_py.scheduler.scheduler import Scheduler
from tests.unit.fake_api import FakeApi

Obj = dict[str, Any]


def node(name: str, cpu: str = "4", memory: str = "8Gi", *, labels: dict[str, str] | None = None,
         taints: list[Obj] | None = None, ready: bool = True, unschedulable: bool = False) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": memory, "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


def pod(name: str, cpu: str = "500m", memory: str = "256Mi", **spec: Any) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "default", "uid": name},
            "spec": {"containers": [{"name": "c", "image": "x", "resources": {"requests": {"cpu": cpu,
                                                                                       "memory": memory}}}],
                     "schedulerName": "default-scheduler", **spec}}


def test_requests_and_fit() -> None:
    p = pod("a", cpu="1500m", memory="1Gi")
    assert pod_requests(p).milli_cpu == 1500 and pod_requests(p).memory == 2**30
    ni = NodeInfo(node("n", cpu="2"))
    fits = filter_resources(PodInfo.of(p), ni)
    assert list(fits) == []
    assert not isinstance(fits, list)  # one value shared by every caller: it cannot be a list a caller grows
    ni.add("default/b", pod("b", cpu="1"))
    assert filter_resources(PodInfo.of(p), ni) == ["Insufficient cpu"]


def test_taints_selectors_and_ports() -> None:
    tainted = NodeInfo(node("t", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]))
    assert filter_taints(PodInfo.of(pod("a")), tainted) == ["node(s) had untolerated taint {dedicated: gpu}"]
    tolerant = pod("b", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "gpu",
                                      "effect": "NoSchedule"}])
    assert filter_taints(PodInfo.of(tolerant), tainted) == []
    ssd = NodeInfo(node("s", labels={"disk": "ssd"}))
    assert filter_node_affinity(PodInfo.of(pod("c", nodeSelector={"disk": "ssd"})), ssd) == []
    assert filter_node_affinity(PodInfo.of(pod("c", nodeSelector={"disk": "hdd"})), ssd) == \
        ["node(s) didn't match Pod's node affinity/selector"]
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd", "nvme"]}]}]}}}
    assert filter_node_affinity(PodInfo.of(pod("d", affinity=affinity)), ssd) == []
    hp = pod("e")
    hp["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
    ssd.add("default/x", hp)
    assert filter_ports(PodInfo.of(hp), ssd) == ["node(s) didn't have free ports for the requested pod ports"]


def test_unschedulable_summary_reads_like_kube_scheduler() -> None:
    assert unschedulable_message(3, {"Insufficient cpu": 2, "node(s) had untolerated taint {a: b}": 1}) == \
        "0/3 nodes are available: 2 Insufficient cpu, 1 node(s) had untolerated taint {a: b}."
    assert nodes_to_find(50) == 50 and nodes_to_find(1000) == 420 and nodes_to_find(5000) == 500


def _scheduler(profile: str = "binpack") -> tuple[FakeApi, InformerFactory, Scheduler]:
    api = FakeApi()
    factory = InformerFactory(api)  # type: ignore[arg-type]
    return api, factory, Scheduler(factory, EventRecorder(api, "test"), default_profile=profile)  # type: ignore[arg-type]


async def _load(api: FakeApi, factory: InformerFactory, nodes: list[Obj], pods: list[Obj]) -> None:
    from minikube_py.api import kinds

    for n in nodes:
        await api.create(kinds.require("v1", "Node"), None, n)
    for p in pods:
        await api.create(kinds.require("v1", "Pod"), "default", p)
    api.sync(factory)


async def test_binpack_fills_a_node_before_the_next_and_spread_spreads() -> None:
    for profile, expect_same in (("binpack", True), ("spread", False)):
        api, factory, sched = _scheduler(profile)
        await _load(api, factory, [node("n1"), node("n2")], [])
        chosen = []
        for i in range(4):
            p = pod(f"p{i}", cpu="500m")
            await _load(api, factory, [], [p])
            chosen.append(sched.schedule_one(factory.get(sched.pods.info).get(f"default/p{i}") or p))
        await sched.wait_binds()
        if expect_same:
            assert len(set(chosen)) == 1, chosen
        else:
            assert set(chosen) == {"n1", "n2"}, chosen
        binds = api.writes("bind")
        assert len(binds) == 4


async def test_assumed_pods_count_before_the_bind_returns() -> None:
    api, factory, sched = _scheduler()
    await _load(api, factory, [node("n1", cpu="1"), node("n2", cpu="1")], [pod("a", cpu="800m"), pod("b", cpu="800m")])
    first = sched.schedule_one(sched.pods.get("default/a"))  # type: ignore[arg-type]
    second = sched.schedule_one(sched.pods.get("default/b"))  # type: ignore[arg-type]
    assert {first, second} == {"n1", "n2"}  # b saw a's capacity taken although no bind has finished
    await sched.wait_binds()


async def test_pod_that_fits_nowhere_gets_condition_and_event() -> None:
    api, factory, sched = _scheduler()
    await _load(api, factory, [node("n1", cpu="1"), node("n2", cpu="1", taints=[{"key": "a", "value": "b",
                                                                                "effect": "NoSchedule"}]),
                               node("n3", ready=False)], [pod("big", cpu="2")])
    assert sched.schedule_one(sched.pods.get("default/big")) is None  # type: ignore[arg-type]
    await sched.wait_binds()
    await sched.recorder.flush()
    stored = api.objects[("pods", "default", "big")]
    cond = stored["status"]["conditions"][0]
    assert cond["type"] == "PodScheduled" and cond["status"] == "False" and cond["reason"] == "Unschedulable"
    assert cond["message"] == ("0/3 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
                               "{a: b}, 1 node(s) were not ready.")
    events = api.of("events")
    assert events and events[0]["reason"] == "FailedScheduling" and events[0]["type"] == "Warning"


def test_host_ports_stay_taken_until_their_last_pod_goes_and_status_updates_recount_nothing() -> None:
    def with_port(name: str) -> Obj:
        p = pod(name)
        p["spec"]["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": 8080}]
        return p

    ni = NodeInfo(node("n"))
    a, b = with_port("a"), with_port("b")
    ni.add("default/a", a)
    ni.add("default/b", b)
    assert ni.ports == {("0.0.0.0", "TCP", 8080)}
    ni.remove("default/a")
    assert ni.ports == {("0.0.0.0", "TCP", 8080)}  # b still holds it
    requested = ni.requested
    running = {**b, "status": {"phase": "Running"}}  # the same containers object: a status update
    ni.add("default/b", running)
    assert ni.requested == requested and ni.pods["default/b"] is running
    ni.remove("default/b")
    assert ni.ports == set() and ni.requested.milli_cpu == 0
