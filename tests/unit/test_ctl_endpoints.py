"""Endpoints controller passes over a preloaded FakeApi: one Endpoints per selecting Service with
ready and not-ready addresses, named target ports resolved per pod, updates only on change,
removal with the Service, and the retry contract."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api.errors import InternalError, ServiceUnavailable
from minikube_py.controllers.base import Controller
from minikube_py.controllers.endpoints import EndpointsController
from tests.unit.harness import Harness

Obj = dict[str, Any]
KEY = "default/web"


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes are driven by hand; the production batching delay would hide keys in timers."""
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def service(*, selector: Obj | None = None, target: Any = "http", publish_not_ready: bool = False) -> Obj:
    spec: Obj = {"ports": [{"name": "web", "port": 80, "targetPort": target}],
                 "publishNotReadyAddresses": publish_not_ready}
    if selector is not None:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "labels": {"team": "a"}}, "spec": spec}


def pod(name: str, ip: str, *, ready: bool = True, port: int = 8080, labels: Obj | None = None,
        phase: str = "Running") -> Obj:
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels if labels is not None else {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx",
                                                       "ports": [{"name": "http", "containerPort": port}]}]},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}


async def start(h: Harness, *pods: Obj, svc: Obj | None = None) -> EndpointsController:
    ec = EndpointsController(h.ctx)
    for p in pods:
        await h.create("pods", p)
    await h.create("services", svc or service(selector={"app": "web"}))
    h.sync()
    await ec.drain()
    return ec


def endpoints(h: Harness) -> Obj:
    [ep] = h.api.of("endpoints")
    return ep


def ips(subset: Obj, field: str = "addresses") -> list[str]:
    return [a["ip"] for a in subset.get(field) or []]


async def test_endpoints_list_ready_pods_as_addresses_and_the_others_as_not_ready() -> None:
    h = Harness()
    await start(h, pod("b", "10.0.0.2"), pod("a", "10.0.0.1"), pod("c", "10.0.0.3", ready=False),
                pod("other", "10.0.0.9", labels={"app": "db"}), pod("done", "10.0.0.8", phase="Succeeded"))
    ep = endpoints(h)
    assert ep["metadata"]["name"] == "web" and ep["metadata"]["labels"] == {"team": "a"}
    [subset] = ep["subsets"]
    assert ips(subset) == ["10.0.0.1", "10.0.0.2"]
    assert ips(subset, "notReadyAddresses") == ["10.0.0.3"]
    address = subset["addresses"][0]
    assert address["nodeName"] == "n1" and address["targetRef"]["kind"] == "Pod"
    assert address["targetRef"]["uid"] == next(p for p in h.api.of("pods") if p["metadata"]["name"] == "a")[
        "metadata"]["uid"]
    assert subset["ports"] == [{"name": "web", "port": 8080, "protocol": "TCP"}]


async def test_a_named_target_port_resolves_per_pod_into_separate_subsets() -> None:
    h = Harness()
    await start(h, pod("a", "10.0.0.1", port=8080), pod("b", "10.0.0.2", port=9090))
    subsets = endpoints(h)["subsets"]
    assert [(ips(s), s["ports"][0]["port"]) for s in subsets] == [(["10.0.0.1"], 8080), (["10.0.0.2"], 9090)]


async def test_a_pod_without_the_named_port_is_left_out_and_a_numeric_target_is_used_as_is() -> None:
    h = Harness()
    nameless = pod("a", "10.0.0.1")
    nameless["spec"]["containers"][0]["ports"] = []
    await start(h, nameless, pod("b", "10.0.0.2"))
    assert [ips(s) for s in endpoints(h)["subsets"]] == [["10.0.0.2"]]
    h2 = Harness()
    await start(h2, nameless, svc=service(selector={"app": "web"}, target=3000))
    assert [(ips(s), s["ports"][0]["port"]) for s in endpoints(h2)["subsets"]] == [(["10.0.0.1"], 3000)]


async def test_publish_not_ready_addresses_lists_every_pod_as_ready() -> None:
    h = Harness()
    await start(h, pod("a", "10.0.0.1", ready=False), svc=service(selector={"app": "web"}, publish_not_ready=True))
    [subset] = endpoints(h)["subsets"]
    assert ips(subset) == ["10.0.0.1"] and "notReadyAddresses" not in subset


