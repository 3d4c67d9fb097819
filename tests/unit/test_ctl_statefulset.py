"""StatefulSet controller passes over a preloaded FakeApi: ordinal identity and claims, ordered and
parallel creation, scale-down from the top, rolling update down to the partition, status counts,
and the retry contract (status first, then the error, then a backoff)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minikube_py.api.errors import InternalError, ServiceUnavailable
from minikube_py.api.times import format_time
from minikube_py.controllers.base import Controller
from minikube_py.controllers.statefulset import (
    POD_INDEX_LABEL,
    POD_NAME_LABEL,
    REVISION_LABEL,
    StatefulSetController,
)
from tests.unit.harness import Harness

Obj = dict[str, Any]
KEY = "default/db"


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Passes are driven by hand; the production batching delay would hide keys in timers."""
    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def statefulset(replicas: int = 3, *, policy: str = "OrderedReady", strategy: Obj | None = None,
                min_ready: int = 0) -> Obj:
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"replicas": replicas, "serviceName": "db-headless", "podManagementPolicy": policy,
                     "minReadySeconds": min_ready,
                     "selector": {"matchLabels": {"app": "db"}},
                     "template": {"metadata": {"labels": {"app": "db"}},
                                  "spec": {"containers": [{"name": "db", "image": "postgres:15"}],
                                           "volumes": [{"name": "data", "emptyDir": {}},
                                                       {"name": "config", "configMap": {"name": "db"}}]}},
                     "updateStrategy": strategy or {"type": "RollingUpdate", "rollingUpdate": {"partition": 0}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data", "labels": {"tier": "storage"}},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}}


def pod_names(h: Harness) -> list[str]:
    return [p["metadata"]["name"] for p in h.api.of("pods")]


def set_pod(h: Harness, name: str, *, ready: bool = True, phase: str = "Running", since: float | None = None) -> None:
    """What the pod's kubelet would report."""
    pod = h.edit("pods", name)
    stamp = format_time(h.clock.now() if since is None else since)
    pod["status"] = {"phase": phase, "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                                     "lastTransitionTime": stamp}]}


def ready_all(h: Harness) -> None:
    for pod in h.api.of("pods"):
        if (pod.get("status") or {}).get("phase") != "Running":
            set_pod(h, pod["metadata"]["name"], since=h.clock.now() - 3600)


async def step(h: Harness, sc: StatefulSetController) -> int:
    """One round: the watch delivers what changed, the controller handles what that queued."""
    h.sync()
    return await sc.drain()


async def settle(h: Harness, sc: StatefulSetController, rounds: int = 20) -> None:
    """Passes with kubelets making every new pod Ready, until nothing is left to do."""
    for _ in range(rounds):
        if not await step(h, sc):
            return
        ready_all(h)
    raise AssertionError("the set never settled")


def status(h: Harness) -> Obj:
    return h.api.of("statefulsets")[0].get("status") or {}


async def test_ordered_ready_creates_one_pod_at_a_time_each_after_the_previous_is_ready() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(3))
    await step(h, sc)
    assert pod_names(h) == ["db-0"]
    await step(h, sc)  # db-0 is Pending: nothing more
    set_pod(h, "db-0", ready=False)
    await step(h, sc)  # Running but not Ready: still nothing
    assert pod_names(h) == ["db-0"]
    assert sc.queue.waiting(KEY) is None  # no polling: the pod's next change wakes the set
    set_pod(h, "db-0")
    await step(h, sc)
    assert pod_names(h) == ["db-0", "db-1"]
    set_pod(h, "db-1")
    await step(h, sc)
    assert pod_names(h) == ["db-0", "db-1", "db-2"]


async def test_pods_get_ordinal_identity_and_their_own_claims_created_before_them() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    sts = await h.create("statefulsets", statefulset(2))
    await settle(h, sc)
    pods = {p["metadata"]["name"]: p for p in h.api.of("pods")}
    pod = pods["db-1"]
    assert (pod["spec"]["hostname"], pod["spec"]["subdomain"]) == ("db-1", "db-headless")
    labels = pod["metadata"]["labels"]
    assert labels[POD_NAME_LABEL] == "db-1" and labels[POD_INDEX_LABEL] == "1" and labels["app"] == "db"
    assert labels[REVISION_LABEL] == status(h)["updateRevision"]
    ref = pod["metadata"]["ownerReferences"][0]
    assert (ref["uid"], ref["controller"], ref["kind"]) == (sts["metadata"]["uid"], True, "StatefulSet")
    # the template's own "data" volume gives way to the claim of the same name; others stay
    assert pod["spec"]["volumes"] == [{"name": "config", "configMap": {"name": "db"}},
                                      {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}}]
    claims = {c["metadata"]["name"]: c for c in h.api.of("persistentvolumeclaims")}
    assert sorted(claims) == ["data-db-0", "data-db-1"]
    assert claims["data-db-1"]["metadata"]["labels"] == {"tier": "storage", "app": "db"}
    assert claims["data-db-1"]["spec"]["resources"] == {"requests": {"storage": "1Gi"}}
    creates = [(plural, name) for verb, plural, name in h.api.calls if verb == "create" and plural != "events"]
    assert creates.index(("persistentvolumeclaims", "data-db-1")) < creates.index(("pods", "db-1"))


