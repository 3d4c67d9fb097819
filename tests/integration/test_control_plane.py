"""The whole master (apiserver, scheduler, controllers) on hollow nodes, on sqlite and on etcd,
driven with the real kubectl and with mkctl as a user would.

Waits are bounded polls on what the user would look at (`rollout status`, `get`), never sleeps
standing in for a result.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.server import RunningCluster
from tests.fixtures.waiting import wait_for

pytestmark = pytest.mark.kubectl

Run = Callable[..., subprocess.CompletedProcess[str]]


def _runner(prefix: list[str], cluster: RunningCluster) -> Run:
    def run(*args: str, input: str | None = None, check: bool = True,
            timeout: float = 90) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([*prefix, "--kubeconfig", str(cluster.server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {proc.returncode}\nstdout:\n{proc.stdout}\n"
                                 f"stderr:\n{proc.stderr}")
        return proc
    return run


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, cluster: RunningCluster) -> Run:
    return _runner([str(kubectl_bin)], cluster)


@pytest.fixture(scope="module")
def mkctl(cluster: RunningCluster) -> Run:
    return _runner([sys.executable, "-m", "minikube_py.cli.mkctl"], cluster)


def get(run: Run, *args: str) -> Any:
    return json.loads(run("get", *args, "-o", "json").stdout)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def test_hollow_nodes_are_ready_nodes(kubectl: Run, cluster: RunningCluster) -> None:
    nodes = get(kubectl, "nodes")["items"]
    names = {n["metadata"]["name"] for n in nodes}
    assert set(cluster.node_names) <= names
    for n in nodes:
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        assert ready["status"] == "True"
        assert n["status"]["allocatable"]["cpu"] == "2"
    leases = get(kubectl, "leases", "-n", "kube-node-lease")["items"]
    assert {lease["metadata"]["name"] for lease in leases} >= set(cluster.node_names)


def test_deployment_rolls_out_updates_and_rolls_back(kubectl: Run, mkctl: Run) -> None:
    name = unique("web")
    kubectl("create", "deployment", name, "--image=nginx:1.25", "--replicas=6")
    out = kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s").stdout
    assert out.rstrip().endswith(f'deployment "{name}" successfully rolled out')
    pods = get(kubectl, "pods", "-l", f"app={name}")["items"]
    assert len(pods) == 6
    assert all(p["status"]["phase"] == "Running" and p["spec"]["nodeName"].startswith("hollow-node-")
               for p in pods)
    first_rs = get(kubectl, "rs", "-l", f"app={name}")["items"]
    assert len(first_rs) == 1 and first_rs[0]["metadata"]["name"].startswith(f"{name}-")

    kubectl("set", "image", f"deployment/{name}", "nginx=nginx:1.26")
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    pods = wait_for("the old pods to go", lambda: [
        p for p in get(kubectl, "pods", "-l", f"app={name}")["items"]] if all(
        p["spec"]["containers"][0]["image"] == "nginx:1.26"
        for p in get(kubectl, "pods", "-l", f"app={name}")["items"]) else None)
    assert len(pods) == 6
    history = mkctl("rollout", "history", f"deployment/{name}").stdout.splitlines()
    assert [line.split()[0] for line in history[2:4]] == ["1", "2"]

    assert mkctl("rollout", "undo", f"deployment/{name}").stdout == f"deployment.apps/{name} rolled back\n"
    mkctl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    dep = get(kubectl, "deployment", name)
    assert dep["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.25"
    assert dep["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "3"
    conds = {c["type"]: c for c in dep["status"]["conditions"]}
    assert conds["Available"]["status"] == "True"
    assert conds["Progressing"]["reason"] == "NewReplicaSetAvailable"

    kubectl("scale", f"deployment/{name}", "--replicas=2")
    wait_for("2 pods", lambda: len([p for p in get(kubectl, "pods", "-l", f"app={name}")["items"]
                                    if not p["metadata"].get("deletionTimestamp")]) == 2)
    described = kubectl("describe", "deployment", name).stdout
    assert "ScalingReplicaSet" in described and "Scaled down replica set" in described


def test_recreate_strategy(kubectl: Run) -> None:
    name = unique("rec")
    manifest = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                "spec": {"replicas": 3, "strategy": {"type": "Recreate"},
                         "selector": {"matchLabels": {"app": name}},
                         "template": {"metadata": {"labels": {"app": name}},
                                      "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    manifest["spec"]["template"]["spec"]["containers"][0]["image"] = "busybox:1.37"
    kubectl("apply", "-f", "-", input=json.dumps(manifest))
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    images = {p["spec"]["containers"][0]["image"] for p in get(kubectl, "pods", "-l", f"app={name}")["items"]}
    assert images == {"busybox:1.37"}


def test_unschedulable_pod_says_why_and_is_retried(kubectl: Run, mkctl: Run) -> None:
    name = unique("big")
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                    "resources": {"requests": {"cpu": "3"}}}]}}
    kubectl("create", "-f", "-", input=json.dumps(pod))

    def condition() -> Any:
        conds = get(kubectl, "pod", name)["status"].get("conditions") or []
        return next((c for c in conds if c["type"] == "PodScheduled" and c["status"] == "False"), None)

    cond = wait_for("PodScheduled=False", condition, timeout=30)
    assert cond["reason"] == "Unschedulable"
    assert cond["message"].startswith("0/3 nodes are available: 3 Insufficient cpu.")
    described = mkctl("describe", "pod", name).stdout
    assert "FailedScheduling" in described and "Insufficient cpu" in described
    # a node that fits joins: the pod is retried and lands there
    big_node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": f"{name}-node"},
                "status": {"allocatable": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                           "capacity": {"cpu": "8", "memory": "16Gi", "pods": "110"},
                           "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}}
    kubectl("create", "-f", "-", input=json.dumps(big_node))
    kubectl("patch", "node", f"{name}-node", "--subresource=status", "--type=merge",
            "-p", json.dumps({"status": big_node["status"]}))
    wait_for("the pod to be bound", lambda: get(kubectl, "pod", name)["spec"].get("nodeName") == f"{name}-node",
             timeout=30)
    kubectl("delete", "pod", name, "--grace-period=0", "--force")
    kubectl("delete", "node", f"{name}-node")


def test_replicaset_replaces_a_deleted_pod(kubectl: Run) -> None:
    name = unique("rs")
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": name},
          "spec": {"replicas": 3, "selector": {"matchLabels": {"app": name}},
                   "template": {"metadata": {"labels": {"app": name}},
                                "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}}}
    kubectl("create", "-f", "-", input=json.dumps(rs))
    wait_for("3 ready", lambda: get(kubectl, "rs", name)["status"].get("readyReplicas") == 3)
    victim = get(kubectl, "pods", "-l", f"app={name}")["items"][0]["metadata"]["name"]
    kubectl("delete", "pod", victim)  # graceful: the hollow kubelet confirms
    wait_for("a replacement", lambda: len([p for p in get(kubectl, "pods", "-l", f"app={name}")["items"]
                                           if p["metadata"]["name"] != victim
                                           and p["status"].get("phase") == "Running"]) == 3)
    events = kubectl("describe", "rs", name).stdout
    assert "SuccessfulCreate" in events and "Created pod: " in events


def _deployment(name: str, replicas: int = 2) -> str:
    return json.dumps({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                       "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                                "template": {"metadata": {"labels": {"app": name}},
                                             "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                                                      "ports": [{"name": "http",
                                                                                 "containerPort": 8080}]}]}}}})


def _owned(kubectl: Run, name: str) -> tuple[int, int]:
    rs = [r for r in get(kubectl, "rs")["items"] if r["metadata"]["name"].startswith(f"{name}-")]
    pods = [p for p in get(kubectl, "pods", "-l", f"app={name}")["items"]]
    return len(rs), len(pods)


def test_garbage_collection_background_orphan_foreground(kubectl: Run) -> None:
    bg, orphan, fg = unique("gc-bg"), unique("gc-or"), unique("gc-fg")
    for name in (bg, orphan, fg):
        kubectl("create", "-f", "-", input=_deployment(name))
    for name in (bg, orphan, fg):
        kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
    kubectl("delete", "deployment", bg)  # background: the default
    wait_for("background collection", lambda: _owned(kubectl, bg) == (0, 0))
    kubectl("delete", "deployment", orphan, "--cascade=orphan")
    assert _owned(kubectl, orphan) == (1, 2)
    rs = next(r for r in get(kubectl, "rs")["items"] if r["metadata"]["name"].startswith(f"{orphan}-"))
    assert not rs["metadata"].get("ownerReferences")  # orphaned, not deleted
    kubectl("delete", "deployment", fg, "--cascade=foreground", "--timeout=60s")
    assert _owned(kubectl, fg) == (0, 0)  # the owner went only after its dependents
    kubectl("delete", "rs", rs["metadata"]["name"])


def test_namespace_deletion_removes_its_content(kubectl: Run) -> None:
    ns = unique("doomed")
    kubectl("create", "namespace", ns)
    kubectl("-n", ns, "create", "-f", "-", input=_deployment("app", 3))
    kubectl("-n", ns, "create", "configmap", "cfg", "--from-literal=a=b")
    kubectl("-n", ns, "rollout", "status", "deployment/app", "--timeout=60s")
    assert get(kubectl, "namespace", ns)["spec"]["finalizers"] == ["kubernetes"]
    kubectl("delete", "namespace", ns, "--timeout=60s")  # waits until it is gone
    assert kubectl("get", "namespace", ns, check=False).returncode == 1
    assert get(kubectl, "pods", "-A", "--field-selector", f"metadata.namespace={ns}")["items"] == []


def test_services_get_addresses_and_endpoints(kubectl: Run) -> None:
    kube = get(kubectl, "service", "kubernetes", "-n", "default")
    assert kube["spec"]["clusterIP"] == "10.96.0.1" and kube["spec"]["ports"][0]["port"] == 443
    name = unique("ep")
    kubectl("create", "-f", "-", input=_deployment(name, 3))
    kubectl("expose", "deployment", name, "--port=80", "--target-port=http", "--type=NodePort")
    svc = get(kubectl, "service", name)
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    assert ip.startswith("10.") and ip != "10.96.0.1" and 30000 <= node_port <= 32767
    kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")

    def addresses() -> Any:
        ep = get(kubectl, "endpoints", name)
        subsets = ep.get("subsets") or []
        ips = sorted(a["ip"] for s in subsets for a in s.get("addresses") or [])
        return subsets if len(ips) == 3 else None

    subsets = wait_for("3 ready addresses", addresses)
    pod_ips = sorted(p["status"]["podIP"] for p in get(kubectl, "pods", "-l", f"app={name}")["items"])
    assert sorted(a["ip"] for a in subsets[0]["addresses"]) == pod_ips
    assert subsets[0]["ports"] == [{"port": 8080, "protocol": "TCP"}]  # the named target port, resolved
    # a taken node port is refused with the field and the reason; nothing is created
    taken = json.dumps({"apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{name}-dup"},
                        "spec": {"type": "NodePort", "selector": {"app": name},
                                 "ports": [{"port": 80, "nodePort": node_port}]}})
    refused = kubectl("create", "-f", "-", input=taken, check=False)
    assert refused.returncode == 1
    assert f"spec.ports[0].nodePort: Invalid value: {node_port}: provided port is already allocated" in refused.stderr
    assert kubectl("get", "service", f"{name}-dup", check=False).returncode == 1
    kubectl("scale", f"deployment/{name}", "--replicas=1")
    wait_for("1 address", lambda: sum(len(s.get("addresses") or [])
                                      for s in get(kubectl, "endpoints", name).get("subsets") or []) == 1)
    kubectl("delete", "service", name)
    wait_for("the endpoints to go", lambda: kubectl("get", "endpoints", name, check=False).returncode == 1)


def test_cluster_ips_are_unique_under_concurrency(cluster: RunningCluster) -> None:
    import asyncio

    from minikube_py.api import kinds
    from minikube_py.client.aio import ApiClient

    info = kinds.require("v1", "Service")
    prefix = unique("par")

    async def main() -> list[str]:
        client = ApiClient.from_kubeconfig(cluster.server.kubeconfig)
        try:
            created = await asyncio.gather(*(client.create(info, "default", {
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": f"{prefix}-{i}"},
                "spec": {"type": "NodePort", "selector": {"app": "none"}, "ports": [{"port": 80}]}})
                for i in range(40)))
            await asyncio.gather(*(client.delete(info, "default", f"{prefix}-{i}") for i in range(40)))
            return [c["spec"]["clusterIP"] for c in created] + [str(c["spec"]["ports"][0]["nodePort"])
                                                                 for c in created]
        finally:
            await client.close()

    values = asyncio.run(main())
    assert len(values) == 80 and len(set(values)) == 80


def test_node_failure_taints_and_evicts(kubectl: Run, cluster: RunningCluster) -> None:
    """With the fast timing profile: grace 10 s, then unreachable taints; pods tolerate 30 s."""
    import signal

    from tests.fixtures.server import start_hollow_nodes, stop_server

    if cluster.server.store != "sqlite":
        pytest.skip("node failure is store-independent; run once (it takes ~45 s)")
    assert get(kubectl, "node", cluster.node_names[0])["spec"]["podCIDR"].startswith("10.244.")
    name = unique("doomed")
    proc = start_hollow_nodes(cluster.server, 1, prefix=name, labels=f"pool={name}", cpu="8", memory="16Gi")
    node = f"{name}-0"
    try:
        dep = json.loads(_deployment(name, 2))
        dep["spec"]["template"]["spec"]["nodeSelector"] = {"pool": name}
        kubectl("create", "-f", "-", input=json.dumps(dep))
        kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")
        pods = get(kubectl, "pods", "-l", f"app={name}")["items"]
        assert {p["spec"]["nodeName"] for p in pods} == {node}
        toleration = next(t for t in pods[0]["spec"]["tolerations"] if t["key"] == "node.kubernetes.io/unreachable")
        assert toleration == {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute",
                              "tolerationSeconds": 30}
    finally:
        stop_server(proc, signal.SIGKILL)  # the node dies: no more heartbeats

    def unreachable() -> Any:
        n = get(kubectl, "node", node)
        ready = next(c for c in n["status"]["conditions"] if c["type"] == "Ready")
        keys = {(t["key"], t["effect"]) for t in n["spec"].get("taints") or []}
        return ready["status"] == "Unknown" and ("node.kubernetes.io/unreachable", "NoExecute") in keys and n

    n = wait_for("the node to turn Unknown and get tainted", unreachable, timeout=40)
    assert ("node.kubernetes.io/unreachable", "NoSchedule") in {(t["key"], t["effect"]) for t in n["spec"]["taints"]}
    evicted = wait_for("the pods to be evicted", lambda: all(
        p["metadata"].get("deletionTimestamp") for p in pods_named(kubectl, name, [p["metadata"]["name"]
                                                                                    for p in pods])), timeout=60)
    assert evicted
    # the ReplicaSet replaces them; they wait for a node of their pool
    replacements = wait_for("replacements", lambda: [p for p in get(kubectl, "pods", "-l", f"app={name}")["items"]
                                                     if not p["metadata"].get("deletionTimestamp")]
                            if len([p for p in get(kubectl, "pods", "-l", f"app={name}")["items"]
                                    if not p["metadata"].get("deletionTimestamp")]) == 2 else None, timeout=30)
    assert all(not p["spec"].get("nodeName") for p in replacements)
    kubectl("delete", "deployment", name, "--wait=false")
    kubectl("delete", "node", node, "--wait=false")


def pods_named(kubectl: Run, app: str, names: list[str]) -> list[Any]:
    return [p for p in get(kubectl, "pods", "-l", f"app={app}")["items"] if p["metadata"]["name"] in names]


def test_statefulset_rolls_out_in_order_with_claims(kubectl: Run, mkctl: Run) -> None:
    name = unique("db")
    sts = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
           "spec": {"replicas": 3, "serviceName": name, "selector": {"matchLabels": {"app": name}},
                    "template": {"metadata": {"labels": {"app": name}},
                                 "spec": {"containers": [{"name": "db", "image": "busybox:1.36"}]}},
                    "volumeClaimTemplates": [{"metadata": {"name": "data"},
                                              "spec": {"accessModes": ["ReadWriteOnce"],
                                                       "resources": {"requests": {"storage": "1Gi"}}}}]}}
    kubectl("create", "-f", "-", input=json.dumps(sts))
    out = kubectl("rollout", "status", f"statefulset/{name}", "--timeout=60s").stdout
    assert "partitioned roll out complete" in out or "rolling update complete" in out
    pods = sorted(get(kubectl, "pods", "-l", f"app={name}")["items"], key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in pods] == [f"{name}-0", f"{name}-1", f"{name}-2"]
    started = [p["metadata"]["creationTimestamp"] for p in pods]
    assert started == sorted(started)  # in ordinal order
    claims = sorted(c["metadata"]["name"] for c in get(kubectl, "pvc", "-l", f"app={name}")["items"])
    assert claims == [f"data-{name}-0", f"data-{name}-1", f"data-{name}-2"]
    kubectl("scale", f"statefulset/{name}", "--replicas=1")
    wait_for("scale down to 1", lambda: [p["metadata"]["name"] for p in get(kubectl, "pods", "-l", f"app={name}")[
        "items"] if not p["metadata"].get("deletionTimestamp")] == [f"{name}-0"])
    assert len(get(kubectl, "pvc", "-l", f"app={name}")["items"]) == 3  # the claims stay


def test_mkctl_trace_shows_the_loops_at_work(kubectl: Run, cluster: RunningCluster) -> None:
    import os
    import threading

    name = unique("traced")
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig",
                             str(cluster.server.kubeconfig), "trace", f"deployment/{name}", "-o", "json"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    traces: list[dict[str, Any]] = []

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.strip():
                traces.append(json.loads(line))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        # the components learn that somebody watches within a few seconds: keep changing until traced
        kubectl("create", "deployment", name, "--image=nginx:1.25", "--replicas=2")
        kubectl("rollout", "status", f"deployment/{name}", "--timeout=60s")

        rounds = [0]

        def seen() -> Any:
            controllers = {t["controller"] for t in traces}
            if not {"deployment-controller", "replicaset-controller", "scheduler"} <= controllers:
                rounds[0] += 1
                kubectl("scale", f"deployment/{name}", f"--replicas={2 + rounds[0] % 2}")
                return None
            return controllers

        try:
            wait_for("traces of the deployment, replicaset and scheduler loops", seen, timeout=40)
        except AssertionError:
            proc.terminate()
            names = [t["controller"] for t in traces]
            raise AssertionError(f"traces: {names}; stderr: {proc.communicate(timeout=5)[1]}") from None
    finally:
        proc.terminate()
        proc.wait(timeout=5)
    assert all(t["key"].startswith(f"default/{name}") for t in traces)
    rs_writes = [w for t in traces if t["controller"] == "replicaset-controller" for w in t["wrote"]]
    assert any(w.startswith("POST /api/v1/namespaces/default/pods -> 201") or w.startswith("DELETE ")
               for w in rs_writes), rs_writes
    deploy = next(t for t in traces if t["controller"] == "deployment-controller")
    assert deploy["trigger"] and "replicas" in deploy["wanted"] and deploy["result"].startswith(("ok", "conflict"))


def test_claims_get_local_volumes_on_their_first_consumers_node(kubectl: Run) -> None:
    name = unique("vol")
    classes = get(kubectl, "storageclass")["items"]
    default = [c for c in classes if (c["metadata"].get("annotations") or {}).get(
        "storageclass.kubernetes.io/is-default-class") == "true"]
    assert [c["metadata"]["name"] for c in default] == ["standard"]
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "2Gi"}}}}
    kubectl("create", "-f", "-", input=json.dumps(claim))
    pvc = get(kubectl, "pvc", name)
    assert pvc["spec"]["storageClassName"] == "standard"  # the default class, given by the apiserver
    assert pvc["status"].get("phase") == "Pending"  # waits for its first consumer

    def pod(pod_name: str) -> str:
        return json.dumps({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod_name},
                           "spec": {"containers": [{"name": "c", "image": "busybox:1.36",
                                                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                                    "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": name}}]}})

    kubectl("create", "-f", "-", input=pod(f"{name}-a"))
    node = wait_for("the first pod to be scheduled", lambda: get(kubectl, "pod", f"{name}-a")["spec"].get("nodeName"))
    bound = wait_for("the claim to be bound", lambda: (lambda c: c if c["status"].get("phase") == "Bound" else None)(
        get(kubectl, "pvc", name)))
    pv = get(kubectl, "pv", bound["spec"]["volumeName"])
    assert pv["spec"]["claimRef"]["name"] == name and pv["status"]["phase"] == "Bound"
    assert pv["spec"]["capacity"]["storage"] == "2Gi"
    terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["values"] == [node]
    for i in "bcd":  # every later consumer goes to the volume's node
        kubectl("create", "-f", "-", input=pod(f"{name}-{i}"))
    for i in "bcd":
        assert wait_for("a consumer scheduled", lambda i=i: get(kubectl, "pod", f"{name}-{i}")["spec"].get(
            "nodeName")) == node
    kubectl("delete", "pod", f"{name}-a", f"{name}-b", f"{name}-c", f"{name}-d")
    kubectl("delete", "pvc", name)
    wait_for("the Delete-policy volume to go", lambda: kubectl("get", "pv", pv["metadata"]["name"],
                                                               check=False).returncode == 1)
