"""EndpointSlice controller and mirroring controller passes over a preloaded FakeApi: slices per
port set with kube's labels, owner and conditions, at most 100 endpoints each, endpoints kept in
their slice, a placeholder for a service that selects nothing, recycled slices, no writes when
nothing changed; hand-written Endpoints mirrored (and not the skip-mirror ones); the retry contract."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api.errors import ServiceUnavailable
from minikube_py.controllers.base import Controller
from minikube_py.controllers.endpointslicemirroring import EndpointSliceMirroringController
from minikube_py.controllers.endpointslices import EndpointSliceController
from tests.unit.harness import Harness

Obj = dict[str, Any]
KEY = "default/web"


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def service(*, selector: Obj | None = None, target: Any = "http", ports: list[Obj] | None = None) -> Obj:
    spec: Obj = {"ports": ports if ports is not None else [{"name": "web", "port": 80, "targetPort": target}]}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"team": "a"}}, "spec": spec}


def pod(name: str, ip: str, *, ready: bool = True, port: int = 8080, deleting: bool = False,
        labels: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "labels": labels if labels is not None else {"app": "web"}}
    if deleting:
        meta["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx",
                                                       "ports": [{"name": "http", "containerPort": port}]}]},
            "status": {"phase": "Running", "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


async def start(h: Harness, *pods: Obj, svc: Obj | None = None) -> EndpointSliceController:
    sc = EndpointSliceController(h.ctx)
    for p in pods:
        await h.create("pods", p)
    await h.create("services", svc or service(selector={"app": "web"}))
    h.sync()
    await sc.drain()
    h.sync()
    return sc


def slices(h: Harness) -> list[Obj]:
    return h.api.of("endpointslices")


def addresses(s: Obj) -> list[str]:
    return [a for ep in s.get("endpoints") or [] for a in ep["addresses"]]


async def test_a_slice_lists_the_selected_pods_with_kubes_labels_owner_and_conditions() -> None:
    h = Harness()
    await start(h, pod("b", "10.0.0.2"), pod("a", "10.0.0.1"), pod("c", "10.0.0.3", ready=False),
                pod("d", "10.0.0.4", deleting=True), pod("other", "10.0.0.9", labels={"app": "db"}))
    [s] = slices(h)
    svc = h.api.of("services")[0]
    assert s["metadata"]["name"].startswith("web-") and s["addressType"] == "IPv4"
    assert s["metadata"]["labels"] == {"team": "a", "kubernetes.io/service-name": "web",
                                       "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}
    assert s["metadata"]["ownerReferences"] == [{"apiVersion": "v1", "kind": "Service", "name": "web",
                                                 "uid": svc["metadata"]["uid"], "controller": True,
                                                 "blockOwnerDeletion": True}]
    assert s["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]
    by_ip = {ep["addresses"][0]: ep for ep in s["endpoints"]}
    assert sorted(by_ip) == ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    assert by_ip["10.0.0.1"]["conditions"] == {"ready": True, "serving": True, "terminating": False}
    assert by_ip["10.0.0.3"]["conditions"] == {"ready": False, "serving": False, "terminating": False}
    assert by_ip["10.0.0.4"]["conditions"] == {"ready": False, "serving": True, "terminating": True}
    a = by_ip["10.0.0.1"]
    assert a["nodeName"] == "n1" and "zone" not in a
    assert a["targetRef"] == {"kind": "Pod", "namespace": "default", "name": "a",
                              "uid": next(p for p in h.api.of("pods") if p["metadata"]["name"] == "a")["metadata"]["uid"]}


async def test_pods_with_different_named_target_ports_get_a_slice_per_port_set() -> None:
    h = Harness()
    await start(h, pod("a", "10.0.0.1", port=8080), pod("b", "10.0.0.2", port=9090))
    got = sorted((s["ports"][0]["port"], addresses(s)) for s in slices(h))
    assert got == [(8080, ["10.0.0.1"]), (9090, ["10.0.0.2"])]


async def test_an_unnamed_port_is_named_empty_as_kube_writes_it() -> None:
    h = Harness()
    await start(h, pod("a", "10.0.0.1"), svc=service(selector={"app": "web"}, ports=[{"port": 80, "targetPort": 8080}]))
    assert slices(h)[0]["ports"] == [{"name": "", "port": 8080, "protocol": "TCP"}]


async def test_a_slice_holds_at_most_100_endpoints() -> None:
    h = Harness()
    await start(h, *[pod(f"p{i:03d}", f"10.0.{i // 200}.{i % 200 + 1}") for i in range(250)])
    sizes = sorted(len(s["endpoints"]) for s in slices(h))
    assert sizes == [50, 100, 100]
    assert len({a for s in slices(h) for a in addresses(s)}) == 250


async def test_a_service_selecting_nothing_keeps_one_empty_placeholder_reused_when_pods_come() -> None:
    h = Harness()
    sc = await start(h)
    [placeholder] = slices(h)
    assert "endpoints" not in placeholder and "ports" not in placeholder  # what kube shows as null
    await h.create("pods", pod("a", "10.0.0.1"))
    h.sync()
    await sc.drain()
    [s] = slices(h)
    assert s["metadata"]["name"] == placeholder["metadata"]["name"] and addresses(s) == ["10.0.0.1"]
    assert h.api.writes("delete", "endpointslices") == []


async def test_a_new_pod_joins_the_slice_with_room_and_nothing_is_written_when_nothing_changed() -> None:
    h = Harness()
    sc = await start(h, pod("a", "10.0.0.1"))
    await h.create("pods", pod("b", "10.0.0.2"))
    h.sync()
    await sc.drain()
    h.sync()
    [s] = slices(h)
    assert addresses(s) == ["10.0.0.1", "10.0.0.2"]
    assert len(h.api.writes("create", "endpointslices")) == 1
    assert len(h.api.writes("update", "endpointslices")) == 1
    before = len(h.api.calls)
    sc.queue.add(KEY)
    await sc.drain()
    assert len(h.api.calls) == before


async def test_an_edited_slice_is_put_back() -> None:
    h = Harness()
    sc = await start(h, pod("a", "10.0.0.1"))
    name = slices(h)[0]["metadata"]["name"]
    h.edit("endpointslices", name)["endpoints"] = []
    h.sync()
    await sc.drain()
    assert addresses(slices(h)[0]) == ["10.0.0.1"]


async def test_a_service_without_selector_gets_no_slices_from_this_controller() -> None:
    h = Harness()
    await start(h, pod("a", "10.0.0.1"), svc=service())
    assert slices(h) == []


async def test_a_failed_create_is_retried_with_backoff() -> None:
    h = Harness()
    h.api.fail("create", "endpointslices", ServiceUnavailable("the apiserver is overloaded"))
    sc = await start(h, pod("a", "10.0.0.1"))
    assert slices(h) == [] and sc.errors == 1
    delay = sc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await sc.drain()
    assert [addresses(s) for s in slices(h)] == [["10.0.0.1"]]


# --- mirroring -------------------------------------------------------------------------------------

def hand_written(*, labels: Obj | None = None) -> Obj:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "web", "labels": labels or {"team": "a"}, "annotations": {"note": "x"}},
            "subsets": [{"addresses": [{"ip": "192.0.2.2"}, {"ip": "192.0.2.1", "hostname": "one"}],
                         "notReadyAddresses": [{"ip": "192.0.2.3"}],
                         "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
                        {"addresses": [{"ip": "2001:db8::1"}], "ports": [{"name": "http", "port": 8080}]}]}


async def mirror(h: Harness, endpoints: Obj, svc: Obj | None = None) -> EndpointSliceMirroringController:
    mc = EndpointSliceMirroringController(h.ctx)
    await h.create("services", svc or service())
    await h.create("endpoints", endpoints)
    h.sync()
    await mc.drain()
    h.sync()
    return mc


async def test_hand_written_endpoints_of_a_selectorless_service_are_mirrored_per_address_type() -> None:
    h = Harness()
    await mirror(h, hand_written())
    ep = h.api.of("endpoints")[0]
    got = {s["addressType"]: s for s in slices(h)}
    assert sorted(got) == ["IPv4", "IPv6"]
    v4 = got["IPv4"]
    assert v4["metadata"]["labels"] == {"team": "a", "kubernetes.io/service-name": "web",
                                        "endpointslice.kubernetes.io/managed-by":
                                            "endpointslicemirroring-controller.k8s.io"}
    assert v4["metadata"]["annotations"] == {"note": "x"}
    assert v4["metadata"]["ownerReferences"][0]["kind"] == "Endpoints"
    assert v4["metadata"]["ownerReferences"][0]["uid"] == ep["metadata"]["uid"]
    assert v4["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]
    assert [(e["addresses"][0], e["conditions"]["ready"], e.get("hostname")) for e in v4["endpoints"]] == [
        ("192.0.2.1", True, "one"), ("192.0.2.2", True, None), ("192.0.2.3", False, None)]
    assert addresses(got["IPv6"]) == ["2001:db8::1"]


async def test_skip_mirror_endpoints_and_services_with_a_selector_are_not_mirrored() -> None:
    h = Harness()
    await mirror(h, hand_written(labels={"endpointslice.kubernetes.io/skip-mirror": "true"}))
    assert slices(h) == []
    h2 = Harness()
    await mirror(h2, hand_written(), svc=service(selector={"app": "web"}))
    assert slices(h2) == []


async def test_mirrored_slices_go_when_the_endpoints_go_and_follow_its_changes() -> None:
    h = Harness()
    mc = await mirror(h, hand_written())
    ep = h.edit("endpoints", "web")
    ep["subsets"] = [{"addresses": [{"ip": "192.0.2.9"}], "ports": [{"name": "http", "port": 8080}]}]
    h.sync()
    await mc.drain()
    h.sync()
    assert [addresses(s) for s in slices(h)] == [["192.0.2.9"]]
    del h.api.objects[("endpoints", "default", "web")]
    h.sync()
    await mc.drain()
    assert slices(h) == []


async def test_a_pod_in_the_services_subdomain_is_named_by_its_hostname() -> None:
    h = Harness()
    named = pod("web-0", "10.0.0.1")
    named["spec"].update(hostname="web-0", subdomain="web")
    other = pod("x", "10.0.0.2")
    other["spec"].update(hostname="x", subdomain="elsewhere")
    await start(h, named, other)
    by_ip = {ep["addresses"][0]: ep for ep in slices(h)[0]["endpoints"]}
    assert by_ip["10.0.0.1"]["hostname"] == "web-0" and "hostname" not in by_ip["10.0.0.2"]


# --- a cache that lags our own writes --------------------------------------------------------------

async def test_a_pod_event_before_the_slice_is_seen_makes_no_second_slice() -> None:
    """kube's StaleSlices: a pass waits until the watch has shown the slices its last pass created."""
    h = Harness()
    sc = EndpointSliceController(h.ctx)
    await h.create("pods", pod("a", "10.0.0.1"))
    await h.create("services", service(selector={"app": "web"}))
    h.sync()
    await sc.drain()
    assert len(slices(h)) == 1
    await h.create("pods", pod("b", "10.0.0.2"))
    h.api.sync_one(sc.pods)  # the pod's event arrives; the slice's ADDED has not yet
    assert sc.queue.get_nowait() == KEY
    sc.queue.done(KEY)
    sc.queue.add(KEY)
    await sc.drain()
    assert len(slices(h)) == 1 and len(h.api.writes("create", "endpointslices")) == 1
    h.api.sync_one(sc.slices)  # the ADDED event: the expectation is met and the service queued
    await sc.drain()
    [s] = slices(h)
    assert addresses(s) == ["10.0.0.1", "10.0.0.2"]


