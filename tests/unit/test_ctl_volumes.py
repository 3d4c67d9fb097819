"""Volume controller passes over a preloaded FakeApi: the default StorageClass, binding a claim to
the smallest fitting volume, provisioning a local-path volume on the first consumer's node,
releasing or deleting a volume whose claim went, and the retry contract."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api.errors import InternalError, ServiceUnavailable
from minikube_py.controllers.base import Controller
from minikube_py.controllers.volumes import DEFAULT_ANNOTATION, LOCAL_PATH_ROOT, PROVISIONER, VolumeController
from tests.unit.harness import Harness

Obj = dict[str, Any]
KEY = "default/data"


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes are driven by hand; the production batching delay would hide keys in timers."""
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


STANDARD = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": "standard", "annotations": {DEFAULT_ANNOTATION: "true"}},
            "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer"}


def claim(*, size: str = "1Gi", cls: str = "manual", modes: list[str] | None = None,
          selector: Obj | None = None) -> Obj:
    spec: Obj = {"accessModes": modes or ["ReadWriteOnce"], "storageClassName": cls,
                 "resources": {"requests": {"storage": size}}}
    if selector:
        spec["selector"] = selector
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"}, "spec": spec}


def volume(name: str, size: str, *, cls: str = "manual", modes: list[str] | None = None, labels: Obj | None = None,
           claim_ref: Obj | None = None, policy: str = "Retain") -> Obj:
    spec: Obj = {"capacity": {"storage": size}, "accessModes": modes or ["ReadWriteOnce"], "storageClassName": cls,
                 "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/srv/{name}"}}
    if claim_ref:
        spec["claimRef"] = claim_ref
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
            "spec": spec, "status": {"phase": "Available"}}


def consumer(node: str | None = None) -> Obj:
    spec: Obj = {"containers": [{"name": "c", "image": "nginx"}],
                 "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "data"}}]}
    if node:
        spec["nodeName"] = node
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "app"}, "spec": spec}


async def start(h: Harness, *objects: tuple[str, Obj]) -> VolumeController:
    vc = VolumeController(h.ctx)
    await h.create("storageclasses", STANDARD)
    for plural, obj in objects:
        await h.create(plural, obj)
    h.sync()
    await vc.on_start()
    await vc.drain()
    return vc


def pv(h: Harness, name: str) -> Obj:
    return h.api.objects[("persistentvolumes", None, name)]


def pvc(h: Harness) -> Obj:
    return h.api.objects[("persistentvolumeclaims", "default", "data")]


async def test_the_default_storage_class_is_created_when_no_class_is_default() -> None:
    h = Harness()
    vc = VolumeController(h.ctx)
    await h.create("storageclasses", {"metadata": {"name": "slow"}, "provisioner": "example.com/nfs"})
    h.sync()
    await vc.on_start()
    classes = {c["metadata"]["name"]: c for c in h.api.of("storageclasses")}
    made = classes["standard"]
    assert made["metadata"]["annotations"] == {DEFAULT_ANNOTATION: "true"}
    assert (made["provisioner"], made["reclaimPolicy"], made["volumeBindingMode"]) == \
        (PROVISIONER, "Delete", "WaitForFirstConsumer")


async def test_an_existing_default_class_is_respected() -> None:
    h = Harness()
    vc = VolumeController(h.ctx)
    await h.create("storageclasses", {"metadata": {"name": "fast", "annotations": {DEFAULT_ANNOTATION: "true"}},
                                      "provisioner": "example.com/ssd"})
    h.sync()
    await vc.on_start()
    assert [c["metadata"]["name"] for c in h.api.of("storageclasses")] == ["fast"]