async def test_an_existing_claim_is_reused_not_recreated() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("persistentvolumeclaims", {"metadata": {"name": "data-db-0"}, "spec": {"volumeName": "pv-old"}})
    await h.create("statefulsets", statefulset(1))
    await settle(h, sc)
    assert pod_names(h) == ["db-0"]
    assert h.api.writes("create", "persistentvolumeclaims") == [("create", "persistentvolumeclaims", "data-db-0")]
    assert h.api.of("persistentvolumeclaims")[0]["spec"] == {"volumeName": "pv-old"}


async def test_a_failed_pod_is_deleted_and_recreated_under_the_same_name() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(1))
    await settle(h, sc)
    old_uid = h.api.of("pods")[0]["metadata"]["uid"]
    set_pod(h, "db-0", ready=False, phase="Failed")
    await step(h, sc)
    assert pod_names(h) == []
    assert h.api.deletions == [("pods", "db-0", {"preconditions": {"uid": old_uid}})]
    await step(h, sc)
    assert pod_names(h) == ["db-0"] and h.api.of("pods")[0]["metadata"]["uid"] != old_uid


async def test_scale_down_removes_the_highest_ordinal_first_one_at_a_time_and_keeps_claims() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(3))
    await settle(h, sc)
    h.edit("statefulsets", "db")["spec"]["replicas"] = 1
    await step(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2"]
    await step(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2", "db-1"]
    await settle(h, sc)
    assert pod_names(h) == ["db-0"]
    assert len(h.api.of("persistentvolumeclaims")) == 3  # the Retain policy: claims outlive their pods
    assert status(h)["replicas"] == 1


def _owners(h: Harness) -> dict[str, list[tuple[str, str, bool]]]:
    return {c["metadata"]["name"]: [(r["kind"], r["name"], bool(r.get("controller")))
                                    for r in c["metadata"].get("ownerReferences") or []]
            for c in h.api.of("persistentvolumeclaims")}


async def test_when_deleted_delete_makes_the_set_own_its_claims_so_they_go_with_it() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    sts = statefulset(2)
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    created = await h.create("statefulsets", sts)
    await settle(h, sc)
    assert _owners(h) == {"data-db-0": [("StatefulSet", "db", True)], "data-db-1": [("StatefulSet", "db", True)]}
    [ref] = h.api.of("persistentvolumeclaims")[0]["metadata"]["ownerReferences"]
    assert (ref["uid"], ref["blockOwnerDeletion"]) == (created["metadata"]["uid"], True)
    h.edit("statefulsets", "db")["spec"]["replicas"] = 1  # whenScaled Retain: the set keeps the claim
    await settle(h, sc)
    assert _owners(h)["data-db-1"] == [("StatefulSet", "db", True)]


async def test_when_scaled_delete_hands_a_condemned_pod_its_claims_and_a_policy_change_is_followed() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(2))
    await settle(h, sc)
    assert _owners(h) == {"data-db-0": [], "data-db-1": []}  # Retain/Retain: nobody owns them
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "keep", "uid": "u-keep"}
    h.edit("persistentvolumeclaims", "data-db-0")["metadata"]["ownerReferences"] = [other]
    spec = h.edit("statefulsets", "db")["spec"]
    spec["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Delete"}
    spec["replicas"] = 1
    await step(h, sc)
    owners = _owners(h)
    assert owners["data-db-0"] == [("ConfigMap", "keep", False), ("StatefulSet", "db", True)]
    assert owners["data-db-1"] == [("Pod", "db-1", True)]  # condemned: it goes with its pod


