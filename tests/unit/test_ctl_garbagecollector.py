"""Garbage collector passes over a preloaded FakeApi: background deletion of the dependents of a
vanished owner (checked against the apiserver, not only the cache), orphaning, foreground
deletion that waits for blocking dependents, and the retry contract."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api import kinds
from minikube_py.api.errors import InternalError, ServiceUnavailable
from minikube_py.controllers.base import Controller
from minikube_py.controllers.claims import owner_ref
from minikube_py.controllers.garbagecollector import GarbageCollector
from tests.unit.harness import Harness

Obj = dict[str, Any]
RS = kinds.require("apps/v1", "ReplicaSet")
RS_KEY = ("replicasets.apps", "default/web")


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes are driven by hand; the production batching delay would hide keys in timers."""
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def replicaset(name: str = "web") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": name}}}}


def pod(name: str, *owners: Obj, block: bool = True) -> Obj:
    refs = [owner_ref(o, block=block) for o in owners]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "ownerReferences": refs},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def pod_key(name: str) -> tuple[str, str]:
    return ("pods", f"default/{name}")


def names(h: Harness, plural: str) -> list[str]:
    return [o["metadata"]["name"] for o in h.api.of(plural)]


async def start(h: Harness) -> tuple[GarbageCollector, Obj]:
    gc = GarbageCollector(h.ctx)
    rs = await h.create("replicasets", replicaset())
    await h.create("pods", pod("web-1", rs))
    await h.create("pods", pod("web-2", rs))
    h.sync()
    await gc.drain()  # every owner is alive: nothing to do
    assert h.api.writes("delete") == [] and h.api.writes("patch") == []
    return gc, rs


async def test_dependents_of_a_vanished_owner_are_deleted_in_the_background() -> None:
    h = Harness()
    gc, _ = await start(h)
    uids = {p["metadata"]["name"]: p["metadata"]["uid"] for p in h.api.of("pods")}
    del h.api.objects[("replicasets", "default", "web")]
    h.sync()  # the owner's DELETED event queues its dependents
    await gc.drain()
    assert names(h, "pods") == []
    assert sorted(h.api.deletions) == [
        ("pods", name, {"propagation": "Background", "preconditions": {"uid": uids[name]}}) for name in ("web-1", "web-2")]


async def test_an_owner_missing_only_from_the_cache_keeps_its_dependents() -> None:
    h = Harness()
    gc = GarbageCollector(h.ctx)
    rs = await h.create("replicasets", replicaset())
    await h.create("pods", pod("web-1", rs))
    h.api.sync_one(gc.informers["pods"])  # the pods' watch is ahead of the replicasets'
    await gc.drain()
    assert names(h, "pods") == ["web-1"] and h.api.writes("delete") == []


async def test_an_owner_recreated_under_the_same_name_does_not_keep_the_old_ones_dependents() -> None:
    h = Harness()
    gc = GarbageCollector(h.ctx)
    old = await h.create("replicasets", replicaset())
    await h.create("pods", pod("web-1", old))
    del h.api.objects[("replicasets", "default", "web")]
    await h.create("replicasets", replicaset())  # same name, new uid
    h.sync()
    await gc.drain()
    assert names(h, "pods") == [] and names(h, "replicasets") == ["web"]


async def test_a_reference_to_a_vanished_owner_is_removed_when_another_owner_remains() -> None:
    h = Harness()
    gc = GarbageCollector(h.ctx)
    a = await h.create("replicasets", replicaset("a"))
    b = await h.create("replicasets", replicaset("b"))
    await h.create("pods", pod("shared", a, b))
    del h.api.objects[("replicasets", "default", "a")]
    h.sync()
    await gc.drain()
    [shared] = h.api.of("pods")
    assert [r["name"] for r in shared["metadata"]["ownerReferences"]] == ["b"]
    assert h.api.writes("delete") == []


