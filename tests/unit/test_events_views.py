"""events.k8s.io/v1 and core/v1 Events as two views of one store, in-process on sqlite: a write
through either group is read through the other (get, list, field selectors, watch), with kube's
field mapping and its events.k8s.io validation."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp.test_utils import TestClient

from minikube_py.api.events import from_core, to_core
from tests.unit.test_apiserver import _events, api  # noqa: F401 - the fixture

CORE = "/api/v1/namespaces/default/events"
NEW = "/apis/events.k8s.io/v1/namespaces/default/events"
MERGE = {"Content-Type": "application/merge-patch+json"}


def new_event(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": name},
            "eventTime": "2026-12-01T10:00:00.000000Z", "reportingController": "example.com/ctl",
            "reportingInstance": "ctl-1", "action": "Scaling", "reason": "Scaled", "type": "Normal",
            "note": "scaled to 3", "regarding": {"kind": "Deployment", "namespace": "default", "name": "web",
                                                 "apiVersion": "apps/v1"},
            "related": {"kind": "ReplicaSet", "namespace": "default", "name": "web-1"}, **extra}


def core_event(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name},
            "involvedObject": {"kind": "Pod", "namespace": "default", "name": "p"}, "reason": "Pulled",
            "message": "pulled the image", "type": "Normal", "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2026-12-01T10:00:00Z", "lastTimestamp": "2026-12-01T10:05:00Z", "count": 4,
            "reportingComponent": "kubelet", "reportingInstance": "n1"}


def test_the_converters_map_kubes_fields_both_ways() -> None:
    core = core_event("e")
    core["metadata"]["resourceVersion"] = "7"
    view = from_core(core)
    assert view["apiVersion"] == "events.k8s.io/v1" and view["metadata"]["resourceVersion"] == "7"
    assert (view["note"], view["regarding"]["name"], view["reportingController"], view["deprecatedSource"],
            view["deprecatedFirstTimestamp"], view["deprecatedLastTimestamp"], view["deprecatedCount"]) == (
        "pulled the image", "p", "kubelet", {"component": "kubelet", "host": "n1"}, "2026-12-01T10:00:00Z",
        "2026-12-01T10:05:00Z", 4)
    assert to_core(view) == core
    newer = new_event("n", series={"count": 2, "lastObservedTime": "2026-12-01T10:01:00.000000Z"})
    assert from_core(to_core(newer)) == newer


async def test_an_event_written_through_events_k8s_io_is_a_core_event(api: TestClient) -> None:  # noqa: F811
    resp = await api.post(NEW, json=new_event("scaled"))
    assert resp.status == 201, await resp.text()
    created = await resp.json()
    assert created["apiVersion"] == "events.k8s.io/v1" and created["note"] == "scaled to 3"
    core = await (await api.get(f"{CORE}/scaled")).json()
    assert core["apiVersion"] == "v1"
    assert (core["message"], core["involvedObject"]["name"], core["reportingComponent"], core["related"]["name"],
            core["action"], core["eventTime"]) == ("scaled to 3", "web", "example.com/ctl", "web-1", "Scaling",
                                                  "2026-12-01T10:00:00.000000Z")
    assert core["metadata"]["uid"] == created["metadata"]["uid"]
    assert core["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]
    listed = await (await api.get(f"{CORE}?fieldSelector=involvedObject.name%3Dweb")).json()
    assert [e["metadata"]["name"] for e in listed["items"]] == ["scaled"]


async def test_a_core_event_is_listed_and_updated_through_events_k8s_io(api: TestClient) -> None:  # noqa: F811
    assert (await api.post(CORE, json=core_event("pulled"))).status == 201
    listed = await (await api.get(f"{NEW}?fieldSelector=regarding.name%3Dp")).json()
    assert listed["kind"] == "EventList" and listed["apiVersion"] == "events.k8s.io/v1"
    [item] = listed["items"]
    assert (item["note"], item["deprecatedCount"], item["regarding"]["kind"]) == ("pulled the image", 4, "Pod")
    assert "message" not in item and "involvedObject" not in item
    # an old event (no eventTime) may be updated through the new group: only its series changes
    resp = await api.patch(f"{NEW}/pulled", json={"series": {"count": 5, "lastObservedTime":
                                                             "2026-12-01T10:06:00.000000Z"}}, headers=MERGE)
    assert resp.status == 200, await resp.text()
    core = await (await api.get(f"{CORE}/pulled")).json()
    assert core["series"] == {"count": 5, "lastObservedTime": "2026-12-01T10:06:00.000000Z"}
    refused = await api.patch(f"{NEW}/pulled", json={"note": "changed"}, headers=MERGE)
    assert refused.status == 422 and "note: Invalid value" in (await refused.json())["message"]
    gone = await api.delete(f"{NEW}/pulled")
    assert gone.status == 200
    assert (await api.get(f"{CORE}/pulled")).status == 404


async def test_events_k8s_io_creates_need_kubes_fields(api: TestClient) -> None:  # noqa: F811
    bare = {"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "bare"},
            "regarding": {"kind": "Pod", "namespace": "default", "name": "p"}, "deprecatedCount": 3}
    resp = await api.post(NEW, json=bare)
    assert resp.status == 422
    fields = {c["field"] for c in (await resp.json())["details"]["causes"]}
    assert fields == {"eventTime", "type", "deprecatedCount"}
    timed = dict(bare, eventTime="2026-12-01T10:00:00.000000Z", type="Normal")
    timed.pop("deprecatedCount")
    fields = {c["field"] for c in (await (await api.post(NEW, json=timed)).json())["details"]["causes"]}
    assert fields == {"reportingController", "reportingInstance", "action", "reason"}


async def test_a_watch_on_either_group_sees_writes_through_the_other(api: TestClient) -> None:  # noqa: F811
    rv = (await (await api.get(CORE)).json())["metadata"]["resourceVersion"]
    on_new = asyncio.create_task(_events(api, f"{NEW}?watch=true&resourceVersion={rv}&fieldSelector=regarding.name%3Dp", 2))
    on_core = asyncio.create_task(_events(api, f"{CORE}?watch=true&resourceVersion={rv}", 2))
    await api.post(CORE, json=core_event("from-core"))
    await api.post(NEW, json=new_event("from-new", regarding={"kind": "Pod", "namespace": "default", "name": "p"}))
    new_events, core_events = await on_new, await on_core
    assert [(e["type"], e["object"]["apiVersion"], e["object"]["metadata"]["name"]) for e in new_events] == [
        ("ADDED", "events.k8s.io/v1", "from-core"), ("ADDED", "events.k8s.io/v1", "from-new")]
    assert new_events[0]["object"]["note"] == "pulled the image"
    assert [(e["object"]["apiVersion"], e["object"]["metadata"]["name"]) for e in core_events] == [
        ("v1", "from-core"), ("v1", "from-new")]
    assert core_events[1]["object"]["message"] == "scaled to 3"


async def test_field_selectors_follow_kubes_event_fields_in_both_groups(api: TestClient) -> None:  # noqa: F811
    await api.post(CORE, json=core_event("from-kubelet"))
    await api.post(NEW, json=new_event("from-ctl"))

    async def names(url: str) -> list[str]:
        return [e["metadata"]["name"] for e in (await (await api.get(url)).json())["items"]]

    assert await names(f"{NEW}?fieldSelector=reportingController%3Dexample.com/ctl") == ["from-ctl"]
    assert await names(f"{CORE}?fieldSelector=reportingComponent%3Dexample.com/ctl") == ["from-ctl"]
    # `source` is source.component, else the reporting controller, through either group
    assert await names(f"{CORE}?fieldSelector=source%3Dexample.com/ctl") == ["from-ctl"]
    assert await names(f"{NEW}?fieldSelector=source%3Dkubelet") == ["from-kubelet"]
    assert await names(f"{NEW}?fieldSelector=regarding.apiVersion%3Dapps/v1") == ["from-ctl"]


async def test_each_event_group_accepts_only_its_own_field_spellings(api: TestClient) -> None:  # noqa: F811
    """kube registers a field label conversion per group: core/v1 knows involvedObject.* and
    reportingComponent, events.k8s.io/v1 regarding.* and reportingController; the other group's
    spelling is a 400, not an empty list."""
    await api.post(CORE, json=core_event("from-kubelet"))
    for url, label in ((NEW, "involvedObject.name"), (NEW, "reportingComponent"), (CORE, "regarding.name"),
                       (CORE, "reportingController"), (NEW, "note")):
        resp = await api.get(f"{url}?fieldSelector={label}%3Dp")
        body = await resp.json()
        assert resp.status == 400, (url, label, body)
        assert (body["reason"], body["message"]) == ("BadRequest", f"field label not supported: {label}")
        watched = await api.get(f"{url}?watch=true&fieldSelector={label}%3Dp")
        assert watched.status == 400
    listed = await (await api.get(f"{NEW}?fieldSelector=regarding.name%3Dp,regarding.kind%3DPod")).json()
    assert [e["metadata"]["name"] for e in listed["items"]] == ["from-kubelet"]
    assert (await (await api.get(f"{NEW}?fieldSelector=regarding.name%3Dq")).json())["items"] == []


async def test_a_kind_without_field_labels_answers_apimachinerys_message(api: TestClient) -> None:  # noqa: F811
    resp = await api.get("/api/v1/namespaces/default/configmaps?fieldSelector=data.x%3D1")
    body = await resp.json()
    assert resp.status == 400 and body["message"] == \
        '"data.x" is not a known field selector: only "metadata.name", "metadata.namespace"'


async def test_an_immutable_struct_field_is_printed_as_json_in_the_update_error(api: TestClient) -> None:  # noqa: F811
    await api.post(CORE, json=core_event("pulled"))
    refused = await api.patch(f"{NEW}/pulled", json={"deprecatedSource": {"component": "other"}}, headers=MERGE)
    body = await refused.json()
    assert refused.status == 422, body
    [cause] = body["details"]["causes"]
    assert cause["field"] == "deprecatedSource"
    assert cause["message"] == 'Invalid value: {"component":"other","host":"n1"}: field is immutable'


async def test_the_strict_rules_are_create_only(api: TestClient) -> None:  # noqa: F811
    """An old core event (no eventTime, a source, a count) breaks events.k8s.io's create rules but
    may still be updated through that group."""
    await api.post(CORE, json=core_event("old"))
    resp = await api.patch(f"{NEW}/old", json={"series": {"count": 2, "lastObservedTime":
                                                          "2026-12-01T10:06:00.000000Z"}}, headers=MERGE)
    assert resp.status == 200, await resp.text()
    copy = {k: v for k, v in (await resp.json()).items() if k != "series"}
    copy["metadata"] = {"name": "copy"}
    created = await api.post(NEW, json=copy)
    assert created.status == 422
    assert {c["field"] for c in (await created.json())["details"]["causes"]} >= {
        "eventTime", "deprecatedSource", "deprecatedCount", "deprecatedFirstTimestamp"}
