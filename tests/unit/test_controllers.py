"""Controller logic, driven by calling reconcile on a preloaded informer cache (no sleeps, no
server): the writes go to an in-memory FakeApi whose state is fed back into the cache between
passes, as the watch would."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from minikube_py.controllers.deployment import DeploymentController, template_hash
from minikube_py.controllers.replicaset import ReplicaSetController
from tests.unit.harness import Harness

Obj = dict[str, Any]
TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]}}


@pytest.fixture(autouse=True)
def _no_cool_down(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests drive passes by hand; the production batching delay would hide keys in timers."""
    from minikube_py.controllers.base import Controller

    monkeypatch.setattr(Controller, "cool_down_factor", 0.0)


def edit(h: Harness, plural: str, name: str) -> Obj:
    return h.edit(plural, name)


async def _create(h: Harness, plural: str, obj: Obj) -> Obj:
    return await h.create(plural, obj)


def replicaset(replicas: int, name: str = "web-abc") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": copy.deepcopy(TEMPLATE)}}


async def test_replicaset_slow_start_and_expectations() -> None:
    h = Harness()
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "replicasets", replicaset(5))
    h.sync()
    await rsc.drain()
    pods = h.api.of("pods")
    assert len(pods) == 5
    assert all(p["metadata"]["ownerReferences"][0]["name"] == "web-abc" for p in pods)
    assert all(p["metadata"]["name"].startswith("web-abc-") for p in pods)
    # a second pass from a cache that has not seen the creates yet must not create again
    rsc.queue.add("default/web-abc")
    await rsc.drain()
    assert len(h.api.of("pods")) == 5
    h.sync()  # the creates arrive: expectations satisfied, status written
    await rsc.drain()
    status = h.api.of("replicasets")[0]["status"]
    assert status["replicas"] == 5 and status["readyReplicas"] == 0 and status["observedGeneration"] == 1


async def test_replicaset_failed_create_stops_the_batch_and_sets_condition() -> None:
    h = Harness()
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "replicasets", replicaset(8))
    h.sync()
    h.api.fail_creates = 1  # the first batch (1 pod) fails: no more batches this pass
    await rsc.drain()
    assert h.api.of("pods") == []
    h.sync()
    await rsc.drain()
    cond = h.api.of("replicasets")[0]["status"]["conditions"][0]
    assert cond["type"] == "ReplicaFailure" and cond["reason"] == "FailedCreate"


async def test_replicaset_scale_down_picks_unscheduled_and_not_ready_first() -> None:
    h = Harness()
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "replicasets", replicaset(4))
    h.sync()
    await rsc.drain()
    h.set_pods_ready()
    pods = {p["metadata"]["name"]: p for p in h.api.of("pods")}
    names = sorted(pods)
    unscheduled, not_ready = names[0], names[1]
    edit(h, "pods", unscheduled)["spec"].pop("nodeName")
    edit(h, "pods", not_ready)["status"]["conditions"][0]["status"] = "False"
    edit(h, "replicasets", "web-abc")["spec"]["replicas"] = 2
    h.sync()
    await rsc.drain()
    deleted = {c[2] for c in h.api.writes("delete", "pods")}
    assert deleted == {unscheduled, not_ready}


async def test_replicaset_adopts_orphans() -> None:
    h = Harness()
    rsc = ReplicaSetController(h.ctx)
    orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "web"}},
              "spec": copy.deepcopy(TEMPLATE["spec"])}
    await _create(h, "pods", orphan)
    await _create(h, "replicasets", replicaset(1))
    h.sync()
    await rsc.drain()
    assert len(h.api.of("pods")) == 1  # adopted, not duplicated
    assert h.api.of("pods")[0]["metadata"]["ownerReferences"][0]["name"] == "web-abc"