async def test_a_failed_create_is_not_waited_for() -> None:
    h = Harness()
    h.api.fail("create", "endpointslices", ServiceUnavailable("the apiserver is overloaded"))
    sc = await start(h, pod("a", "10.0.0.1"))
    assert sc.expectations.satisfied(KEY)


async def test_a_slice_being_deleted_is_not_planned_with() -> None:
    """kube's dropEndpointSlicesPendingDeletion: its endpoints go to a fresh slice."""
    h = Harness()
    sc = await start(h, pod("a", "10.0.0.1"))
    [s] = slices(h)
    h.edit("endpointslices", s["metadata"]["name"])["metadata"]["deletionTimestamp"] = "2027-01-01T00:00:00Z"
    h.sync()
    await sc.drain()
    h.sync()
    fresh = [x for x in slices(h) if not x["metadata"].get("deletionTimestamp")]
    assert [addresses(x) for x in fresh] == [["10.0.0.1"]] and fresh[0]["metadata"]["name"] != s["metadata"]["name"]
    assert not h.api.writes("update", "endpointslices")


async def test_mirroring_waits_for_its_creates_too() -> None:
    h = Harness()
    mc = EndpointSliceMirroringController(h.ctx)
    await h.create("services", service())
    await h.create("endpoints", hand_written())
    h.sync()
    await mc.drain()
    assert len(slices(h)) == 2
    h.edit("endpoints", "web")["metadata"]["annotations"] = {"note": "y"}
    h.api.sync_one(mc.endpoints)  # the edit is seen, the two slices not yet
    await mc.drain()
    assert len(slices(h)) == 2
    h.api.sync_one(mc.slices)
    await mc.drain()
    assert len(slices(h)) == 2 and all(s["metadata"]["annotations"] == {"note": "y"} for s in slices(h))


