"""The scheduler's traced verdicts and how `mkctl trace` prints passes: each filter's rejections
with counts and the first nodes per reason, the best scores, `Kind namespace/name` subjects
(the garbage collector's and the volume binder's keys included), and entries in time order."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from minikube_py.api import kinds
from minikube_py.cli.kubectl_trace import format_trace, in_time_order
from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import InformerFactory
from minikube_py.client.tracing import Tracer
from minikube_py.controllers.garbagecollector import GarbageCollector
from minikube_py.controllers.volumes import VolumeController
from minikube_py.scheduler.scheduler import Scheduler
from minikube_py.scheduler.verdicts import Verdicts
from tests.unit.fake_api import FakeApi
from tests.unit.harness import Harness
from tests.unit.test_scheduler import node, pod

Obj = dict[str, Any]


async def traced_scheduler(nodes: list[Obj], pods: list[Obj]) -> tuple[Scheduler, Tracer]:
    api = FakeApi()
    for p in pods:  # so that their binds succeed
        await api.create(kinds.require("v1", "Pod"), "default", p)
    tracer = Tracer(api, "scheduler")  # type: ignore[arg-type]
    tracer.watchers = 1  # somebody watches: passes are recorded
    sched = Scheduler(InformerFactory(api), EventRecorder(api, "test"), tracer=tracer)  # type: ignore[arg-type]
    for n in nodes:
        sched._on_node("ADDED", n, None)
    return sched, tracer


def test_verdicts_are_capped_per_reason_and_keep_the_best_scores() -> None:
    v = Verdicts(top=3, per_reason=2)
    for i in range(5):
        v.rejected(f"full-{i}", "NodeResourcesFit", ["Insufficient cpu", "Insufficient memory"])
    v.rejected("t", "TaintToleration", ["node(s) had untolerated taint {a: b}"])
    for i, s in enumerate([10, 70, 30, 70, 50]):
        v.scored(f"n{i}", s)
    out = v.summary()
    assert out["filtered"][0] == {"reason": "Insufficient cpu", "plugin": "NodeResourcesFit", "count": 5,
                                  "nodes": ["full-0", "full-1"]}
    assert [(f["reason"], f["count"]) for f in out["filtered"]] == [
        ("Insufficient cpu", 5), ("Insufficient memory", 5), ("node(s) had untolerated taint {a: b}", 1)]
    assert out["scores"] == [{"node": "n1", "score": 70}, {"node": "n3", "score": 70}, {"node": "n4", "score": 50}]


async def test_a_traced_pass_records_each_rejection_and_the_scores() -> None:
    nodes = [node("big-1", cpu="8"), node("big-2", cpu="8"), node("small", cpu="1"),
             node("tainted", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]),
             node("down", ready=False)]
    web = pod("web", cpu="2")
    sched, tracer = await traced_scheduler(nodes, [web])
    sched.node_infos["big-2"].add("default/other", pod("other", cpu="4"))
    assert sched.schedule_one(web) == "big-2"  # binpack: the fuller one
    trace = tracer._batch[-1]
    assert (trace["kind"], trace["key"], trace["result"]) == ("Pod", "default/web", "bind to big-2")
    observed = trace["observed"]
    assert (observed["nodes"], observed["checked"], observed["feasible"]) == (5, 5, 2)
    assert {(f["plugin"], f["reason"], f["count"], tuple(f["nodes"])) for f in observed["filtered"]} == {
        ("NodeResourcesFit", "Insufficient cpu", 1, ("small",)),
        ("TaintToleration", "node(s) had untolerated taint {dedicated: gpu}", 1, ("tainted",)),
        ("NodeReady", "node(s) were not ready", 1, ("down",))}
    assert [s["node"] for s in observed["scores"]] == ["big-2", "big-1"]
    assert observed["scores"][0]["score"] > observed["scores"][1]["score"]
    await sched.wait_binds()


async def test_untraced_passes_record_nothing() -> None:
    web = pod("web")
    sched, tracer = await traced_scheduler([node("n1")], [web])
    tracer.watchers = 0
    assert sched.schedule_one(web) == "n1"
    assert tracer._batch == []
    await sched.wait_binds()


def test_the_printed_trace_shows_verdicts_and_scores() -> None:
    trace = {"time": "2026-12-01T18:40:01.123456Z", "controller": "scheduler", "kind": "Pod", "key": "default/web",
             "trigger": "pending pod", "wrote": [], "result": "bind to big-2", "ms": 0.4,
             "observed": {"nodes": 30, "checked": 30, "feasible": 2,
                          "filtered": [{"reason": "Insufficient cpu", "plugin": "NodeResourcesFit", "count": 27,
                                        "nodes": [f"n{i}" for i in range(10)]},
                                       {"reason": "node(s) were not ready", "plugin": "NodeReady", "count": 1,
                                        "nodes": ["down"]}],
                          "scores": [{"node": "big-2", "score": 62}, {"node": "big-1", "score": 40}]},
             "wanted": {"node": "big-2"}}
    assert format_trace(trace) == (
        "18:40:01.123  scheduler  Pod default/web  (trigger: pending pod)\n"
        "    observed: nodes=30 checked=30 feasible=2\n"
        "    filtered: 27 nodes NodeResourcesFit: Insufficient cpu: n0, n1, n2, n3, n4, n5, n6, n7, n8, n9, "
        "... (+17 more)\n"
        "              1 node NodeReady: node(s) were not ready: down\n"
        "    scores:   big-2=62 big-1=40 (best 2 of 2 feasible)\n"
        "    wanted:   node=big-2\n"
        "    result:   bind to big-2 (0.4 ms)\n")


def test_trace_subjects_are_kind_and_namespace_name() -> None:
    h = Harness()
    gc = GarbageCollector(h.ctx)
    assert gc.trace_subject(("replicasets.apps", "default/web-7c5d")) == ("ReplicaSet", "default/web-7c5d")
    assert gc.trace_subject(("pods", "default/web-7c5d-abcde")) == ("Pod", "default/web-7c5d-abcde")
    volumes = VolumeController(h.ctx)
    assert volumes.trace_subject("pv:pvc-123") == ("PersistentVolume", "pvc-123")
    assert volumes.trace_subject("default/data") == ("PersistentVolumeClaim", "default/data")


def _stamp(second: int) -> str:
    return f"2026-12-01T18:40:{second:02d}.000000Z"


def test_live_entries_are_released_in_time_order() -> None:
    now = itertools.count(0.0, 0.25)  # every clock read moves a quarter second

    def arriving() -> Iterator[Obj]:  # two components' batches, interleaved out of order
        yield from ({"time": _stamp(s), "key": f"k{s}"} for s in (3, 4, 1, 2, 6, 5))

    out = list(in_time_order(arriving(), hold=100.0, clock=lambda: next(now)))
    assert [t["key"] for t in out] == ["k1", "k2", "k3", "k4", "k5", "k6"]


def test_a_failed_stream_still_raises_after_the_entries_it_gave() -> None:
    def broken() -> Iterator[Obj]:
        yield {"time": _stamp(2), "key": "b"}
        yield {"time": _stamp(1), "key": "a"}
        raise ConnectionError("the apiserver went away")

    got = []
    try:
        for t in in_time_order(broken(), hold=100.0):
            got.append(t["key"])
    except ConnectionError:
        pass
    else:
        raise AssertionError("the stream's failure was swallowed")
    assert got == ["a", "b"]
