"""The pod workers' mechanics with fakes: graceful stops that leave Docker's shared pool free (and a
closing runtime that never waits for them), one pass per pod (a slow pod never delays another), at
most one probe exec in flight, the state of pods that left the node forgotten, the crash-loop
requeue after the remaining backoff, the status of a pod whose sandbox fails, and the kill grace
rule.

The Docker client is a fake of the SDK's low-level calls the runtime makes (agents/kubelet/runtime.py
keeps its real threads); the apiserver is tests/unit/fake_api.py; time is tests/unit/fake_clock.py.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import docker.errors
import pytest

from agents.kubelet import runtime as runtime_module
from agents.kubelet.actions import ContainerSnapshot, PodActions, PodSnapshot, backoff_key
from agents.kubelet.probes import Prober, ProbeSpec, ProbeTarget
from agents.kubelet.runtime import DockerRuntime
from agents.kubelet.worker import PodWorkers, SandboxFailed, kill_grace
from minikube_py.api import kinds
from tests.unit.fake_api import FakeApi
from tests.unit.fake_clock import ManualClock

POD = kinds.require("v1", "Pod")


class FakeDockerApi:
    """The SDK's APIClient calls of a graceful stop; a container in `ignores_term` keeps running
    after its stop signal (sh as PID 1), the others exit on it."""

    def __init__(self, ignores_term: set[str]) -> None:
        self.ignores_term = ignores_term
        self.exited: dict[str, threading.Event] = {}
        self.signals: list[tuple[str, str]] = []
        self.killed: list[str] = []
        self.lock = threading.Lock()

    def _exit(self, cid: str) -> threading.Event:
        with self.lock:
            return self.exited.setdefault(cid, threading.Event())

    def inspect_container(self, cid: str) -> dict[str, Any]:
        return {"Id": cid, "State": {"Running": not self._exit(cid).is_set()}, "Config": {"StopSignal": None}}

    def kill(self, cid: str, signal: str | None = None) -> None:
        self.signals.append((cid, str(signal)))
        if cid not in self.ignores_term:
            self._exit(cid).set()

    def wait(self, cid: str, timeout: float | None = None) -> dict[str, Any]:
        if not self._exit(cid).wait(timeout):
            raise TimeoutError("read timed out")
        return {"StatusCode": 137}

    def stop(self, cid: str, timeout: int | None = None) -> None:
        self.killed.append(cid)
        self._exit(cid).set()

    def containers(self, **_: Any) -> list[Any]:
        return []


class FakeDocker:
    def __init__(self, api: FakeDockerApi, run: Callable[..., Any] | None = None) -> None:
        self.api = api
        self.containers = type("Containers", (), {"run": staticmethod(run or (lambda *a, **k: None))})()

    def close(self) -> None:
        pass


async def _until(what: str, check: Callable[[], bool], limit: float = 5.0) -> None:
    """Wait (real time) for the runtime's threads to get somewhere."""
    deadline = time.monotonic() + limit
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_graceful_stops_wait_outside_the_shared_pool_and_kill_after_the_grace():
    api = FakeDockerApi(ignores_term={"stubborn1", "stubborn2", "stubborn3"})
    runtime = DockerRuntime("c/n", "n", workers=1, client_factory=lambda: FakeDocker(api))
    clock = ManualClock()
    try:
        stops = [asyncio.create_task(runtime.stop(cid, 30, clock.sleep)) for cid in ("stubborn1", "stubborn2",
                                                                                     "stubborn3")]
        await _until("three grace timers", lambda: len(clock.pending()) == 3)
        # the only shared thread is free while three containers take their grace period
        assert await asyncio.wait_for(runtime.call(lambda: "free"), 2.0) == "free"
        await asyncio.wait_for(runtime.stop("polite", 30, clock.sleep), 2.0)  # exits on its signal
        assert ("polite", "SIGTERM") in api.signals and "polite" not in api.killed
        assert api.killed == [] and not any(s.done() for s in stops)
        await clock.advance(29)
        assert api.killed == []
        await clock.advance(1)
        await asyncio.wait_for(asyncio.gather(*stops), 2.0)
        assert sorted(api.killed) == ["stubborn1", "stubborn2", "stubborn3"]
        await runtime.stop("gone-at-once", 0, clock.sleep)  # no grace: killed without a signal first
        assert api.killed[-1] == "gone-at-once" and ("gone-at-once", "SIGTERM") not in api.signals
    finally:
        for cid in list(api.exited):
            api.exited[cid].set()
        runtime.close()


