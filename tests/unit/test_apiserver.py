"""The apiserver app in-process on the real sqlite store: wire behaviour kubectl relies on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.auth import User
from minikube_py.store import open_store

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    store = open_store("sqlite", tmp_path)
    app = make_app(store, tokens={TOKEN: User("admin", "1", ("system:masters",))})
    client: TestClient = await aiohttp_client(app, headers=AUTH)
    yield client
    await store.close()


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def deploy(name: str, replicas: int = 1) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}}


CMS = "/api/v1/namespaces/default/configmaps"
DEPLOYS = "/apis/apps/v1/namespaces/default/deployments"


async def test_request_without_token_gets_401_status(api: TestClient) -> None:
    resp = await api.get(CMS, headers={"Authorization": "Bearer wrong"})
    assert resp.status == 401
    assert (await resp.json())["reason"] == "Unauthorized"
    assert (await api.get("/healthz", headers={"Authorization": ""})).status == 200


async def test_create_sets_system_metadata_and_201(api: TestClient) -> None:
    resp = await api.post(CMS, json=cm("a", k="v"))
    assert resp.status == 201
    body = await resp.json()
    meta = body["metadata"]
    assert meta["uid"] and meta["creationTimestamp"].endswith("Z") and int(meta["resourceVersion"]) > 0
    assert meta["namespace"] == "default"


async def test_duplicate_create_is_409_already_exists(api: TestClient) -> None:
    await api.post(CMS, json=cm("dup"))
    resp = await api.post(CMS, json=cm("dup"))
    assert resp.status == 409
    status = await resp.json()
    assert status["reason"] == "AlreadyExists" and status["message"] == 'configmaps "dup" already exists'


async def test_missing_namespace_is_404(api: TestClient) -> None:
    resp = await api.post("/api/v1/namespaces/nope/configmaps", json=cm("x"))
    assert resp.status == 404
    assert (await resp.json())["message"] == 'namespaces "nope" not found'


async def test_stale_resource_version_is_409_and_changes_nothing(api: TestClient) -> None:
    created = await (await api.post(CMS, json=cm("cas", v="1"))).json()
    first = dict(created, data={"v": "2"})
    assert (await api.put(f"{CMS}/cas", json=first)).status == 200
    stale = dict(created, data={"v": "3"})
    resp = await api.put(f"{CMS}/cas", json=stale)
    assert resp.status == 409 and (await resp.json())["reason"] == "Conflict"
    assert (await (await api.get(f"{CMS}/cas")).json())["data"] == {"v": "2"}


async def test_invalid_object_is_422_with_causes_and_not_stored(api: TestClient) -> None:
    resp = await api.post(CMS, json=cm("Bad_Name"))
    assert resp.status == 422
    status = await resp.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"
    assert (await api.get(f"{CMS}/Bad_Name")).status == 404


async def test_malformed_json_is_400_and_wrong_type_is_415(api: TestClient) -> None:
    resp = await api.post(CMS, data=b"{not json", headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await resp.json())["kind"] == "Status"
    resp = await api.post(CMS, data=b"x", headers={"Content-Type": "text/csv"})
    assert resp.status == 415


async def test_unknown_patch_type_is_415(api: TestClient) -> None:
    await api.post(CMS, json=cm("p"))
    resp = await api.patch(f"{CMS}/p", data=b"{}", headers={"Content-Type": "application/xml"})
    assert resp.status == 415


@pytest.mark.parametrize(("ctype", "body"), [
    ("application/json-patch+json", b'[{"op": "replace", "path": "/metadata", "value": [1, 2]}]'),
    ("application/merge-patch+json", b'{"metadata": "x"}'),
    ("application/strategic-merge-patch+json", b'{"kind": "Secret"}'),
])
async def test_patch_that_breaks_the_object_shape_is_400_and_changes_nothing(api: TestClient, ctype: str,
                                                                               body: bytes) -> None:
    rv = (await (await api.post(CMS, json=cm("shape", a="1"))).json())["metadata"]["resourceVersion"]
    resp = await api.patch(f"{CMS}/shape", data=body, headers={"Content-Type": ctype})
    assert resp.status == 400, await resp.text()
    assert (await resp.json())["reason"] == "BadRequest"
    assert (await (await api.get(f"{CMS}/shape")).json())["metadata"]["resourceVersion"] == rv


async def test_body_over_3mib_is_413(api: TestClient) -> None:
    resp = await api.post(CMS, data=b"{" + b" " * (3 * 1024 * 1024 + 10) + b"}",
                          headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_unknown_field_strict_400_warn_header(api: TestClient) -> None:
    body = cm("strict")
    body["bogus"] = 1
    resp = await api.post(f"{CMS}?fieldValidation=Strict", json=body)
    assert resp.status == 400 and 'unknown field "bogus"' in (await resp.json())["message"]
    resp = await api.post(CMS, json=body)
    assert resp.status == 201
    assert 'unknown field \\"bogus\\"' in resp.headers.get("Warning", "")
    assert "bogus" not in await resp.json()


async def test_generation_bumps_on_spec_change_only(api: TestClient) -> None:
    d = await (await api.post(DEPLOYS, json=deploy("g"))).json()
    assert d["metadata"]["generation"] == 1
    labeled = await (await api.patch(f"{DEPLOYS}/g", json={"metadata": {"labels": {"x": "y"}}},
                                     headers={"Content-Type": "application/merge-patch+json"})).json()
    assert labeled["metadata"]["generation"] == 1
    scaled = await (await api.patch(f"{DEPLOYS}/g", json={"spec": {"replicas": 3}},
                                    headers={"Content-Type": "application/merge-patch+json"})).json()
    assert scaled["metadata"]["generation"] == 2


async def test_status_subresource_isolated_from_main_resource(api: TestClient) -> None:
    d = await (await api.post(DEPLOYS, json=deploy("s"))).json()
    d["status"] = {"replicas": 7}
    d["spec"]["replicas"] = 4
    main = await (await api.put(f"{DEPLOYS}/s", json=d)).json()
    assert main["spec"]["replicas"] == 4 and (main.get("status") or {}).get("replicas") in (None, 0)
    main["status"] = {"replicas": 7}
    main["spec"]["replicas"] = 9
    status = await (await api.put(f"{DEPLOYS}/s/status", json=main)).json()
    assert status["status"]["replicas"] == 7 and status["spec"]["replicas"] == 4


async def test_scale_subresource_reads_and_writes_replicas(api: TestClient) -> None:
    await api.post(DEPLOYS, json=deploy("sc", replicas=2))
    scale = await (await api.get(f"{DEPLOYS}/sc/scale")).json()
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"]["replicas"] == 2 and scale["status"]["selector"] == "app=sc"
    resp = await api.patch(f"{DEPLOYS}/sc/scale", json={"spec": {"replicas": 6}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200 and (await resp.json())["spec"]["replicas"] == 6
    assert (await (await api.get(f"{DEPLOYS}/sc")).json())["spec"]["replicas"] == 6


async def test_finalizer_holds_deletion_until_removed(api: TestClient) -> None:
    body = cm("fin")
    body["metadata"]["finalizers"] = ["example.com/hold"]
    await api.post(CMS, json=body)
    resp = await api.delete(f"{CMS}/fin")
    assert resp.status == 200
    held = await (await api.get(f"{CMS}/fin")).json()
    assert held["metadata"]["deletionTimestamp"]
    resp = await api.patch(f"{CMS}/fin", json={"metadata": {"finalizers": None}},
                           headers={"Content-Type": "application/merge-patch+json"})
    assert resp.status == 200
    assert (await api.get(f"{CMS}/fin")).status == 404


async def test_list_paginates_with_continue(api: TestClient) -> None:
    for i in range(5):
        await api.post(CMS, json=cm(f"page-{i}"))
    names: list[str] = []
    token = ""
    pages = 0
    while True:
        url = f"{CMS}?limit=2" + (f"&continue={token}" if token else "")
        page = await (await api.get(url)).json()
        names += [i["metadata"]["name"] for i in page["items"]]
        pages += 1
        token = page["metadata"].get("continue", "")
        if not token:
            break
    assert names == [f"page-{i}" for i in range(5)] and pages == 3


async def test_table_output_has_columns_and_rows(api: TestClient) -> None:
    await api.post(DEPLOYS, json=deploy("t"))
    table = await (await api.get(DEPLOYS, headers={"Accept": TABLE})).json()
    assert table["kind"] == "Table"
    assert [c["name"] for c in table["columnDefinitions"]][:2] == ["Name", "Ready"]
    assert table["rows"][0]["cells"][0] == "t"
    assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"


async def _events(api: TestClient, url: str, count: int, wait: float = 5) -> list[dict[str, Any]]:
    resp = await api.get(url)
    assert resp.status == 200
    out: list[dict[str, Any]] = []

    async def read() -> None:
        while len(out) < count:
            line = await resp.content.readline()
            if not line:
                return
            out.append(json.loads(line))

    await asyncio.wait_for(read(), wait)
    resp.close()
    return out


async def test_watch_from_rv_sees_changes_with_selector_transitions(api: TestClient) -> None:
    rv = (await (await api.get(CMS)).json())["metadata"]["resourceVersion"]
    # a watch from rv replays what happened after rv however late it starts: no need to wait for it
    task = asyncio.create_task(_events(api, f"{CMS}?watch=true&resourceVersion={rv}&labelSelector=team%3Dx", 3))
    body = cm("w")
    await api.post(CMS, json=body)  # not matching: no event
    merge = {"Content-Type": "application/merge-patch+json"}
    await api.patch(f"{CMS}/w", json={"metadata": {"labels": {"team": "x"}}}, headers=merge)  # starts matching
    await api.patch(f"{CMS}/w", json={"data": {"a": "b"}}, headers=merge)
    await api.patch(f"{CMS}/w", json={"metadata": {"labels": {"team": "y"}}}, headers=merge)  # stops matching
    events = await task
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]


async def test_watch_send_initial_events_ends_with_bookmark(api: TestClient) -> None:
    await api.post(CMS, json=cm("init-a"))
    await api.post(CMS, json=cm("init-b"))
    events = await _events(api, f"{CMS}?watch=true&sendInitialEvents=true&allowWatchBookmarks=true"
                                f"&resourceVersionMatch=NotOlderThan", 3)
    assert [e["type"] for e in events] == ["ADDED", "ADDED", "BOOKMARK"]
    assert events[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


async def test_watch_from_compacted_revision_gets_410_error_event(api: TestClient) -> None:
    await api.post(CMS, json=cm("old"))
    for i in range(3):
        await api.patch(f"{CMS}/old", json={"data": {"i": str(i)}},
                        headers={"Content-Type": "application/merge-patch+json"})
    registry = api.app[__import__("minikube_py.apiserver.resources", fromlist=["REGISTRY_KEY"]).REGISTRY_KEY]
    await registry.store.compact(await registry.store.current_revision())
    events = await _events(api, f"{CMS}?watch=true&resourceVersion=1", 1)
    assert events[0]["type"] == "ERROR"
    assert events[0]["object"]["code"] == 410 and events[0]["object"]["reason"] == "Expired"


async def test_pod_on_a_node_waits_for_kubelet_unless_forced(api: TestClient) -> None:
    pods = "/api/v1/namespaces/default/pods"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]}}
    assert (await api.post(pods, json=pod)).status == 201
    resp = await api.delete(f"{pods}/p")
    assert resp.status == 200
    pending = await (await api.get(f"{pods}/p")).json()
    assert pending["metadata"]["deletionGracePeriodSeconds"] == 30
    resp = await api.delete(f"{pods}/p", json={"gracePeriodSeconds": 0})
    assert resp.status == 200
    assert (await api.get(f"{pods}/p")).status == 404


async def test_discovery_lists_scale_subresource(api: TestClient) -> None:
    doc = await (await api.get("/apis/apps/v1")).json()
    scale = next(r for r in doc["resources"] if r["name"] == "deployments/scale")
    assert scale["group"] == "autoscaling" and scale["kind"] == "Scale"
    deployments = next(r for r in doc["resources"] if r["name"] == "deployments")
    assert deployments["shortNames"] == ["deploy"] and deployments["categories"] == ["all"]


async def test_events_expire_after_the_ttl(api: TestClient) -> None:
    from minikube_py.apiserver.eventttl import expire_events
    from minikube_py.apiserver.resources import REGISTRY_KEY

    def event(name: str, last: str) -> dict[str, Any]:
        return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
                "involvedObject": {"kind": "Pod", "name": "p", "namespace": "default"}, "reason": "Test",
                "message": "m", "type": "Normal", "count": 1, "firstTimestamp": last, "lastTimestamp": last}

    for name, last in (("old", "2020-01-01T00:00:00Z"), ("new", "2099-01-01T00:00:00Z")):
        r = await api.post("/api/v1/namespaces/default/events", json=event(name, last))
        assert r.status == 201, await r.text()
    store = api.server.app[REGISTRY_KEY].store
    assert await expire_events(store, 3600) == 1
    names = [e["metadata"]["name"] for e in (await (await api.get("/api/v1/namespaces/default/events")).json())[
        "items"]]
    assert names == ["new"]
