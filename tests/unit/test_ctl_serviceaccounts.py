"""ServiceAccounts controller passes over a preloaded FakeApi: a `default` account for every active
namespace, put back when deleted, none for a terminating namespace, no writes when it is there,
and the retry contract."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api.errors import Forbidden, ServiceUnavailable
from minikube_py.controllers.base import Controller
from minikube_py.controllers.serviceaccounts import ServiceAccountsController
from tests.unit.harness import Harness

Obj = dict[str, Any]


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def namespace(name: str, *, terminating: bool = False) -> Obj:
    meta: Obj = {"name": name}
    if terminating:
        meta["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta,
            "status": {"phase": "Terminating" if terminating else "Active"}}


def accounts(h: Harness) -> list[tuple[str, str]]:
    return [(sa["metadata"]["namespace"], sa["metadata"]["name"]) for sa in h.api.of("serviceaccounts")]


async def start(h: Harness, *namespaces: Obj) -> ServiceAccountsController:
    sc = ServiceAccountsController(h.ctx)
    for ns in namespaces:
        await h.create("namespaces", ns, namespace=None)
    h.sync()
    await sc.drain()
    return sc


async def test_every_active_namespace_gets_a_default_account_and_a_terminating_one_none() -> None:
    h = Harness()
    await start(h, namespace("default"), namespace("team"), namespace("gone", terminating=True))
    assert sorted(accounts(h)) == [("default", "default"), ("team", "default")]


async def test_a_deleted_default_account_is_created_again() -> None:
    h = Harness()
    sc = await start(h, namespace("team"))
    h.sync()  # the cache sees the account
    del h.api.objects[("serviceaccounts", "team", "default")]
    h.sync()  # the DELETED event queues the namespace
    assert await sc.drain() == 1
    assert accounts(h) == [("team", "default")]
    assert h.api.writes("create", "serviceaccounts") == [("create", "serviceaccounts", "default")] * 2


async def test_nothing_is_written_when_the_account_is_there() -> None:
    h = Harness()
    sc = await start(h, namespace("team"))
    before = len(h.api.calls)
    h.sync()
    sc.queue.add("team")
    await sc.drain()
    assert len(h.api.calls) == before


async def test_a_namespace_that_started_terminating_meanwhile_is_not_an_error() -> None:
    h = Harness()
    h.api.fail("create", "serviceaccounts", Forbidden(
        "unable to create new content in namespace team because it is being terminated",
        {"causes": [{"reason": "NamespaceTerminating"}]}))
    sc = await start(h, namespace("team"))
    assert sc.errors == 0 and accounts(h) == [] and sc.queue.waiting("team") is None


async def test_a_failed_create_is_retried_with_backoff() -> None:
    h = Harness()
    h.api.fail("create", "serviceaccounts", ServiceUnavailable("the apiserver is overloaded"))
    sc = await start(h, namespace("team"))
    assert accounts(h) == [] and sc.errors == 1
    delay = sc.queue.waiting("team")
    assert delay is not None
    await h.clock.advance(delay)
    await sc.drain()
    assert accounts(h) == [("team", "default")]