async def test_a_pod_becoming_ready_moves_its_address_with_one_update() -> None:
    h = Harness()
    ec = await start(h, pod("a", "10.0.0.1", ready=False))
    h.edit("pods", "a")["status"]["conditions"][0]["status"] = "True"
    h.sync()  # the pod's event queues its service
    assert await ec.drain() == 1
    [subset] = endpoints(h)["subsets"]
    assert ips(subset) == ["10.0.0.1"] and "notReadyAddresses" not in subset
    assert h.api.writes("update", "endpoints") == [("update", "endpoints", "web")]


async def test_nothing_is_written_when_the_endpoints_are_already_right() -> None:
    h = Harness()
    ec = await start(h, pod("a", "10.0.0.1"))
    before = len(h.api.calls)
    h.sync()
    ec.queue.add(KEY)
    await ec.drain()
    assert len(h.api.calls) == before


async def test_an_edited_endpoints_object_is_put_back_keeping_its_annotations() -> None:
    h = Harness()
    ec = await start(h, pod("a", "10.0.0.1"))
    ep = h.edit("endpoints", "web")
    ep["subsets"] = []
    ep["metadata"]["annotations"] = {"note": "kept"}
    h.sync()
    await ec.drain()
    assert ips(endpoints(h)["subsets"][0]) == ["10.0.0.1"]
    assert endpoints(h)["metadata"]["annotations"] == {"note": "kept"}


async def test_a_service_without_selector_keeps_the_endpoints_its_owner_wrote() -> None:
    h = Harness()
    await h.create("endpoints", {"metadata": {"name": "web"}, "subsets": [{"addresses": [{"ip": "192.0.2.1"}]}]})
    await start(h, pod("a", "10.0.0.1"), svc=service())
    assert endpoints(h)["subsets"] == [{"addresses": [{"ip": "192.0.2.1"}]}]
    assert h.api.writes("update", "endpoints") == [] and h.api.writes("delete", "endpoints") == []


async def test_the_endpoints_go_when_the_service_goes() -> None:
    h = Harness()
    ec = await start(h, pod("a", "10.0.0.1"))
    del h.api.objects[("services", "default", "web")]
    h.sync()
    await ec.drain()
    assert h.api.of("endpoints") == []
    assert h.api.writes("delete", "endpoints") == [("delete", "endpoints", "web")]


async def test_a_failed_create_is_retried_with_backoff() -> None:
    h = Harness()
    h.api.fail("create", "endpoints", ServiceUnavailable("the apiserver is overloaded"), times=2)
    ec = await start(h, pod("a", "10.0.0.1"))
    assert h.api.of("endpoints") == [] and ec.errors == 1
    first = ec.queue.waiting(KEY)
    assert first is not None
    await h.clock.advance(first)
    await ec.drain()  # fails again: the backoff doubles
    second = ec.queue.waiting(KEY)
    assert h.api.of("endpoints") == [] and second is not None and second > first
    await h.clock.advance(second)
    await ec.drain()
    assert ips(endpoints(h)["subsets"][0]) == ["10.0.0.1"]
    assert ec.queue.failures(KEY) == 0 and ec.queue.waiting(KEY) is None


async def test_a_failed_delete_of_a_vanished_services_endpoints_is_retried() -> None:
    h = Harness()
    ec = await start(h, pod("a", "10.0.0.1"))
    del h.api.objects[("services", "default", "web")]
    h.api.fail("delete", "endpoints", InternalError("etcd timed out"))
    h.sync()
    await ec.drain()
    assert len(h.api.of("endpoints")) == 1
    delay = ec.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await ec.drain()
    assert h.api.of("endpoints") == []


async def test_a_pod_with_only_pod_ips_is_listed_under_the_first() -> None:
    """Not `ip: None` (a 422 forever): podIP, or else the first of podIPs."""
    h = Harness()
    dual = pod("a", "")
    dual["status"].pop("podIP")
    dual["status"]["podIPs"] = [{"ip": "10.0.0.7"}, {"ip": "fd00::7"}]
    ec = await start(h, dual)
    assert ec.errors == 0
    assert ips(endpoints(h)["subsets"][0]) == ["10.0.0.7"]