def deployment(replicas: int = 4, image: str = "nginx:1.25", strategy: Obj | None = None) -> Obj:
    t = copy.deepcopy(TEMPLATE)
    t["spec"]["containers"][0]["image"] = image
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}}, "template": t,
                     "strategy": strategy or {"type": "RollingUpdate",
                                              "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                     "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600}}


async def _settle(h: Harness, *controllers: Any, rounds: int = 30, ready: bool = True,
                  watch: Any = None) -> None:
    """Alternate passes of every controller with kubelet-like readiness, until nothing changes."""
    for _ in range(rounds):
        before = len(h.api.calls)
        h.sync()
        for c in controllers:
            for key in [k for k in (c.sets.cache if hasattr(c, "sets") else {})]:
                c.queue.add(key)
            if hasattr(c, "deployments"):
                for key in c.deployments.cache:
                    c.queue.add(key)
            await c.drain()
            if watch:
                watch(h)
        if ready:
            h.set_pods_ready()
        if len(h.api.calls) == before:
            return


async def test_deployment_creates_hashed_replicaset_with_revision() -> None:
    h = Harness()
    dc = DeploymentController(h.ctx)
    rsc = ReplicaSetController(h.ctx)
    d = await _create(h, "deployments", deployment(3))
    await _settle(h, dc, rsc)
    sets = h.api.of("replicasets")
    assert len(sets) == 1
    rs = sets[0]
    h_ = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"web-{h_}" and h_ == template_hash(d["spec"]["template"])
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h_}
    assert rs["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    dep = h.api.of("deployments")[0]
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    status = dep["status"]
    assert (status["replicas"], status["updatedReplicas"], status["availableReplicas"]) == (3, 3, 3)
    conds = {c["type"]: c for c in status["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"


async def test_rolling_update_stays_within_surge_and_unavailability() -> None:
    h = Harness()
    dc = DeploymentController(h.ctx)
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "deployments", deployment(4))
    await _settle(h, dc, rsc)
    dep = edit(h, "deployments", "web")
    dep["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    dep["metadata"]["generation"] = 2
    worst: dict[str, int] = {"total": 0}

    def watch(hh: Harness) -> None:  # replicas asked of all sets: never above 4 + maxSurge(1)
        total = sum(rs["spec"]["replicas"] for rs in hh.api.of("replicasets"))
        worst["total"] = max(worst["total"], total)

    await _settle(h, dc, rsc, rounds=60, watch=watch)
    sets = sorted(h.api.of("replicasets"), key=lambda r: r["metadata"]["annotations"]
                  ["deployment.kubernetes.io/revision"])
    assert [rs["spec"]["replicas"] for rs in sets] == [0, 4]
    assert sets[1]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
    assert worst["total"] <= 5
    assert all(p["spec"]["containers"][0]["image"] == "v2" for p in h.api.of("pods"))


async def test_recreate_scales_old_to_zero_before_new() -> None:
    h = Harness()
    dc = DeploymentController(h.ctx)
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "deployments", deployment(3, strategy={"type": "Recreate"}))
    await _settle(h, dc, rsc)
    obj = edit(h, "deployments", "web")
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    seen_mixed = []

    def watch(hh: Harness) -> None:
        images = {p["spec"]["containers"][0]["image"] for p in hh.api.of("pods")}
        seen_mixed.append(len(images) > 1)

    await _settle(h, dc, rsc, rounds=60, watch=watch)
    assert not any(seen_mixed)  # old and new pods never ran together
    assert {p["spec"]["containers"][0]["image"] for p in h.api.of("pods")} == {"v2"}


async def test_paused_deployment_does_not_roll_out() -> None:
    h = Harness()
    dc = DeploymentController(h.ctx)
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "deployments", deployment(2))
    await _settle(h, dc, rsc)
    obj = edit(h, "deployments", "web")
    obj["spec"]["paused"] = True
    obj["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    await _settle(h, dc, rsc)
    assert len(h.api.of("replicasets")) == 1
    cond = {c["type"]: c for c in h.api.of("deployments")[0]["status"]["conditions"]}["Progressing"]
    assert (cond["status"], cond["reason"]) == ("Unknown", "DeploymentPaused")


@pytest.mark.parametrize(("value", "total", "up", "expected"), [("25%", 4, True, 1), ("25%", 10, True, 3),
                                                                  ("25%", 10, False, 2), (2, 10, False, 2)])
def test_surge_rounding(value: Any, total: int, up: bool, expected: int) -> None:
    from minikube_py.controllers.deployment import resolve_fraction

    assert resolve_fraction(value, total, up) == expected


def statefulset(replicas: int, *, policy: str = "OrderedReady", image: str = "v1", partition: int = 0) -> Obj:
    t = copy.deepcopy(TEMPLATE)
    t["spec"]["containers"][0]["image"] = image
    return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
            "spec": {"replicas": replicas, "serviceName": "db", "podManagementPolicy": policy,
                     "selector": {"matchLabels": {"app": "web"}}, "template": t,
                     "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
                     "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                               "spec": {"accessModes": ["ReadWriteOnce"],
                                                        "resources": {"requests": {"storage": "1Gi"}}}}]}}


