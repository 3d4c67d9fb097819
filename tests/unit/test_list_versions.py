"""Lists at a resourceVersion (resourceVersionMatch, continue tokens that outlive their revision)
and store failures as kube-apiserver answers them, in-process on sqlite and on a real etcd."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.resources import REGISTRY_KEY
from minikube_py.store.base import KeyValue, OutcomeUnknown, Store, Unavailable
from minikube_py.store.etcd import EtcdStore
from minikube_py.store.sqlite import SqliteStore

CMS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture(params=["sqlite", pytest.param("etcd", marks=pytest.mark.etcd)])
async def api(request: pytest.FixtureRequest, aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    if request.param == "sqlite":
        store: Store = SqliteStore(tmp_path / "state.db")
    else:
        store = EtcdStore([request.getfixturevalue("etcd_process").endpoint], compaction_interval=0)
    client: TestClient = await aiohttp_client(make_app(store))
    yield client
    await store.close()


async def create(api: TestClient, name: str) -> int:
    resp = await api.post(CMS, json={"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
    assert resp.status == 201
    return int((await resp.json())["metadata"]["resourceVersion"])


async def names(api: TestClient, query: str) -> tuple[list[str], dict[str, Any]]:
    resp = await api.get(f"{CMS}?{query}")
    body = await resp.json()
    assert resp.status == 200, body
    return [i["metadata"]["name"] for i in body["items"]], body["metadata"]


async def compact_now(api: TestClient) -> None:
    store = api.app[REGISTRY_KEY].store
    await create(api, "after-everything")  # the compaction revision must be past every revision the test uses
    await store.compact(await store.current_revision())


async def test_list_exact_reads_the_state_at_that_revision(api: TestClient) -> None:
    await create(api, "a")
    rv_b = await create(api, "b")
    await create(api, "c")
    items, meta = await names(api, f"resourceVersion={rv_b}&resourceVersionMatch=Exact")
    assert items == ["a", "b"] and meta["resourceVersion"] == str(rv_b)
    items, meta = await names(api, f"resourceVersion={rv_b}&limit=10")  # the legacy rule: with a limit, exact
    assert items == ["a", "b"] and meta["resourceVersion"] == str(rv_b)


async def test_list_not_older_than_and_a_plain_resource_version_read_the_latest(api: TestClient) -> None:
    await create(api, "a")
    rv_b = await create(api, "b")
    rv_c = await create(api, "c")
    for query in (f"resourceVersion={rv_b}&resourceVersionMatch=NotOlderThan", f"resourceVersion={rv_b}",
                  "resourceVersion=0&resourceVersionMatch=NotOlderThan"):
        items, meta = await names(api, query)
        assert items == ["a", "b", "c"] and int(meta["resourceVersion"]) >= rv_c


async def test_list_newer_than_the_store_is_504_too_large_resource_version(api: TestClient) -> None:
    rv = await create(api, "a")
    for match in ("NotOlderThan", "Exact"):
        resp = await api.get(f"{CMS}?resourceVersion={rv + 100}&resourceVersionMatch={match}")
        status = await resp.json()
        assert resp.status == 504 and status["reason"] == "Timeout"
        assert status["message"].startswith(f"Timeout: Too large resource version: {rv + 100}, current: ")
        assert status["details"]["causes"][0]["reason"] == "ResourceVersionTooLarge"


async def test_list_exact_at_a_compacted_revision_is_410(api: TestClient) -> None:
    rv = await create(api, "a")
    await create(api, "b")
    await compact_now(api)
    resp = await api.get(f"{CMS}?resourceVersion={rv}&resourceVersionMatch=Exact")
    status = await resp.json()
    assert resp.status == 410 and status["reason"] == "Expired"
    assert status["message"] == "The resourceVersion for the provided list is too old."


async def test_expired_continue_is_410_with_a_token_that_goes_on_at_the_latest_state(api: TestClient) -> None:
    for name in ("a", "b", "c"):
        await create(api, name)
    items, meta = await names(api, "limit=1")
    assert items == ["a"] and meta["continue"]
    await compact_now(api)
    resp = await api.get(f"{CMS}?limit=1&continue={meta['continue']}")
    status = await resp.json()
    assert resp.status == 410 and status["reason"] == "Expired", status
    assert status["message"].startswith("The provided continue parameter is too old to display a consistent list "
                                        "result. You can start a new list without the continue parameter, or use "
                                        "the continue token in this response")
    rest, _ = await names(api, f"limit=10&continue={status['metadata']['continue']}")
    assert rest == ["after-everything", "b", "c"]


@pytest.mark.parametrize(("query", "message"), [
    ("resourceVersionMatch=Exact",
     'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden '
     "unless resourceVersion is provided"),
    ("resourceVersion=0&resourceVersionMatch=Exact",
     'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch "exact" is '
     'forbidden for resourceVersion "0"'),
    ("resourceVersion=5&resourceVersionMatch=Newest",
     'ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: Unsupported value: "Newest": supported values: '
     '"Exact", "NotOlderThan", ""'),
])
async def test_bad_resource_version_match_is_422_as_kubernetes_words_it(api: TestClient, query: str,
                                                                        message: str) -> None:
    resp = await api.get(f"{CMS}?{query}")
    status = await resp.json()
    assert resp.status == 422 and status["reason"] == "Invalid"
    assert status["message"] == message
    assert status["details"]["causes"][0]["field"] == "resourceVersionMatch"


class FailingStore(SqliteStore):
    """Creates fail as a dying etcd makes them fail."""

    failure: Exception = OutcomeUnknown("etcd at 127.0.0.1:2379 did not answer a request it was sent")

    async def create(self, key: str, value: bytes) -> KeyValue:
        raise self.failure


async def test_write_of_unknown_outcome_is_504_timeout_and_an_unsent_one_503(aiohttp_client: Any,
                                                                             tmp_path: Path) -> None:
    store = FailingStore(tmp_path / "state.db")
    api: TestClient = await aiohttp_client(make_app(store, ensure_namespaces=False))
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}
    resp = await api.post("/api/v1/namespaces", json=body)
    status = await resp.json()
    assert resp.status == 504 and status["reason"] == "Timeout" and status["code"] == 504
    assert status["message"].startswith("Timeout: request did not complete within requested timeout - ")
    assert "the request may have succeeded" in status["message"]
    store.failure = Unavailable("etcd at 127.0.0.1:2379: not connected (transient_failure)")
    resp = await api.post("/api/v1/namespaces", json=body)
    assert resp.status == 503 and (await resp.json())["reason"] == "ServiceUnavailable"
    await store.close()
