"""Namespace controller passes over a preloaded FakeApi: a Terminating namespace has its content
deleted, reports what remains in its conditions, and loses the `kubernetes` finalizer through
`namespaces/<name>/finalize` once it is empty; and the retry contract."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api.errors import InternalError, ServiceUnavailable
from minikube_py.controllers.base import Controller
from minikube_py.controllers.namespace import NamespaceController
from tests.unit.harness import Harness

Obj = dict[str, Any]
KEY = "team"


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes are driven by hand; the production batching delay would hide keys in timers."""
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def namespace(name: str = KEY, *, terminating: bool = True) -> Obj:
    meta: Obj = {"name": name}
    if terminating:
        meta["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta, "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Terminating" if terminating else "Active"}}


def named(kind: str, name: str, **meta: Any) -> Obj:
    return {"kind": kind, "metadata": {"name": name, **meta}, "spec": {}}


async def start(h: Harness, *content: tuple[str, Obj, str]) -> NamespaceController:
    nc = NamespaceController(h.ctx)
    await h.create("namespaces", namespace())
    for plural, obj, ns in content:
        await h.create(plural, obj, namespace=ns)
    h.sync()
    return nc


def conditions(h: Harness) -> dict[str, Obj]:
    ns = h.api.objects[("namespaces", None, KEY)]
    return {c["type"]: c for c in (ns.get("status") or {}).get("conditions") or []}


def left(h: Harness, plural: str) -> list[tuple[str | None, str]]:
    return [(o["metadata"].get("namespace"), o["metadata"]["name"]) for o in h.api.of(plural)]


async def test_the_content_of_a_terminating_namespace_is_deleted_then_it_is_finalized() -> None:
    h = Harness()
    nc = await start(h, ("pods", named("Pod", "web"), "team"), ("configmaps", named("ConfigMap", "cfg"), "team"),
                     ("services", named("Service", "web"), "team"), ("pods", named("Pod", "web"), "default"))
    await nc.drain()
    assert left(h, "pods") == [("default", "web")] and left(h, "configmaps") == [] and left(h, "services") == []
    assert {(verb, plural) for verb, plural, _ in h.api.writes("delete")} == \
        {("delete", "pods"), ("delete", "configmaps"), ("delete", "services")}
    assert all(opts == {"propagation": "Background"} for _, _, opts in h.api.deletions)
    cond = conditions(h)["NamespaceContentRemaining"]
    assert (cond["status"], cond["reason"]) == ("True", "SomeResourcesRemain")
    assert cond["message"] == ("Some resources are remaining: configmaps has 1 resource instances, "
                               "pods has 1 resource instances, services has 1 resource instances")
    assert h.api.writes("update/finalize") == []  # not while content was found
    assert nc.queue.waiting(KEY) == pytest.approx(1.0)  # comes back to see it gone
    await h.clock.advance(1.0)
    h.sync()
    await nc.drain()
    assert h.api.writes("update/finalize") == [("update/finalize", "namespaces", KEY)]
    assert h.api.of("namespaces") == []  # no finalizer left: the apiserver removed it
    assert left(h, "pods") == [("default", "web")]  # other namespaces are untouched


async def test_finalize_removes_only_the_kubernetes_finalizer() -> None:
    h = Harness()
    nc = NamespaceController(h.ctx)
    ns = namespace()
    ns["spec"]["finalizers"] = ["kubernetes", "example.com/audit"]
    await h.create("namespaces", ns)
    h.sync()
    await nc.drain()
    [kept] = h.api.of("namespaces")
    assert kept["spec"]["finalizers"] == ["example.com/audit"] and kept["status"]["phase"] == "Terminating"


async def test_content_with_finalizers_holds_the_namespace_and_is_reported() -> None:
    h = Harness()
    held = named("ConfigMap", "held", finalizers=["example.com/keep"], deletionTimestamp="2027-01-01T00:00:00Z")
    nc = await start(h, ("configmaps", held, "team"))
    for _ in range(3):
        await nc.drain()
        await h.clock.advance(1.0)
        h.sync()
    assert h.api.writes("delete", "configmaps") == []  # already being deleted: not deleted again
    assert h.api.writes("update/finalize") == []
    assert conditions(h)["NamespaceFinalizersRemaining"]["message"] == \
        "Some content in the namespace has finalizers remaining: example.com/keep in 1 resource instances"
    assert len(h.api.writes("patch/status", "namespaces")) == 1  # conditions written once, not every pass
    del h.api.objects[("configmaps", "team", "held")]  # its finalizer's owner finished
    await h.clock.advance(1.0)
    h.sync()
    await nc.drain()
    assert h.api.of("namespaces") == []


async def test_an_active_namespace_is_left_alone() -> None:
    h = Harness()
    nc = NamespaceController(h.ctx)
    await h.create("namespaces", namespace(terminating=False))
    await h.create("pods", named("Pod", "web"), namespace=KEY)
    h.sync()
    nc.queue.add(KEY)
    await nc.drain()
    assert h.api.writes("delete") == [] and h.api.writes("update/finalize") == []


async def test_a_failed_delete_writes_the_conditions_and_retries_with_backoff() -> None:
    h = Harness()
    nc = await start(h, ("pods", named("Pod", "web"), "team"), ("configmaps", named("ConfigMap", "cfg"), "team"))
    h.api.fail("delete", "pods", ServiceUnavailable("the apiserver is overloaded"))
    await nc.drain()
    assert left(h, "pods") == [("team", "web")] and left(h, "configmaps") == []  # the other kinds went on
    assert "pods has 1 resource instances" in conditions(h)["NamespaceContentRemaining"]["message"]
    assert nc.errors == 1
    delay = nc.queue.waiting(KEY)
    assert delay is not None and delay < 1.0  # the backoff, not the 1 s look-again
    await h.clock.advance(delay)
    h.sync()
    await nc.drain()
    assert left(h, "pods") == []
    await h.clock.advance(1.0)
    h.sync()
    await nc.drain()
    assert h.api.of("namespaces") == []


async def test_a_failed_list_is_not_taken_for_an_empty_namespace() -> None:
    h = Harness()
    nc = await start(h, ("secrets", named("Secret", "token"), "team"))
    h.api.fail("list", "secrets", InternalError("etcd timed out"))
    await nc.drain()
    assert h.api.writes("update/finalize") == []  # the secret could not be seen: not finalized
    delay = nc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    h.sync()
    await nc.drain()
    assert left(h, "secrets") == []
    await h.clock.advance(1.0)
    h.sync()
    await nc.drain()
    assert h.api.of("namespaces") == []


async def test_a_failed_finalize_is_retried_with_backoff() -> None:
    h = Harness()
    nc = NamespaceController(h.ctx)
    await h.create("namespaces", namespace())
    h.sync()
    h.api.fail("update", "namespaces", ServiceUnavailable("try again"))
    await nc.drain()
    assert len(h.api.of("namespaces")) == 1
    delay = nc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await nc.drain()
    assert h.api.of("namespaces") == []