async def _pass(h: Harness, c: Any, ready: bool = True) -> None:
    h.sync()
    for key in list(c.sets.cache):
        c.queue.add(key)
    await c.drain()
    if ready:
        h.set_pods_ready()
    h.sync()


async def test_statefulset_ordered_creation_claims_and_reverse_scale_down() -> None:
    from minikube_py.controllers.statefulset import StatefulSetController

    h = Harness()
    sc = StatefulSetController(h.ctx)
    await _create(h, "statefulsets", statefulset(3))
    await _pass(h, sc, ready=False)
    assert [p["metadata"]["name"] for p in h.api.of("pods")] == ["db-0"]  # one at a time, in order
    await _pass(h, sc, ready=False)
    assert len(h.api.of("pods")) == 1  # db-0 is not ready: the set waits
    h.set_pods_ready()
    for _ in range(4):
        await _pass(h, sc)
    pods = {p["metadata"]["name"]: p for p in h.api.of("pods")}
    assert sorted(pods) == ["db-0", "db-1", "db-2"]
    assert pods["db-1"]["spec"]["hostname"] == "db-1" and pods["db-1"]["spec"]["subdomain"] == "db"
    assert pods["db-1"]["metadata"]["labels"]["apps.kubernetes.io/pod-index"] == "1"
    assert {"name": "data", "persistentVolumeClaim": {"claimName": "data-db-1"}} in pods["db-1"]["spec"]["volumes"]
    assert sorted(c["metadata"]["name"] for c in h.api.of("persistentvolumeclaims")) == \
        ["data-db-0", "data-db-1", "data-db-2"]
    edit(h, "statefulsets", "db")["spec"]["replicas"] = 1
    await _pass(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2"]  # the highest ordinal first
    await _pass(h, sc)
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2", "db-1"]
    assert len(h.api.of("persistentvolumeclaims")) == 3  # claims are kept


async def test_statefulset_rolling_update_goes_down_to_the_partition() -> None:
    from minikube_py.controllers.statefulset import REVISION_LABEL, StatefulSetController

    h = Harness()
    sc = StatefulSetController(h.ctx)
    await _create(h, "statefulsets", statefulset(3, policy="Parallel"))
    for _ in range(3):
        await _pass(h, sc)
    sts = edit(h, "statefulsets", "db")
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "v2"
    sts["spec"]["updateStrategy"]["rollingUpdate"]["partition"] = 1
    for _ in range(10):
        await _pass(h, sc)
    pods = {p["metadata"]["name"]: p for p in h.api.of("pods")}
    images = {n: p["spec"]["containers"][0]["image"] for n, p in pods.items()}
    assert images == {"db-0": "v1", "db-1": "v2", "db-2": "v2"}  # ordinals below the partition keep v1
    assert [c[2] for c in h.api.writes("delete", "pods")] == ["db-2", "db-1"]
    assert pods["db-2"]["metadata"]["labels"][REVISION_LABEL] == h.api.of("statefulsets")[0]["status"][
        "updateRevision"]


def test_endpoints_resolve_named_ports_and_split_ready() -> None:
    from minikube_py.controllers.endpoints import endpoints_for

    svc = {"spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}}

    def pod(name: str, ip: str, ready: bool) -> Obj:
        return {"metadata": {"name": name, "namespace": "default", "uid": name},
                "spec": {"nodeName": "n1", "containers": [{"name": "c", "ports": [{"name": "web",
                                                                                    "containerPort": 8080}]}]},
                "status": {"podIP": ip, "phase": "Running",
                           "conditions": [{"type": "Ready", "status": "True" if ready else "False"}]}}

    subsets = endpoints_for(svc, [pod("b", "10.0.0.2", True), pod("a", "10.0.0.1", True), pod("c", "10.0.0.3", False),
                                  {"metadata": {"name": "noip"}, "status": {}}])
    assert len(subsets) == 1
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.0.0.1", "10.0.0.2"]
    assert [a["ip"] for a in subsets[0]["notReadyAddresses"]] == ["10.0.0.3"]
    assert subsets[0]["ports"] == [{"name": "http", "port": 8080, "protocol": "TCP"}]


def test_eviction_times_follow_tolerations() -> None:
    from minikube_py.controllers.nodelifecycle import NodeLifecycleController

    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute", "timeAdded": "2030-01-01T00:00:00Z"}
    added = NodeLifecycleController._eviction_time({"spec": {}}, [taint], 0.0)
    assert added is not None  # not tolerated: evicted when the taint was added
    tolerating = {"spec": {"tolerations": [{"key": "node.kubernetes.io/unreachable", "operator": "Exists",
                                            "effect": "NoExecute", "tolerationSeconds": 30}]}}
    assert NodeLifecycleController._eviction_time(tolerating, [taint], 0.0) == added + 30
    forever = {"spec": {"tolerations": [{"operator": "Exists"}]}}
    assert NodeLifecycleController._eviction_time(forever, [taint], 0.0) is None


async def test_a_failing_reconcile_backs_off_and_is_evented() -> None:
    h = Harness()
    rsc = ReplicaSetController(h.ctx)
    await _create(h, "replicasets", replicaset(1))
    h.sync()

    async def broken(key: Any) -> float | None:
        raise ValueError("a bad object")

    rsc.reconcile = broken  # type: ignore[method-assign]
    delays = []
    for _ in range(4):
        rsc.queue.add("default/web-abc")
        key = rsc.queue.get_nowait()
        await rsc.process(key)
        rsc.queue.done(key)
        delays.append(rsc.queue.backoff("default/web-abc"))
    assert delays == sorted(delays) and delays[-1] > delays[0]  # exponential, not a hot loop
    assert rsc.errors == 4
    await h.ctx.recorder.flush()
    events = h.api.of("events")
    assert events and events[0]["reason"] == "ReconcileError" and "a bad object" in events[0]["message"]
    assert events[0].get("count", 1) >= 1


async def test_a_stale_cache_never_looks_like_a_hash_collision() -> None:
    h = Harness()
    dc = DeploymentController(h.ctx)
    await _create(h, "deployments", deployment(2))
    h.sync()
    await dc.drain()  # creates the new ReplicaSet
    assert len(h.api.of("replicasets")) == 1
    dc.queue.add("default/web")  # a second pass before the cache has seen that set
    h.api.sync_one(dc.deployments)
    await dc.drain()
    assert len(h.api.of("replicasets")) == 1
    assert not (h.api.of("deployments")[0].get("status") or {}).get("collisionCount")
