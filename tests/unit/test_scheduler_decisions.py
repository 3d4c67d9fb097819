"""find_node's shortcuts (per-pod filter plans, plain nodes, in-place best) make the decisions of
the plain algorithm: every filter in the profile's order, the first failing one names the reason,
kube's adaptive sample, the best by (score, fewest pods, name).  Checked on seeded random clusters
(taints, unready and cordoned nodes, labels, host ports, full nodes, nodes known only from a pod)
and pods (requests, tolerations, selectors, affinity, host ports, a node name), both profiles.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from minikube_py.client.events import EventRecorder
from minikube_py.client.informer import InformerFactory
from minikube_py.scheduler.framework import NodeInfo, PodInfo, nodes_to_find
from minikube_py.scheduler.scheduler import Scheduler
from tests.unit.fake_api import FakeApi

Obj = dict[str, Any]


def reference_find_node(sched: Scheduler, pod: Obj, start: int) -> tuple[str | None, dict[str, int], int]:
    """The plain algorithm (find_node before its shortcuts); returns (node, reasons, next start)."""
    profile = sched.profiles[pod["spec"].get("schedulerName", "default-scheduler")]
    pi = PodInfo.of(pod)
    infos = sched._node_list()
    total = len(infos)
    want = nodes_to_find(total, sched.percentage)
    feasible: list[NodeInfo] = []
    reasons: dict[str, int] = {}
    start %= total
    checked = 0
    for i in range(total):
        ni = infos[(start + i) % total]
        checked += 1
        if "status" not in ni.node:
            reasons["node(s) were not ready"] = reasons.get("node(s) were not ready", 0) + 1
            continue
        failed: list[str] = []
        for _, check in profile.filters:
            failed = check(pi, ni)
            if failed:
                break
        if failed:
            for r in failed:
                reasons[r] = reasons.get(r, 0) + 1
            continue
        feasible.append(ni)
        if len(feasible) >= want:
            break
    nxt = (start + checked) % total
    if not feasible:
        return None, reasons, nxt
    best = max(feasible, key=lambda ni: (profile.score(pi, ni), -len(ni.pods), ni.name))
    return best.name, {}, nxt


def random_node(rng: random.Random, i: int) -> Obj:
    taints = []
    if rng.random() < 0.15:
        taints.append({"key": rng.choice(["dedicated", "gpu"]), "value": "x",
                       "effect": rng.choice(["NoSchedule", "NoExecute", "PreferNoSchedule"])})
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": f"n{i:04d}", "labels": {"zone": rng.choice("abc"), "disk": rng.choice(["ssd", "hdd"])}},
            "spec": {"taints": taints, "unschedulable": rng.random() < 0.05},
            "status": {"allocatable": {"cpu": rng.choice(["2", "4", "8"]), "memory": rng.choice(["4Gi", "16Gi"]),
                                       "pods": rng.choice(["110", "5"])},
                       "conditions": [{"type": "Ready", "status": "True" if rng.random() < 0.93 else "False"}]}}


def random_pod(rng: random.Random, i: int, profile: str) -> Obj:
    spec: Obj = {"schedulerName": profile, "containers": [{"name": "c", "image": "x", "resources": {"requests": {
        "cpu": rng.choice(["0", "100m", "500m", "1500m"]), "memory": rng.choice(["0", "64Mi", "1Gi"])}}}]}
    if rng.random() < 0.2:
        spec["tolerations"] = [{"key": "dedicated", "operator": "Exists"}]
    if rng.random() < 0.2:
        spec["nodeSelector"] = {"disk": "ssd"}
    if rng.random() < 0.1:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}]}}}
    if rng.random() < 0.1:
        spec["containers"][0]["ports"] = [{"containerPort": 80, "hostPort": rng.choice([80, 8080])}]
    if rng.random() < 0.03:
        spec["nodeName"] = f"n{rng.randrange(150):04d}"
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"p{i}", "namespace": "default", "uid": f"u{i}"},
            "spec": spec}


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(("profile", "nodes"), [("binpack-scheduler", 150), ("spread-scheduler", 150),
                                                ("default-scheduler", 40)])
def test_find_node_decides_as_the_plain_algorithm(seed: int, profile: str, nodes: int) -> None:
    rng = random.Random(seed)
    api = FakeApi()
    sched = Scheduler(InformerFactory(api), EventRecorder(api, "test"))  # type: ignore[arg-type]
    for i in range(nodes):
        sched._on_node("ADDED", random_node(rng, i), None)
    sched.node_infos["ghost"] = NodeInfo({"metadata": {"name": "ghost"}})  # known only from a pod
    sched._nodes_cache = None
    placed = 0
    for i in range(400):
        pod = random_pod(rng, i, profile)
        expected = reference_find_node(sched, pod, sched._next_start)
        got = sched.find_node(pod)
        assert (got[0], got[1]) == expected[:2], f"pod {i}: {pod['spec']}"
        assert sched._next_start == expected[2]
        if got[0] is not None:
            sched.node_infos[got[0]].add(f"default/p{i}", pod)
            placed += 1
    assert 50 < placed < 400  # the clusters fill up: both outcomes were exercised
