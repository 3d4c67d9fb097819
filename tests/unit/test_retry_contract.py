"""The retry contract of the control loops, on the unit harness (FakeApi, manual clock):

- a pass that fails a write fails as a whole, after writing status, and its key comes back after
  a per-key backoff (or the server's Retry-After), until the work is done;
- a create whose outcome is unknown (Timeout) is never repeated blindly;
- informers resync, and a failing handler is logged with the key and does not stop the others;
- the REST client raises the api.errors class of the Status and waits out Retry-After;
- the scheduler retries a failed bind after its backoff;
- a controller that changes a cached object is caught by the harness.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from typing import Any

import pytest
from aiohttp import web

from minikube_py.api import errors as E
from minikube_py.api import kinds
from minikube_py.client.aio import ApiClient
from minikube_py.client.informer import Informer
from minikube_py.client.kubeconfig import Connection
from minikube_py.controllers.base import Controller
from minikube_py.controllers.replicaset import ReplicaSetController
from minikube_py.scheduler.scheduler import Scheduler
from tests.unit.harness import CacheModified, Harness

Obj = dict[str, Any]
KEY = "default/web-abc"
TEMPLATE = {"metadata": {"labels": {"app": "web"}}, "spec": {"containers": [{"name": "web", "image": "nginx"}]}}


def replicaset(replicas: int) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web-abc"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": copy.deepcopy(TEMPLATE)}}


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


async def _rs_harness(replicas: int) -> tuple[Harness, ReplicaSetController]:
    h = Harness()
    rsc = ReplicaSetController(h.ctx)
    await h.create("replicasets", replicaset(replicas))
    h.sync()
    return h, rsc


async def test_failed_creates_fail_the_pass_after_status_and_the_set_heals_after_backoff() -> None:
    h, rsc = await _rs_harness(3)
    h.api.fail("create", "pods", E.ServiceUnavailable("etcd is away"), times=2)
    await rsc.drain()
    assert h.api.of("pods") == []
    assert rsc.errors == 1
    # the status went out before the error: the set says why it has no pods
    status = h.api.of("replicasets")[0]["status"]
    assert status["conditions"][0]["type"] == "ReplicaFailure" and "etcd is away" in status["conditions"][0]["message"]
    delay = rsc.queue.waiting(KEY)
    assert delay is not None and delay > 0  # requeued with backoff, not dropped and not hot-looped
    for _ in range(6):  # each retry comes from the backoff timer alone: nobody re-adds the key
        await h.clock.advance(rsc.queue.waiting(KEY) or 0.0)
        await rsc.drain()
        h.sync()
        if len(h.api.of("pods")) == 3:
            break
    assert len(h.api.of("pods")) == 3
    assert len(h.api.writes("create", "pods")) == 3  # no more creates than pods: failures created nothing
    assert [c for c in h.api.calls if c[0] == "failed-create"] == [("failed-create", "pods", "ServiceUnavailable")] * 2


async def test_failed_deletes_are_retried_not_dropped() -> None:
    h, rsc = await _rs_harness(3)
    await rsc.drain()
    h.sync()
    await rsc.drain()
    h.edit("replicasets", "web-abc")["spec"]["replicas"] = 1
    h.sync()
    h.api.fail("delete", "pods", E.InternalError("boom"), times=2)
    await rsc.drain()
    assert len(h.api.of("pods")) == 3 and rsc.errors == 1
    assert rsc.queue.waiting(KEY) is not None
    await h.clock.advance(rsc.queue.waiting(KEY) or 0.0)
    await rsc.drain()
    h.sync()
    await rsc.drain()
    assert len(h.api.of("pods")) == 1
    await h.settle_events()
    assert h.events("FailedDelete") and h.events("SuccessfulDelete")


async def test_a_retry_after_from_the_server_sets_the_requeue_delay() -> None:
    h, rsc = await _rs_harness(1)
    h.api.fail("create", "pods", E.TooManyRequests("slow down", retry_after=7.0))
    await rsc.drain()
    assert rsc.queue.waiting(KEY) == pytest.approx(7.0)


async def test_a_create_that_timed_out_is_not_repeated_before_the_watch_shows_it() -> None:
    h, rsc = await _rs_harness(1)
    # the apiserver answered 504 but the pod was in fact made (the write's outcome was unknown)
    original = h.api.create

    async def create_then_time_out(info: kinds.KindInfo, ns: str | None, body: Obj, *a: Any, **kw: Any) -> Obj:
        await original(info, ns, body, *a, **kw)
        raise E.Timeout("the request may have succeeded")

    h.api.create = create_then_time_out  # type: ignore[method-assign]
    await rsc.drain()
    assert len(h.api.of("pods")) == 1 and rsc.errors == 1
    h.api.create = original  # type: ignore[method-assign]
    await h.clock.advance(rsc.queue.waiting(KEY) or 0.0)
    await rsc.drain()  # the cache has not seen the pod yet: the timed-out create is still expected
    assert len(h.api.of("pods")) == 1
    h.sync()
    await rsc.drain()
    assert len(h.api.of("pods")) == 1
    assert h.api.of("replicasets")[0]["status"]["replicas"] == 1


async def test_conflicts_are_retried_quietly(caplog: pytest.LogCaptureFixture) -> None:
    h, rsc = await _rs_harness(0)
    h.api.fail("update", "replicasets", E.Conflict("the object has been modified"))
    h.edit("replicasets", "web-abc")["metadata"]["generation"] = 2
    h.sync()
    with caplog.at_level(logging.DEBUG, logger="minikube_py.controllers"):
        await rsc.drain()
    assert rsc.queue.waiting(KEY) is not None
    record = next(r for r in caplog.records if "retrying" in r.getMessage())
    assert record.levelno == logging.DEBUG and record.getMessage().startswith(KEY)


async def test_a_controller_that_changes_a_cached_object_is_caught() -> None:
    h, rsc = await _rs_harness(1)

    async def bad(key: Any) -> float | None:
        rs = rsc.sets.get(key)
        assert rs is not None
        rs["spec"]["replicas"] = 5  # the cache's own object
        return None

    rsc.reconcile = bad  # type: ignore[method-assign]
    rsc.queue.add(KEY)
    with pytest.raises(CacheModified, match="replicaset-controller changed the informer cache"):
        await rsc.drain()


# --- informers -------------------------------------------------------------------------------------

async def test_resync_replays_the_cache_and_a_failing_handler_is_logged_with_the_key(
        caplog: pytest.LogCaptureFixture) -> None:
    h = Harness()
    info = kinds.require("v1", "ConfigMap")
    inf = Informer(h.api, info, resync=30.0, clock=h.clock)  # type: ignore[arg-type]
    await h.api.create(info, "default", {"metadata": {"name": "cm"}})
    heard: list[tuple[str, bool]] = []

    def failing(kind: str, obj: Obj, old: Obj | None) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(failing)
    inf.add_handler(lambda kind, obj, old: heard.append((kind, old is obj)))
    with caplog.at_level(logging.WARNING, logger="minikube_py.informer"):
        h.api.sync_one(inf)
    assert heard == [("ADDED", False)]  # the second handler ran although the first raised
    warning = next(r for r in caplog.records if "handler bug" in r.getMessage())
    assert warning.levelno == logging.WARNING and warning.getMessage().startswith("default/cm")
    assert inf.handler_errors == 1
    loop_task = asyncio.create_task(inf._resync_loop())
    await asyncio.sleep(0)  # the loop starts its first wait
    try:
        await h.clock.advance(30.0)
        assert heard[-1] == ("MODIFIED", True) and inf.resyncs == 1
        await h.clock.advance(30.0)
        assert inf.resyncs == 2
    finally:
        loop_task.cancel()


# --- the REST client -------------------------------------------------------------------------------

class _InstantClock:
    def __init__(self) -> None:
        self.slept: list[float] = []

    def now(self) -> float:
        return 0.0

    def monotonic(self) -> float:
        return 0.0

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def call_later(self, delay: float, callback: Any) -> Any:
        raise AssertionError("not used")


async def test_the_client_raises_status_classes_and_waits_out_retry_after(aiohttp_server: Any) -> None:
    answers = [web.json_response({"kind": "Status", "reason": "TooManyRequests", "code": 429, "message": "slow"},
                                 status=429, headers={"Retry-After": "2"}),
               web.json_response({"kind": "Status", "reason": "NotFound", "code": 404,
                                  "message": 'configmaps "x" not found',
                                  "details": {"name": "x", "kind": "configmaps"}}, status=404),
               web.Response(status=502, text="bad gateway")]
    seen: list[str] = []

    async def handler(request: web.Request) -> web.StreamResponse:
        seen.append(request.method)
        return answers.pop(0)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = await aiohttp_server(app)
    clock = _InstantClock()
    client = ApiClient(Connection(server=str(server.make_url(""))), clock=clock)
    info = kinds.require("v1", "ConfigMap")
    try:
        with pytest.raises(E.NotFound) as caught:
            await client.get(info, "default", "x")
        assert seen == ["GET", "GET"] and clock.slept == [2.0]  # the 429 was waited out and sent again
        assert caught.value.code == 404 and caught.value.status()["details"]["name"] == "x"
        with pytest.raises(E.InternalError) as bad:
            await client.create(info, "default", {"metadata": {"name": "y"}})
        assert bad.value.code == 502 and not isinstance(bad.value, E.NotFound)
    finally:
        await client.close()


async def test_transport_failures_are_unreachable_errors() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once we leave: nothing listens there
    client = ApiClient(Connection(server=f"http://127.0.0.1:{port}"))
    info = kinds.require("v1", "ConfigMap")
    try:
        with pytest.raises(E.Unreachable) as caught:
            await client.get(info, "default", "x")
        assert isinstance(caught.value, E.ServiceUnavailable) and caught.value.temporary
    finally:
        await client.close()


# --- the scheduler ---------------------------------------------------------------------------------

def _node(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
            "status": {"allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
                       "conditions": [{"type": "Ready", "status": "True"}]}}


async def test_a_failed_bind_is_retried_after_the_backoff() -> None:
    h = Harness()
    sched = Scheduler(h.informers, h.recorder, clock=h.clock)
    node_info, pod_info = kinds.require("v1", "Node"), kinds.require("v1", "Pod")
    await h.api.create(node_info, None, _node("n1"))
    await h.api.create(pod_info, "default", {"metadata": {"name": "p"},
                                             "spec": {"containers": [{"name": "c", "image": "x"}]}})
    h.sync()
    h.api.fail("bind", "pods", E.ServiceUnavailable("apiserver restarting"))
    pod = sched.pods.get("default/p")
    assert pod is not None
    assert sched.schedule_one(pod) == "n1"
    await sched.wait_binds()
    assert h.api.objects[("pods", "default", "p")]["spec"].get("nodeName") is None
    assert "default/p" not in sched.assumed and h.clock.pending() == [pytest.approx(1.0)]  # kube-scheduler's 1 s
    await h.clock.advance(1.0)
    assert sched._queued == {"default/p"}  # back in the active queue, by the timer alone
    sched._queued.clear()
    sched._active.clear()
    assert sched.schedule_one(pod) == "n1"
    await sched.wait_binds()
    assert h.api.objects[("pods", "default", "p")]["spec"]["nodeName"] == "n1"


async def test_backoff_grows_only_while_passes_make_no_progress() -> None:
    h, rsc = await _rs_harness(0)
    await rsc.drain()  # status written once: nothing more to write
    h.sync()
    h.edit("replicasets", "web-abc")["spec"]["replicas"] = 40
    h.sync()
    h.api.fail("create", "pods", E.InternalError("down"), times=4)  # four passes get nothing through
    delays: list[float] = []
    for _ in range(4):
        await rsc.drain()
        delays.append(rsc.queue.waiting(KEY) or 0.0)
        h.api.sync_one(rsc.sets)  # the set's status as written (a pod event would requeue the key)
        await h.clock.advance(delays[-1])  # only the backoff timer brings the key back
    assert delays[1:] == sorted(delays[1:]) and delays[-1] >= 4 * delays[1]  # growing: nothing got through
    # now one create in four fails: every pass gets some pods made before its failure, so the backoff
    # goes back to its base instead of growing (a status write alone would not count)
    original, calls = h.api.create, [0]

    async def every_fourth_fails(info: kinds.KindInfo, ns: str | None, body: Obj, *a: Any, **kw: Any) -> Obj:
        if info.plural == "pods":
            calls[0] += 1
            if calls[0] % 4 == 0:
                raise E.InternalError("flaky")
        return await original(info, ns, body, *a, **kw)

    h.api.create = every_fourth_fails  # type: ignore[method-assign]
    for _ in range(30):
        await rsc.drain()
        h.sync()
        if len(h.api.of("pods")) == 40:
            break
        waiting = rsc.queue.waiting(KEY)
        # a pass whose first create fails makes no progress and doubles the delay once; the next one
        # that makes pods brings it back to the base: it never climbs
        assert waiting is not None and waiting <= 0.0101, f"backoff grew to {waiting} although pods were made"
        await h.clock.advance(waiting)
    assert len(h.api.of("pods")) == 40


async def test_a_pass_that_only_reports_a_new_failure_each_time_still_backs_off() -> None:
    # every create is refused with a different message, so each pass writes a new ReplicaFailure
    # status: that write reports the failure, it is no progress, and must not reset the backoff
    h, rsc = await _rs_harness(1)
    for i in range(5):
        h.api.fail("create", "pods", E.Invalid(f'Pod "web-abc-{i}" is invalid: metadata.name: Too long'))
    delays: list[float] = []
    for _ in range(5):
        await rsc.drain()
        h.api.sync_one(rsc.sets)
        delays.append(rsc.queue.waiting(KEY) or 0.0)
        await h.clock.advance(delays[-1])
    assert len(h.api.writes("update/status", "replicasets")) >= 4  # the status did change every pass
    assert delays == sorted(delays) and delays[-1] >= 8 * delays[0], delays


async def test_a_create_lost_on_the_connection_is_waited_for_30s_not_5_minutes() -> None:
    h, rsc = await _rs_harness(1)
    h.api.fail("create", "pods", E.ConnectionLost("the connection broke before an answer came"))
    await rsc.drain()  # the pod was in fact never made
    assert h.api.of("pods") == []
    await h.clock.advance(10.0)
    rsc.queue.add(KEY)
    await rsc.drain()
    assert h.api.of("pods") == []  # still expected: it might yet show in the watch
    await h.clock.advance(21.0)
    rsc.queue.add(KEY)
    await rsc.drain()
    assert len(h.api.of("pods")) == 1  # 30 s on, it is made again