async def test_a_pending_claim_binds_to_the_smallest_volume_that_fits_on_both_sides() -> None:
    h = Harness()
    await start(h, ("persistentvolumes", volume("small", "500Mi")),
                ("persistentvolumes", volume("big", "10Gi")),
                ("persistentvolumes", volume("fits", "2Gi")),
                ("persistentvolumes", volume("other-class", "1Gi", cls="other")),
                ("persistentvolumes", volume("read-only", "1Gi", modes=["ReadOnlyMany"])),
                ("persistentvolumes", volume("taken", "1Gi", claim_ref={"name": "x", "namespace": "default",
                                                                        "uid": "someone-else"})),
                ("persistentvolumeclaims", claim()))
    bound = pv(h, "fits")
    uid = pvc(h)["metadata"]["uid"]
    assert bound["spec"]["claimRef"] == {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "name": "data",
                                         "namespace": "default", "uid": uid}
    assert bound["status"]["phase"] == "Bound"
    c = pvc(h)
    assert c["spec"]["volumeName"] == "fits"
    assert c["metadata"]["annotations"]["pv.kubernetes.io/bind-completed"] == "yes"
    assert c["status"] == {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "2Gi"}}
    writes = [(verb, plural, name) for verb, plural, name in h.api.calls if verb.startswith("patch")]
    assert writes == [("patch", "persistentvolumes", "fits"), ("patch/status", "persistentvolumes", "fits"),
                      ("patch", "persistentvolumeclaims", "data"), ("patch/status", "persistentvolumeclaims", "data")]
    assert all(pv(h, n)["status"]["phase"] == "Available" for n in ("small", "big", "other-class", "taken"))


async def test_a_claim_with_a_selector_binds_only_to_a_volume_with_those_labels() -> None:
    h = Harness()
    await start(h, ("persistentvolumes", volume("plain", "1Gi")),
                ("persistentvolumes", volume("ssd", "5Gi", labels={"disk": "ssd"})),
                ("persistentvolumeclaims", claim(selector={"matchLabels": {"disk": "ssd"}})))
    assert pvc(h)["spec"]["volumeName"] == "ssd"


async def test_a_claim_nothing_fits_waits_without_writing_and_binds_when_a_volume_appears() -> None:
    h = Harness()
    vc = await start(h, ("persistentvolumes", volume("small", "500Mi")), ("persistentvolumeclaims", claim()))
    assert [c for c in h.api.calls if c[0] != "create"] == []
    assert vc.queue.waiting(KEY) is None  # no polling: a new volume wakes it
    await h.create("persistentvolumes", volume("new", "1Gi"))
    h.sync()
    await vc.drain()
    assert pvc(h)["spec"]["volumeName"] == "new"


