"""Node lifecycle controller passes over a preloaded FakeApi, with time moved by the ManualClock:
heartbeats (Lease or Ready condition), Unknown after the grace period with the unreachable taints,
the not-ready taints, NoExecute eviction after tolerationSeconds, podCIDR assignment, and the
retry contract."""

from __future__ import annotations

import asyncio
import copy
from typing import Any

import pytest

from minikube_py.api.errors import InternalError, ServiceUnavailable, Timeout
from minikube_py.api.times import format_micro_time, format_time
from minikube_py.controllers.base import Controller
from minikube_py.controllers.nodelifecycle import LEASE, NODE, NOT_READY, UNREACHABLE, NodeLifecycleController
from tests.unit.harness import Harness

Obj = dict[str, Any]
GRACE = 50.0  # the "kubernetes" timing of the harness's context


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes are driven by hand; the production batching delay would hide keys in timers."""
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def node(h: Harness, name: str = "n1", *, ready: str = "True", silent_for: float = 0.0,
         cidr: str | None = "10.244.0.0/24", taints: list[Obj] | None = None) -> Obj:
    beat = format_time(h.clock.now() - silent_for)
    spec: Obj = {"taints": taints} if taints else {}
    if cidr:
        spec["podCIDR"] = cidr
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": spec,
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "False", "lastHeartbeatTime": beat},
                {"type": "Ready", "status": ready, "reason": "KubeletReady", "lastHeartbeatTime": beat}]}}


def pod(name: str, node_name: str = "n1", *, tolerations: list[Obj] | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node_name, "containers": [{"name": "c", "image": "nginx"}],
                     "tolerations": tolerations or []}}


def tolerating(seconds: int | None) -> list[Obj]:
    t: Obj = {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"}
    if seconds is not None:
        t["tolerationSeconds"] = seconds
    return [t]


def unreachable(h: Harness) -> list[Obj]:
    return [{"key": UNREACHABLE, "effect": "NoSchedule"},
            {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": format_time(h.clock.now())}]


async def start(h: Harness, *objects: tuple[str, Obj], monitor_period: float = 5.0) -> NodeLifecycleController:
    nl = NodeLifecycleController(h.ctx, monitor_period=monitor_period)
    for plural, obj in objects:
        await h.create(plural, obj, namespace="kube-node-lease" if plural == "leases" else "default")
    h.sync()
    await nl.on_start()
    await nl.drain()
    return nl


def stored(h: Harness, name: str = "n1") -> Obj:
    return h.api.objects[("nodes", None, name)]


def conditions(h: Harness, name: str = "n1") -> dict[str, Obj]:
    return {c["type"]: c for c in stored(h, name)["status"]["conditions"]}


def taints(h: Harness, name: str = "n1") -> list[tuple[str, str]]:
    return [(t["key"], t["effect"]) for t in stored(h, name)["spec"].get("taints") or []]


def node_writes(h: Harness) -> list[tuple[str, str, str]]:
    return [c for c in h.api.writes(plural="nodes") if c[0] != "create"]


def pods(h: Harness) -> list[str]:
    return [p["metadata"]["name"] for p in h.api.of("pods")]


async def test_a_fresh_node_is_left_alone_and_looked_at_again_when_its_grace_runs_out() -> None:
    h = Harness()
    nl = await start(h, ("nodes", node(h, silent_for=48)))
    assert node_writes(h) == []
    assert nl.queue.waiting("n1") == pytest.approx(GRACE - 48 + 0.5)


async def test_a_recent_lease_renewal_counts_as_a_heartbeat() -> None:
    h = Harness()
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n1"},
             "spec": {"holderIdentity": "n1", "renewTime": format_micro_time(h.clock.now() - 5)}}
    nl = await start(h, ("nodes", node(h, silent_for=120)), ("leases", lease))
    assert node_writes(h) == []
    assert nl.queue.waiting("n1") == pytest.approx(5.0)  # the monitor period


async def test_the_node_turns_unknown_the_first_pass_after_the_grace_period() -> None:
    h = Harness()
    nl = await start(h, ("nodes", node(h)))
    started = h.clock.now()
    while conditions(h)["Ready"]["status"] == "True":
        delay = nl.queue.waiting("n1")
        assert delay is not None, "the controller stopped watching a Ready node"
        await h.clock.advance(delay)
        h.sync()
        await nl.drain()
    assert GRACE < h.clock.now() - started <= GRACE + 1.0
    assert h.clock.sleeps == []  # moved by the test, never slept on


async def test_a_silent_node_becomes_unknown_and_gets_the_unreachable_taints_in_the_same_pass() -> None:
    h = Harness()
    await start(h, ("nodes", node(h, silent_for=GRACE + 10)))
    conds = conditions(h)
    for c in conds.values():
        assert (c["status"], c["reason"], c["message"]) == \
            ("Unknown", "NodeStatusUnknown", "Kubelet stopped posting node status.")
        assert c["lastTransitionTime"] == format_time(h.clock.now())
    assert taints(h) == [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
    assert stored(h)["spec"]["taints"][1]["timeAdded"] == format_time(h.clock.now())
    await h.settle_events()
    assert [e["reason"] for e in h.events()] == ["NodeNotReady"]


async def test_a_not_ready_node_gets_the_not_ready_taints_and_loses_them_when_ready_again() -> None:
    h = Harness()
    nl = await start(h, ("nodes", node(h, ready="False")))
    assert taints(h) == [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]
    assert conditions(h)["Ready"]["status"] == "False"  # its own report: not overwritten
    h.edit("nodes", "n1", namespace=None)["status"]["conditions"][1]["status"] = "True"
    h.sync()
    await nl.drain()
    assert taints(h) == []


async def test_a_node_keeps_taints_that_are_not_the_controllers() -> None:
    h = Harness()
    mine = {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}
    await start(h, ("nodes", node(h, silent_for=GRACE + 1, taints=[mine])))
    assert taints(h) == [("dedicated", "NoSchedule"), (UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]


async def test_pods_are_evicted_when_their_toleration_of_the_noexecute_taint_runs_out() -> None:
    h = Harness()
    nl = await start(h, ("nodes", node(h, ready="Unknown", silent_for=600, taints=unreachable(h))),
                     ("pods", pod("plain")), ("pods", pod("patient", tolerations=tolerating(300))),
                     ("pods", pod("forever", tolerations=tolerating(None))), ("pods", pod("elsewhere", "n2")),
                     monitor_period=3600.0)
    assert pods(h) == ["elsewhere", "forever", "patient"]  # not tolerated at all: at once
    assert nl.queue.waiting("n1") == pytest.approx(300.0)  # the next toleration to run out
    await h.clock.advance(299.0)
    h.sync()
    assert await nl.drain() == 0
    await h.clock.advance(1.0)
    h.sync()
    await nl.drain()
    assert pods(h) == ["elsewhere", "forever"]
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["plain", "patient"]
    await h.settle_events()
    evicted = {e["involvedObject"]["name"]: e["message"] for e in h.events("TaintManagerEviction")}
    assert evicted == {"plain": "Marking for deletion Pod default/plain",
                       "patient": "Marking for deletion Pod default/patient"}


async def test_a_pod_not_tolerating_unreachable_is_evicted_in_the_pass_that_taints_the_node() -> None:
    h = Harness()
    await start(h, ("nodes", node(h, silent_for=GRACE + 1)), ("pods", pod("plain")))
    assert taints(h) == [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]
    assert pods(h) == []


async def test_a_node_without_pod_cidr_gets_the_next_free_slash_24() -> None:
    h = Harness()
    await start(h, ("nodes", node(h, "n1", cidr="10.244.0.0/24")), ("nodes", node(h, "n2", cidr=None)))
    assert stored(h, "n2")["spec"]["podCIDR"] == "10.244.1.0/24"
    assert stored(h, "n2")["spec"]["podCIDRs"] == ["10.244.1.0/24"]
    assert stored(h, "n1")["spec"]["podCIDR"] == "10.244.0.0/24"
    await h.settle_events()
    assert [e["message"] for e in h.events("CIDRAssignmentSucceeded")] == ["Node n2 got CIDR 10.244.1.0/24"]


async def test_a_new_not_ready_node_gets_its_cidr_and_its_taints_in_one_pass() -> None:
    h = Harness()
    await start(h, ("nodes", node(h, ready="False", cidr=None)))
    assert stored(h)["spec"]["podCIDR"] == "10.244.0.0/24"
    assert taints(h) == [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]


async def test_a_failed_status_write_is_retried_with_backoff_and_then_taints() -> None:
    h = Harness()
    h.api.fail("patch", "nodes", ServiceUnavailable("the apiserver is overloaded"))
    nl = await start(h, ("nodes", node(h, silent_for=GRACE + 1)))
    assert conditions(h)["Ready"]["status"] == "True" and taints(h) == []
    assert nl.errors == 1
    delay = nl.queue.waiting("n1")
    assert delay is not None and delay < 1.0  # the backoff, not the monitor period
    await h.clock.advance(delay)
    await nl.drain()
    assert conditions(h)["Ready"]["status"] == "Unknown"
    assert taints(h) == [(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")]


async def test_a_failed_eviction_is_retried_with_backoff() -> None:
    h = Harness()
    h.api.fail("delete", "pods", InternalError("etcd timed out"))
    nl = await start(h, ("nodes", node(h, ready="Unknown", silent_for=600, taints=unreachable(h))),
                     ("pods", pod("plain")), monitor_period=3600.0)
    assert pods(h) == ["plain"]
    delay = nl.queue.waiting("n1")
    assert delay is not None and delay < 1.0
    await h.clock.advance(delay)
    h.sync()
    await nl.drain()
    assert pods(h) == []


def _yielding_patches(h: Harness) -> None:
    """Every node patch gives the loop away first, as a real request does, so concurrent passes
    interleave at the write."""
    real = h.api.patch

    async def patch(*args: Any, **kwargs: Any) -> Obj:
        await asyncio.sleep(0)
        return await real(*args, **kwargs)

    h.api.patch = patch  # type: ignore[method-assign]


async def test_nodes_registering_together_get_distinct_cidrs_from_concurrent_passes() -> None:
    h = Harness()
    _yielding_patches(h)
    nl = NodeLifecycleController(h.ctx)
    for i in range(30):
        await h.create("nodes", node(h, f"n{i}", cidr=None))
    h.sync()  # all 30 in the cache, none with a podCIDR, before any pass writes
    keys = [k for _ in range(30) if (k := nl.queue.get_nowait()) is not None]
    await asyncio.gather(*(nl.process(k) for k in keys))
    cidrs = [stored(h, f"n{i}")["spec"].get("podCIDR") for i in range(30)]
    assert None not in cidrs and len(set(cidrs)) == 30


async def test_a_pass_over_a_stale_cache_after_a_lost_outcome_sends_the_same_cidr() -> None:
    h = Harness()
    real = h.api.patch
    lost = [True]

    async def patch(*args: Any, **kwargs: Any) -> Obj:
        written = await real(*args, **kwargs)
        if lost and (args[3].get("spec") or {}).get("podCIDR"):
            lost.clear()
            raise Timeout("the request timed out; the write may have happened")
        return written

    h.api.patch = patch  # type: ignore[method-assign]
    nl = await start(h, ("nodes", node(h, "n1", cidr=None)))
    assert stored(h, "n1")["spec"]["podCIDR"] == "10.244.0.0/24" and nl.errors == 1
    await h.create("nodes", node(h, "n2", cidr=None))
    h.api.sync_one(h.informers.get(LEASE))  # the node cache still shows n1 without its podCIDR
    nodes = h.informers.get(NODE)
    nodes.apply("ADDED", h.api.of("nodes")[1])
    await h.clock.advance(nl.queue.waiting("n1") or 0)
    await nl.drain()
    assert stored(h, "n2")["spec"]["podCIDR"] == "10.244.1.0/24"
    assert stored(h, "n1")["spec"]["podCIDR"] == "10.244.0.0/24"


async def test_after_a_restart_new_nodes_get_cidrs_that_no_existing_node_holds() -> None:
    h = Harness()
    for i in (0, 1, 3):
        await h.create("nodes", node(h, f"old{i}", cidr=f"10.244.{i}.0/24"))
    await h.create("nodes", node(h, "a-new", cidr=None))  # sorts (and is reconciled) first
    await h.create("nodes", node(h, "b-new", cidr=None))
    nl = NodeLifecycleController(h.ctx)  # a fresh controller: its set comes from the informer's first list
    h.sync()
    await nl.on_start()
    await nl.drain()
    assert {stored(h, "a-new")["spec"]["podCIDR"], stored(h, "b-new")["spec"]["podCIDR"]} == \
        {"10.244.2.0/24", "10.244.4.0/24"}


async def test_a_deleted_nodes_cidr_is_free_again_and_a_full_range_says_so() -> None:
    h = Harness()
    nl = NodeLifecycleController(h.ctx, cluster_cidr="10.244.0.0/23")  # two /24s
    for name in ("n1", "n2", "n3"):
        await h.create("nodes", node(h, name, cidr=None))
    h.sync()
    await nl.on_start()
    await nl.drain()
    assert "podCIDR" not in stored(h, "n3")["spec"]
    await h.settle_events()
    assert [e["message"] for e in h.events("CIDRNotAvailable")] == ["Node n3 status is now: CIDRNotAvailable"]
    freed = stored(h, "n1")["spec"]["podCIDR"]
    del h.api.objects[("nodes", None, "n1")]
    h.sync()
    assert nl.cidrs.holder_of(freed) == "n1"  # the watch handler only queued n1: its pass releases the CIDR
    await nl.drain()
    assert nl.cidrs.holder_of(freed) is None
    await h.clock.advance(nl.queue.waiting("n3") or 0)  # n3's retry, after its backoff
    await nl.drain()
    assert stored(h, "n3")["spec"]["podCIDR"] == freed


async def test_a_node_without_a_cidr_left_backs_off_and_lease_renewals_do_not_hurry_it() -> None:
    h = Harness()
    nl = NodeLifecycleController(h.ctx, cluster_cidr="10.244.0.0/24")  # one /24
    await h.create("nodes", node(h, "n1", cidr=None))
    await h.create("nodes", node(h, "n2", cidr=None, ready="False"))
    h.sync()
    await nl.on_start()
    await nl.drain()
    assert stored(h, "n1")["spec"]["podCIDR"] == "10.244.0.0/24" and "podCIDR" not in stored(h, "n2")["spec"]
    assert taints(h, "n2") == [(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")]  # the pass went on
    assert nl.errors == 1 and nl.queue.failures("n2") == 1
    assert (nl.queue.waiting("n2") or 5.0) < 1.0  # the backoff, not the monitor period
    h.sync()  # the writes of those passes come back as MODIFIED events (n2's queues it, as in kube)
    await nl.drain()
    failures, first = nl.queue.failures("n2"), nl.queue.waiting("n2")
    assert first is not None
    renewal = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": {"name": "n2"},
               "spec": {"holderIdentity": "n2", "renewTime": format_micro_time(h.clock.now())}}
    await h.create("leases", renewal, namespace="kube-node-lease")
    h.sync()
    assert nl.queue.get_nowait() is None  # the renewal did not queue the backing-off node
    for _ in range(3):
        await h.clock.advance(nl.queue.waiting("n2") or 0)
        await nl.drain()
    assert nl.queue.failures("n2") == failures + 3
    assert (nl.queue.waiting("n2") or 0) >= first * 8  # growing: 5 ms, 10 ms, 20 ms, 40 ms, ...
    await h.settle_events()
    assert len(h.events("CIDRNotAvailable")) >= 1


async def test_a_cidr_shown_by_two_nodes_is_warned_about_once(caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    nl = await start(h, ("nodes", node(h, "n1", cidr="10.244.5.0/24")), ("nodes", node(h, "n2", cidr="10.244.5.0/24")))
    for i in range(3):  # status updates of n2: MODIFIED each time
        stored(h, "n2")["metadata"]["labels"] = {"beat": str(i)}
        await h.api.update(NODE, None, copy.deepcopy(stored(h, "n2")))
        h.sync()
        await nl.drain()
    warnings = [r for r in caplog.records if "is also held by node/n1" in r.getMessage()]
    assert len(warnings) == 1