async def test_a_claim_another_controller_owns_is_left_to_it() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    foreign = {"apiVersion": "example.com/v1", "kind": "Backup", "name": "b", "uid": "u-b", "controller": True}
    await h.create("persistentvolumeclaims", {"metadata": {"name": "data-db-0", "ownerReferences": [foreign]},
                                              "spec": {}})
    sts = statefulset(1)
    sts["spec"]["persistentVolumeClaimRetentionPolicy"] = {"whenDeleted": "Delete", "whenScaled": "Retain"}
    await h.create("statefulsets", sts)
    await settle(h, sc)
    assert _owners(h) == {"data-db-0": [("Backup", "b", True)]}


async def test_scale_down_halts_while_a_remaining_pod_is_unhealthy() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(3))
    await settle(h, sc)
    set_pod(h, "db-0", ready=False)
    h.edit("statefulsets", "db")["spec"]["replicas"] = 1
    await step(h, sc)
    assert h.api.writes("delete", "pods") == []
    set_pod(h, "db-0")
    await step(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2"]


async def test_parallel_policy_creates_and_deletes_every_pod_in_one_pass() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(3, policy="Parallel"))
    await step(h, sc)
    assert pod_names(h) == ["db-0", "db-1", "db-2"]  # none of them Ready yet
    h.edit("statefulsets", "db")["spec"]["replicas"] = 0
    await step(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2", "db-1", "db-0"]


async def test_rolling_update_replaces_from_the_top_down_to_the_partition_waiting_for_ready() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(3))
    await settle(h, sc)
    old_rev = status(h)["currentRevision"]
    sts = h.edit("statefulsets", "db")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:16"
    sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 1
    await step(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2"]
    await step(h, sc)  # recreated from the new template, not Ready yet
    pods = {p["metadata"]["name"]: p for p in h.api.of("pods")}
    new_rev = status(h)["updateRevision"]
    assert new_rev != old_rev and pods["db-2"]["metadata"]["labels"][REVISION_LABEL] == new_rev
    assert pods["db-2"]["spec"]["containers"][0]["image"] == "postgres:16"
    await step(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2"]  # db-1 waits for db-2 to be Ready
    await settle(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2", "db-1"]  # db-0 is below the partition
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.api.of("pods")}
    assert images == {"db-0": "postgres:15", "db-1": "postgres:16", "db-2": "postgres:16"}
    st = status(h)
    assert (st["currentRevision"], st["updateRevision"]) == (old_rev, new_rev)  # not complete below the partition
    assert (st["replicas"], st["readyReplicas"], st["currentReplicas"], st["updatedReplicas"]) == (3, 3, 1, 2)
    h.edit("statefulsets", "db")["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 0
    await settle(h, sc)
    st = status(h)
    assert st["currentRevision"] == st["updateRevision"] == new_rev  # complete: the update became current
    assert (st["currentReplicas"], st["updatedReplicas"], st["availableReplicas"]) == (3, 3, 3)


async def test_on_delete_strategy_replaces_only_pods_the_user_deleted() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(2, strategy={"type": "OnDelete"}))
    await settle(h, sc)
    h.edit("statefulsets", "db")["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:16"
    await settle(h, sc)
    assert h.api.writes("delete", "pods") == []
    del h.api.objects[("pods", "default", "db-1")]  # the user's delete
    await settle(h, sc)
    images = {p["metadata"]["name"]: p["spec"]["containers"][0]["image"] for p in h.api.of("pods")}
    assert images == {"db-0": "postgres:15", "db-1": "postgres:16"}
    assert status(h)["updatedReplicas"] == 1


async def test_min_ready_seconds_requeues_until_ready_pods_count_as_available() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(1, min_ready=10))
    await step(h, sc)
    set_pod(h, "db-0")  # Ready now, available in 10 s
    await step(h, sc)
    assert (status(h)["readyReplicas"], status(h)["availableReplicas"]) == (1, 0)
    assert sc.queue.waiting(KEY) == pytest.approx(10.0)
    await h.clock.advance(10.0)
    await step(h, sc)
    assert status(h)["availableReplicas"] == 1
    assert sc.queue.waiting(KEY) is None


async def test_a_failed_pod_create_writes_status_events_and_retries_with_backoff() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(2))
    h.api.fail("create", "pods", ServiceUnavailable("the apiserver is shutting down"))
    await step(h, sc)
    assert pod_names(h) == [] and sc.errors == 1
    assert [c[2] for c in h.api.writes("create", "persistentvolumeclaims")] == ["data-db-0"]
    assert h.api.writes("update/status", "statefulsets")  # the failed pass still reported where it stands
    assert status(h)["replicas"] == 0 and status(h)["updateRevision"].startswith("db-")
    delay = sc.queue.waiting(KEY)
    assert delay is not None and delay > 0
    await h.settle_events()
    failed = h.events("FailedCreate")
    assert failed and "db-0" in failed[0]["message"] and "shutting down" in failed[0]["message"]
    assert await sc.drain() == 0  # the backoff holds the key back...
    await h.clock.advance(delay)
    await step(h, sc)  # ...until it runs out
    assert pod_names(h) == ["db-0"]
    assert len(h.api.of("persistentvolumeclaims")) == 1  # the claim of the failed pass is reused
    assert sc.queue.failures(KEY) == 0  # the success forgot the backoff


async def test_a_failed_status_write_fails_the_pass_and_is_retried() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(1))
    h.api.fail("update", "statefulsets", InternalError("etcd timed out"))
    await step(h, sc)
    assert pod_names(h) == ["db-0"] and status(h) == {}
    delay = sc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await step(h, sc)
    assert status(h)["replicas"] == 1 and status(h)["observedGeneration"] == 1


async def test_a_failed_scale_down_delete_is_evented_and_retried() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    await h.create("statefulsets", statefulset(2))
    await settle(h, sc)
    h.edit("statefulsets", "db")["spec"]["replicas"] = 1
    h.api.fail("delete", "pods", ServiceUnavailable("try again"))
    await step(h, sc)
    assert pod_names(h) == ["db-0", "db-1"]
    await h.settle_events()
    assert h.events("FailedDelete")
    delay = sc.queue.waiting(KEY)
    assert delay is not None
    await h.clock.advance(delay)
    await step(h, sc)
    assert pod_names(h) == ["db-0"]


def test_pods_of_another_template_get_another_revision() -> None:
    h = Harness()
    sc = StatefulSetController(h.ctx)
    a = statefulset()
    b = copy.deepcopy(a)
    b["spec"]["template"]["spec"]["containers"][0]["image"] = "postgres:16"
    assert sc.revision(a) != sc.revision(b) and sc.revision(a) == sc.revision(copy.deepcopy(a))