async def test_a_wait_for_first_consumer_claim_is_provisioned_on_its_first_pods_node() -> None:
    h = Harness()
    vc = await start(h, ("persistentvolumeclaims", claim(cls="standard", size="3Gi")), ("pods", consumer()))
    assert h.api.of("persistentvolumes") == []  # the pod is not scheduled yet: no node to provision on
    h.edit("pods", "app")["spec"]["nodeName"] = "n2"  # the scheduler bound it
    h.sync()
    await vc.drain()
    uid = pvc(h)["metadata"]["uid"]
    [made] = h.api.of("persistentvolumes")
    name = f"pvc-{uid}"
    assert made["metadata"]["name"] == name
    assert made["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == PROVISIONER
    spec = made["spec"]
    assert spec["hostPath"]["path"] == f"{LOCAL_PATH_ROOT}/{name}_default_data"
    terms = spec["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms == [{"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n2"]}]}]
    assert (spec["capacity"], spec["storageClassName"], spec["persistentVolumeReclaimPolicy"]) == \
        ({"storage": "3Gi"}, "standard", "Delete")
    assert spec["claimRef"]["uid"] == uid
    assert made["status"]["phase"] == "Bound"
    assert pvc(h)["spec"]["volumeName"] == name and pvc(h)["status"]["phase"] == "Bound"
    assert h.api.writes("patch", "persistentvolumes") == []  # created with its claimRef: no second write
    await h.settle_events()
    [event] = h.events("ProvisioningSucceeded")
    assert event["message"] == f"Successfully provisioned volume {name} on node n2"


async def test_a_deleted_claim_leaves_a_retained_volume_released() -> None:
    h = Harness()
    vc = await start(h, ("persistentvolumes", volume("fits", "1Gi")), ("persistentvolumeclaims", claim()))
    assert pv(h, "fits")["status"]["phase"] == "Bound"
    h.sync()  # the watch has delivered the binding
    del h.api.objects[("persistentvolumeclaims", "default", "data")]
    h.sync()
    await vc.drain()
    assert pv(h, "fits")["status"]["phase"] == "Released"
    assert h.api.writes("delete", "persistentvolumes") == []


async def test_a_deleted_claim_deletes_its_provisioned_volume() -> None:
    h = Harness()
    vc = await start(h, ("persistentvolumeclaims", claim(cls="standard")), ("pods", consumer("n1")))
    [made] = h.api.of("persistentvolumes")
    h.sync()  # the watch has delivered the binding
    del h.api.objects[("persistentvolumeclaims", "default", "data")]
    h.sync()
    await vc.drain()
    assert h.api.of("persistentvolumes") == []
    assert h.api.writes("delete", "persistentvolumes") == [("delete", "persistentvolumes", made["metadata"]["name"])]


async def test_a_delete_policy_volume_not_provisioned_here_is_only_released() -> None:
    h = Harness()
    vc = await start(h, ("persistentvolumes", volume("nfs", "1Gi", policy="Delete")), ("persistentvolumeclaims", claim()))
    h.sync()  # the watch has delivered the binding
    del h.api.objects[("persistentvolumeclaims", "default", "data")]
    h.sync()
    await vc.drain()
    assert pv(h, "nfs")["status"]["phase"] == "Released"


async def test_a_failed_claim_status_write_fails_the_bind_and_is_retried() -> None:
    h = Harness()
    h.api.fail("patch", "persistentvolumeclaims", InternalError("etcd timed out"))
    vc = await start(h, ("persistentvolumes", volume("fits", "1Gi")), ("persistentvolumeclaims", claim()))
    assert pv(h, "fits")["status"]["phase"] == "Bound"  # the volume side was written...
    assert "volumeName" not in pvc(h)["spec"]  # ...the claim side failed
    assert vc.errors == 1
    delay = vc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    h.sync()
    await vc.drain()
    assert pvc(h)["spec"]["volumeName"] == "fits" and pvc(h)["status"]["phase"] == "Bound"


async def test_a_failed_provisioning_is_retried_with_backoff() -> None:
    h = Harness()
    h.api.fail("create", "persistentvolumes", ServiceUnavailable("the apiserver is overloaded"))
    vc = await start(h, ("persistentvolumeclaims", claim(cls="standard")), ("pods", consumer("n1")))
    assert h.api.of("persistentvolumes") == []
    delay = vc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await vc.drain()
    assert len(h.api.of("persistentvolumes")) == 1 and pvc(h)["status"]["phase"] == "Bound"


async def test_a_failed_default_class_create_is_retried_with_the_next_pass() -> None:
    h = Harness()
    vc = VolumeController(h.ctx)
    await h.create("persistentvolumeclaims", claim())
    h.api.fail("create", "storageclasses", ServiceUnavailable("the apiserver is starting"))
    h.sync()
    await vc.drain()
    assert h.api.of("storageclasses") == []
    delay = vc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await vc.drain()
    assert [c["metadata"]["name"] for c in h.api.of("storageclasses")] == ["standard"]


async def test_a_failed_volume_delete_after_its_claim_went_is_retried() -> None:
    h = Harness()
    vc = await start(h, ("persistentvolumeclaims", claim(cls="standard")), ("pods", consumer("n1")))
    [made] = h.api.of("persistentvolumes")
    h.sync()  # the watch has delivered the binding
    del h.api.objects[("persistentvolumeclaims", "default", "data")]
    h.api.fail("delete", "persistentvolumes", ServiceUnavailable("try again"))
    h.sync()
    await vc.drain()
    assert len(h.api.of("persistentvolumes")) == 1
    delay = vc.queue.waiting(f"pv:{made['metadata']['name']}")
    assert delay is not None
    await h.clock.advance(delay)
    await vc.drain()
    assert h.api.of("persistentvolumes") == []