async def test_orphan_deletion_removes_owner_references_then_the_finalizer() -> None:
    h = Harness()
    gc, _ = await start(h)
    await h.api.delete(RS, "default", "web", propagation="Orphan")  # kubectl delete --cascade=orphan
    assert h.api.of("replicasets")[0]["metadata"]["finalizers"] == ["orphan"]
    h.sync()
    await gc.drain()
    assert names(h, "pods") == ["web-1", "web-2"]  # kept, and nobody's now
    assert all("ownerReferences" not in p["metadata"] for p in h.api.of("pods"))
    patches = [(plural, name) for verb, plural, name in h.api.calls if verb == "patch"]
    assert patches == [("pods", "web-1"), ("pods", "web-2"), ("replicasets", "web")]  # the finalizer last
    assert names(h, "replicasets") == []  # its last finalizer gone, the apiserver removed it
    h.sync()
    await gc.drain()
    assert names(h, "pods") == ["web-1", "web-2"]  # orphans are not collected


async def test_foreground_deletion_deletes_dependents_and_waits_for_the_blocking_ones() -> None:
    h = Harness()
    gc = GarbageCollector(h.ctx)
    rs = await h.create("replicasets", replicaset())
    await h.create("pods", pod("blocking", rs, block=True))
    await h.create("pods", pod("free", rs, block=False))
    await h.api.delete(RS, "default", "web", propagation="Foreground")
    h.sync()
    await gc.drain()
    assert sorted((name, opts["propagation"]) for plural, name, opts in h.api.deletions if plural == "pods") == \
        [("blocking", "Foreground"), ("free", "Foreground")]
    # the dependents are being deleted in the foreground too: the owner waits, and looks again
    assert h.api.of("replicasets")[0]["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert gc.queue.waiting(RS_KEY) == pytest.approx(2.0)
    h.sync()
    await gc.drain()  # each pod has no dependents of its own: its finalizer goes, and so does it
    assert names(h, "pods") == [] and names(h, "replicasets") == ["web"]
    h.sync()  # the last blocking dependent's DELETED event wakes the owner at once
    await gc.drain()
    assert names(h, "replicasets") == []


async def test_a_non_blocking_dependent_does_not_hold_up_foreground_deletion() -> None:
    h = Harness()
    gc = GarbageCollector(h.ctx)
    rs = await h.create("replicasets", replicaset())
    await h.create("pods", pod("free", rs, block=False))
    await h.api.delete(RS, "default", "web", propagation="Foreground")
    h.sync()
    await gc.drain()
    assert names(h, "replicasets") == [] and gc.queue.waiting(RS_KEY) is None
    assert [(p, n) for p, n, _ in h.api.deletions] == [("replicasets", "web"), ("pods", "free")]


async def test_a_failed_background_delete_is_retried_with_backoff() -> None:
    h = Harness()
    gc, _ = await start(h)
    del h.api.objects[("replicasets", "default", "web")]
    h.api.fail("delete", "pods", ServiceUnavailable("the apiserver is overloaded"))
    h.sync()
    await gc.drain()
    [left] = names(h, "pods")  # one delete failed, the other went through
    gone = ({"web-1", "web-2"} - {left}).pop()
    delay = gc.queue.waiting(pod_key(left))
    assert delay is not None and gc.queue.waiting(pod_key(gone)) is None
    await h.clock.advance(delay)
    await gc.drain()
    assert names(h, "pods") == []


async def test_a_failed_orphaning_patch_keeps_the_finalizer_until_a_retry_succeeds() -> None:
    h = Harness()
    gc, _ = await start(h)
    await h.api.delete(RS, "default", "web", propagation="Orphan")
    h.api.fail("patch", "pods", InternalError("etcd timed out"))
    h.sync()
    await gc.drain()
    assert h.api.of("replicasets")[0]["metadata"]["finalizers"] == ["orphan"]  # not before every dependent is free
    delay = gc.queue.waiting(RS_KEY)
    assert delay is not None
    await h.clock.advance(delay)
    h.sync()
    await gc.drain()
    assert names(h, "replicasets") == []
    assert names(h, "pods") == ["web-1", "web-2"]
    assert all("ownerReferences" not in p["metadata"] for p in h.api.of("pods"))