# --- which services a pod event concerns -----------------------------------------------------------

async def test_a_pod_event_queues_the_services_selecting_it_now_or_before() -> None:
    h = Harness()
    sc = EndpointSliceController(h.ctx)
    for name, selector in (("web", {"app": "web"}), ("both", {"app": "web", "tier": "fe"}),
                           ("db", {"app": "db"}), ("fe", {"tier": "fe"})):
        svc = service(selector=selector)
        svc["metadata"]["name"] = name
        await h.create("services", svc)
    other = service(selector={"app": "web"})
    other["metadata"]["name"] = "web"
    await h.create("services", other, namespace="other")
    h.sync()
    await sc.drain()
    await h.create("pods", pod("a", "10.0.0.1", labels={"app": "web", "tier": "fe"}))
    h.api.sync_one(sc.pods)
    queued = set()
    while (key := sc.queue.get_nowait()) is not None:
        queued.add(key)
        sc.queue.done(key)
    assert queued == {"default/web", "default/both", "default/fe"}
    h.edit("pods", "a")["metadata"]["labels"] = {"app": "db"}
    h.api.sync_one(sc.pods)
    queued = set()
    while (key := sc.queue.get_nowait()) is not None:
        queued.add(key)
        sc.queue.done(key)
    assert queued == {"default/web", "default/both", "default/fe", "default/db"}


async def test_a_pod_with_only_pod_ips_is_listed_under_the_first() -> None:
    h = Harness()
    dual = pod("a", "")
    dual["status"].pop("podIP")
    dual["status"]["podIPs"] = [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}]
    await start(h, dual)
    assert [addresses(s) for s in slices(h)] == [["10.0.0.7"]]