async def test_closing_the_runtime_ends_the_threads_waiting_out_a_grace_period(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(runtime_module, "WAIT_CHUNK", 0.1)
    api = FakeDockerApi(ignores_term={"stubborn"})
    runtime = DockerRuntime("c/n", "n", client_factory=lambda: FakeDocker(api))
    clock = ManualClock()
    stop = asyncio.create_task(runtime.stop("stubborn", 300, clock.sleep))
    await _until("the grace timer", lambda: len(clock.pending()) == 1)
    threads = list(runtime._wait_pool._threads)
    assert threads and any(t.is_alive() for t in threads)
    runtime.close()  # the agent stops: its exit never waits for the 300 s
    await _until("the wait thread ended", lambda: not any(t.is_alive() for t in threads), 2.0)
    stop.cancel()
    await asyncio.gather(stop, return_exceptions=True)


async def test_a_hanging_exec_probe_has_one_exec_in_flight_and_counts_timeouts():
    clock = ManualClock()
    calls: list[str] = []
    release = asyncio.Event()

    async def hanging(probe: ProbeSpec, target: ProbeTarget) -> tuple[bool, str]:
        calls.append(target.container_id)
        await release.wait()
        return True, ""

    events: list[tuple[str, str, str, str]] = []
    prober = Prober(hanging, lambda key: None, lambda *e: events.append(e), clock=clock)
    container = {"name": "app", "livenessProbe": {"exec": {"command": ["sleep", "1000"]}, "periodSeconds": 1,
                                                  "timeoutSeconds": 1, "failureThreshold": 10}}
    prober.track("u1", "default/p", [(container, "c1", clock.now())], "")
    for _ in range(3):
        await asyncio.sleep(0)
    assert calls == ["c1"]
    for _ in range(6):
        await clock.advance(1)
    assert calls == ["c1"]  # never a second exec while the first one runs
    timeouts = [e for e in events if e[2] == "Unhealthy"]
    assert len(timeouts) >= 4 and all("timeout: probe did not answer within 1s" in e[3] for e in timeouts)
    assert any("the previous one still runs" in e[3] for e in timeouts)
    release.set()
    for _ in range(3):
        await asyncio.sleep(0)
    await clock.advance(2)
    assert len(calls) >= 2  # once it answered, the next period probes again
    prober.close()


def _workers(tmp_path: Path, clock: ManualClock, api: FakeApi | None = None,
             docker_client: FakeDocker | None = None) -> PodWorkers:
    client = docker_client or FakeDocker(FakeDockerApi(set()))
    runtime = DockerRuntime("c/n1", "n1", workers=2, client_factory=lambda: client)
    return PodWorkers(api or FakeApi(), runtime, "n1", host_ip="10.0.0.9", data_dir=tmp_path,  # type: ignore[arg-type]
                      clock=clock)


async def test_a_pass_that_waits_never_delays_another_pod_nor_runs_twice(tmp_path: Path):
    workers = _workers(tmp_path, ManualClock())
    slow_may_end = asyncio.Event()
    passes: list[str] = []
    running: set[str] = set()
    overlapped: list[str] = []

    async def sync(key: str) -> None:
        if key in running:
            overlapped.append(key)
        running.add(key)
        passes.append(key)
        try:
            if key == "default/slow":
                await slow_may_end.wait()  # a grace period, a hook
        finally:
            running.discard(key)

    workers.sync = sync  # type: ignore[method-assign]
    dispatch = asyncio.create_task(workers.dispatch())
    try:
        workers.queue.add("default/slow")
        await asyncio.sleep(0)
        for i in range(6):  # more pods than Docker has threads
            workers.queue.add(f"default/fast{i}")
        await _until("the other pods' passes", lambda: len(passes) == 7, 1.0)
        workers.queue.add("default/slow")  # again while its pass runs: after it, never beside it
        for _ in range(5):
            await asyncio.sleep(0)
        assert passes.count("default/slow") == 1
        slow_may_end.set()
        await _until("the slow pod's next pass", lambda: passes.count("default/slow") == 2, 1.0)
        assert overlapped == []
    finally:
        dispatch.cancel()
        await asyncio.gather(dispatch, return_exceptions=True)
    assert workers._passes == {}


async def test_the_state_of_pods_not_on_the_node_is_forgotten(tmp_path: Path):
    clock = ManualClock()
    workers = _workers(tmp_path, clock)
    for uid in ("gone", "busy", "here"):
        workers._known.add(uid)
        workers.backoff.next(f"{uid}/c/abc", clock.now())
        workers.images._failures[f"{uid}/busybox:latest"] = (10.0, clock.now())
        workers._refused[uid] = "Forbidden"
    container = {"name": "c", "readinessProbe": {"exec": {"command": ["true"]}}}
    workers.prober.track("gone", "default/gone", [(container, "cid-gone", clock.now())], "")
    workers.triggers["default/gone"] = "pod deleted"
    workers._syncing.add("busy")  # its pass still runs: forgotten by a later round
    workers.forget_gone({"here"})
    assert {k.split("/")[0] for k in workers.backoff._entries} == {"busy", "here"}
    assert {k.split("/")[0] for k in workers.images._failures} == {"busy", "here"}
    assert set(workers._refused) == {"busy", "here"} and workers._known == {"busy", "here"}
    assert workers.prober._tasks == {} and workers.prober.results.get("cid-gone", "readiness") is None
    assert workers.triggers == {}
    workers._syncing.clear()
    workers.forget_gone({"here"})
    assert workers._known == {"here"} and set(workers._refused) == {"here"}
    workers.prober.close()


def test_a_crash_loop_comes_back_after_the_remaining_backoff(tmp_path: Path):
    clock = ManualClock()
    workers = _workers(tmp_path, clock)
    c = {"name": "app", "image": "busybox:latest"}
    pod = {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}, "spec": {"containers": [c]}}
    workers.backoff.next(backoff_key("u1", c), clock.now() - 3)
    workers.backoff.next(backoff_key("u1", c), clock.now() - 3)  # the second restart: 20 s
    duration = workers.backoff.duration(backoff_key("u1", c))
    exited = ContainerSnapshot(id="x", name="app", state="exited", restart_count=2, spec_hash="", exit_code=1,
                               started_at=clock.now() - 4, finished_at=clock.now() - 3)
    snap = PodSnapshot("u1", (), (exited,))
    actions = PodActions(backoff={"app": "back-off"})
    assert workers._backoff_left(pod, snap, actions) == pytest.approx(duration - 3)
    late = ContainerSnapshot(id="x", name="app", state="exited", restart_count=2, spec_hash="", exit_code=1,
                             started_at=clock.now() - duration, finished_at=clock.now() - duration + 0.2)
    assert workers._backoff_left(pod, PodSnapshot("u1", (), (late,)), actions) == 1.0  # at least a second


async def test_a_pod_whose_sandbox_fails_gets_its_status_on_the_first_pass(tmp_path: Path):
    def taken(*args: Any, **kwargs: Any) -> Any:
        raise docker.errors.APIError("port is already allocated")

    api = FakeApi()
    pod = await api.create(POD, "default", {"metadata": {"name": "clash", "namespace": "default"},
                                            "spec": {"nodeName": "n1", "containers": [{"name": "web",
                                                                                       "image": "busybox:latest"}]}})
    workers = _workers(tmp_path, ManualClock(), api, FakeDocker(FakeDockerApi(set()), run=taken))
    workers.network_ready.set()
    api.sync_one(workers.pods)
    with pytest.raises(SandboxFailed):
        await workers.sync("default/clash")
    written = (await api.get(POD, "default", "clash"))["status"]
    assert written["phase"] == "Pending", written
    assert [s["state"] for s in written["containerStatuses"]] == [{"waiting": {"reason": "ContainerCreating"}}]
    assert pod["metadata"]["uid"]
    workers.prober.close()
    workers.runtime.close()


def test_a_kill_with_a_positive_grace_gets_at_least_two_seconds():
    assert kill_grace(30) == 30
    assert kill_grace(30, 12.4) == 18
    assert kill_grace(30, 29.5) == 2  # a preStop hook took nearly all of it
    assert kill_grace(1) == 2  # the kubelet's minimum, with or without a hook
    assert kill_grace(30, 45) == 2
    assert kill_grace(0) == 0  # a force delete kills at once
