"""The control loops under injected faults, on a running cluster of hollow nodes (both stores).

`minikube-py fault-proxy` sits between the scheduler / controller-manager and the apiserver: it
fails 20% of their writes before forwarding them (500, 503, 409, 429 with Retry-After), delays
some requests and cuts every watch stream after a few seconds.  The hollow nodes talk to the
apiserver directly.  Through all of it:

- a 200-replica Deployment rolls out, is updated and undone; a StatefulSet scales 0 -> 5 -> 2 in
  ordinal order; a Foreground delete and a namespace deletion finish;
- every workload ends with exactly its replica count;
- no more pods were created than the rollouts needed (counted from a watch at the apiserver);
- never more than replicas + maxSurge pods of the Deployment were alive at once;
- never two pods held one StatefulSet ordinal at once.

A second test forwards 40% of pod creates and then answers 504 (the create happened, the
controller cannot know): the ReplicaSet must still end with exactly its replicas, none created twice.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from minikube_py.api.errors import ApiError, NotFound, Unreachable
from minikube_py.client.kubeconfig import KubeConfig
from minikube_py.client.rest import RestClient
from tests.fixtures.server import RunningServer, start_hollow_nodes, start_server, stop_server

pytestmark = pytest.mark.slow

REPLICAS, SURGE = 200, 50  # maxSurge 25% of 200
Obj = dict[str, Any]


@dataclass
class FaultyCluster:
    server: RunningServer
    client: RestClient
    proxy_url: str
    procs: list[subprocess.Popen[bytes]]

    def faults(self) -> Obj:
        import urllib.request

        with urllib.request.urlopen(f"{self.proxy_url}/debug/faults", timeout=5) as resp:
            data: Obj = json.loads(resp.read())
        return data


def _start(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "minikube_py.cli.main", *args], stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _wait_for(what: str, check: Any, timeout: float, *, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except (Unreachable, ApiError, OSError) as exc:
            last = exc
        time.sleep(every)
    raise AssertionError(f"{what}: not done in {timeout}s (last: {last})")


def start_faulty_cluster(data_dir: Path, store: str, proxy_args: list[str], *, nodes: int = 4) -> FaultyCluster:
    server = start_server(data_dir, store)  # the API alone: the control plane runs behind the proxy
    procs: list[subprocess.Popen[bytes]] = []
    try:
        faulty = data_dir / "faulty.kubeconfig"
        proxy_log = data_dir / "fault-proxy.log"
        procs.append(_start(["fault-proxy", "--kubeconfig", str(server.kubeconfig), "--write-kubeconfig",
                             str(faulty), "--seed", "7", *proxy_args], proxy_log))
        _wait_for("fault-proxy", lambda: faulty.exists() and "listening on" in proxy_log.read_text(), 20)
        proxy_url = KubeConfig.load(str(faulty)).connection().server
        procs.append(_start(["scheduler", "--kubeconfig", str(faulty), "--timing", "fast"], data_dir / "scheduler.log"))
        procs.append(_start(["controller-manager", "--kubeconfig", str(faulty), "--timing", "fast"],
                            data_dir / "controller-manager.log"))
        procs.append(start_hollow_nodes(server, nodes, cpu="64", memory="256Gi"))
        client = RestClient(KubeConfig.load(str(server.kubeconfig)).connection(), timeout=10)
        return FaultyCluster(server, client, proxy_url, procs)
    except BaseException:
        for p in procs:
            stop_server(p)
        stop_server(server.process)
        raise


def stop_faulty_cluster(c: FaultyCluster, failed: bool) -> None:
    for p in reversed(c.procs):
        stop_server(p)
    stop_server(c.server.process)
    if failed:
        for name in ("controller-manager.log", "scheduler.log", "fault-proxy.log"):
            path = c.server.data_dir / name
            if path.exists():
                sys.stderr.write(f"\n--- {name} ---\n{path.read_text(errors='replace')[-4000:]}\n")


class PodWatch(threading.Thread):
    """Every pod event at the apiserver (a watch, not sampling): pods created by label, the most
    Deployment pods alive at once, StatefulSet ordinals held by two pods at once, and the order
    in which StatefulSet pods were created and deleted."""

    def __init__(self, kubeconfig: Path, namespace: str) -> None:
        super().__init__(daemon=True)
        self.client = RestClient(KubeConfig.load(str(kubeconfig)).connection(), timeout=None)  # type: ignore[arg-type]
        self.path = f"/api/v1/namespaces/{namespace}/pods"
        self.created: dict[str, set[str]] = {}  # app label -> pod uids ever seen
        self.alive: dict[str, set[str]] = {}  # app label -> uids of pods alive (not deleting) now
        self.max_alive: dict[str, int] = {}
        self.ordinal_holders: dict[str, set[str]] = {}  # sts pod name -> uids that exist now
        self.double_held: list[str] = []
        self.sts_order: list[str] = []  # "+web-0", "-web-4" ...
        self.started = threading.Event()
        self.stopping = False
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            listing = self.client.get(self.path)
            rv = listing["metadata"]["resourceVersion"]
            for pod in listing["items"]:
                self._see("ADDED", pod)
            while not self.stopping:
                self.started.set()
                for line in self.client.stream(self.path, {"watch": "true", "resourceVersion": rv,
                                                           "allowWatchBookmarks": "true", "timeoutSeconds": 600}):
                    event = json.loads(line)
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        raise AssertionError(f"the watch failed: {obj}")
                    rv = obj["metadata"]["resourceVersion"]
                    if event["type"] != "BOOKMARK":
                        self._see(event["type"], obj)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            if not self.stopping:
                self.error = exc
        finally:
            self.started.set()

    def _see(self, kind: str, pod: Obj) -> None:
        meta = pod["metadata"]
        app = (meta.get("labels") or {}).get("app", "")
        uid = meta["uid"]
        self.created.setdefault(app, set()).add(uid)
        alive = self.alive.setdefault(app, set())
        if kind == "DELETED" or meta.get("deletionTimestamp"):
            alive.discard(uid)
        else:
            alive.add(uid)
        self.max_alive[app] = max(self.max_alive.get(app, 0), len(alive))
        if app == "db":
            holders = self.ordinal_holders.setdefault(meta["name"], set())
            if kind == "DELETED":
                if uid in holders:
                    holders.discard(uid)
                    self.sts_order.append(f"-{meta['name']}")
            elif uid not in holders:
                holders.add(uid)
                self.sts_order.append(f"+{meta['name']}")
                if len(holders) > 1:
                    self.double_held.append(f"{meta['name']}: {sorted(holders)}")


def _deployment(name: str, replicas: int, image: str, app: str, ns: str = "default") -> Obj:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name, "namespace": ns},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": app}},
                     "template": {"metadata": {"labels": {"app": app}},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}


class NotYet(str):
    """A falsy state description: what `_wait_for` prints when the wait runs out."""

    def __bool__(self) -> bool:
        return False


def _rolled_out(client: RestClient, name: str, generation: int, replicas: int, ns: str = "default") -> bool | NotYet:
    d = client.get(f"/apis/apps/v1/namespaces/{ns}/deployments/{name}")
    s = d.get("status") or {}
    if s.get("observedGeneration", 0) >= generation and s.get("updatedReplicas") == replicas \
            and s.get("availableReplicas") == replicas and s.get("replicas") == replicas:
        return True
    sets = client.get(f"/apis/apps/v1/namespaces/{ns}/replicasets")["items"]
    pods = client.get(f"/api/v1/namespaces/{ns}/pods")["items"]
    phases: dict[str, int] = {}
    for p in pods:
        phase = "deleting" if p["metadata"].get("deletionTimestamp") else \
            (p.get("status") or {}).get("phase") or ("unbound" if not p["spec"].get("nodeName") else "bound")
        phases[phase] = phases.get(phase, 0) + 1
    return NotYet(f"deployment status {s}; sets {[(r['metadata']['name'], r['spec'].get('replicas'), r.get('status')) for r in sets]}; pods {phases}")


def _gone(client: RestClient, path: str) -> bool:
    try:
        client.get(path)
    except NotFound:
        return True
    return False


def _pods(client: RestClient, selector: str, ns: str = "default") -> list[Obj]:
    items: list[Obj] = client.get(f"/api/v1/namespaces/{ns}/pods", labelSelector=selector)["items"]
    return [p for p in items if not p["metadata"].get("deletionTimestamp")]


@pytest.fixture(params=["sqlite", "etcd"])
def faulty_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FaultyCluster]:
    store = "etcd://" + request.getfixturevalue("etcd_endpoint") if request.param == "etcd" else "sqlite"
    c = start_faulty_cluster(tmp_path, store, ["--fail-writes", "0.2", "--delay", "0.05", "--cut-watches", "4"])
    failed_before = request.session.testsfailed
    try:
        yield c
    finally:
        stop_faulty_cluster(c, request.session.testsfailed > failed_before)


def test_workloads_converge_exactly_under_injected_faults(faulty_cluster: FaultyCluster) -> None:
    c = faulty_cluster
    client = c.client
    watch = PodWatch(c.server.kubeconfig, "default")
    watch.start()
    assert watch.started.wait(10)
    started = time.monotonic()
    phases: dict[str, float] = {}

    # a 200-replica Deployment: rolled out, updated, undone
    base = "/apis/apps/v1/namespaces/default/deployments"
    client.request("POST", base, body=_deployment("web", REPLICAS, "nginx:1.25", "web"))
    _wait_for("the first rollout", lambda: _rolled_out(client, "web", 1, REPLICAS), 240, every=0.5)
    phases["rollout"] = time.monotonic() - started
    client.request("PATCH", f"{base}/web", content_type="application/strategic-merge-patch+json",
                   body={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.26"}]}}}})
    _wait_for("the update", lambda: _rolled_out(client, "web", 2, REPLICAS), 240, every=0.5)
    phases["update"] = time.monotonic() - started
    # `kubectl rollout undo`: the template of revision 1 back on the Deployment
    client.request("PATCH", f"{base}/web", content_type="application/strategic-merge-patch+json",
                   body={"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
    _wait_for("the undo", lambda: _rolled_out(client, "web", 3, REPLICAS), 240, every=0.5)
    phases["undo"] = time.monotonic() - started
    sets = client.get("/apis/apps/v1/namespaces/default/replicasets", labelSelector="app=web")["items"]
    assert sorted(s["spec"]["replicas"] for s in sets) == [0, REPLICAS]
    revision = {s["metadata"]["annotations"]["deployment.kubernetes.io/revision"]: s["spec"]["replicas"]
                for s in sets}
    assert revision == {"2": 0, "3": REPLICAS}, revision  # the undo made revision 1's set revision 3

    # a StatefulSet: 0 -> 5 -> 2, in ordinal order
    sts_base = "/apis/apps/v1/namespaces/default/statefulsets"
    client.request("POST", sts_base, body={
        "apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "db"},
        "spec": {"replicas": 0, "serviceName": "db", "selector": {"matchLabels": {"app": "db"}},
                 "template": {"metadata": {"labels": {"app": "db"}},
                              "spec": {"containers": [{"name": "c", "image": "postgres:16"}]}}}})
    for replicas in (5, 2):
        client.request("PATCH", f"{sts_base}/db", body={"spec": {"replicas": replicas}},
                       content_type="application/merge-patch+json")
        _wait_for(f"the StatefulSet at {replicas}", lambda r=replicas: (
            (client.get(f"{sts_base}/db").get("status") or {}).get("readyReplicas") == r
            and len(_pods(client, "app=db")) == r), 120, every=0.3)
    phases["statefulset"] = time.monotonic() - started
    assert sorted(p["metadata"]["name"] for p in _pods(client, "app=db")) == ["db-0", "db-1"]

    # a Foreground delete, and a namespace deletion, finish
    client.request("POST", base, body=_deployment("fg", 5, "nginx:1.25", "fg"))
    _wait_for("the fg rollout", lambda: _rolled_out(client, "fg", 1, 5), 120, every=0.3)
    client.request("DELETE", f"{base}/fg", body={"kind": "DeleteOptions", "apiVersion": "v1",
                                                 "propagationPolicy": "Foreground"})
    _wait_for("the Foreground delete", lambda: _gone(client, f"{base}/fg") and not _pods(client, "app=fg"), 120)
    client.request("POST", "/api/v1/namespaces", body={"apiVersion": "v1", "kind": "Namespace",
                                                       "metadata": {"name": "doomed"}})
    client.request("POST", "/apis/apps/v1/namespaces/doomed/deployments",
                   body=_deployment("app", 3, "nginx:1.25", "doomed", ns="doomed"))
    _wait_for("the doomed rollout", lambda: _rolled_out(client, "app", 1, 3, ns="doomed"), 120, every=0.3)
    client.request("DELETE", "/api/v1/namespaces/doomed")
    _wait_for("the namespace deletion", lambda: _gone(client, "/api/v1/namespaces/doomed"), 180, every=0.5)
    phases["deletes"] = time.monotonic() - started

    time.sleep(1.0)  # a last look for anything that should not be there
    watch.stopping = True
    assert watch.error is None, watch.error
    faults = c.faults()["stats"]
    print(f"\nphases (s from start): {phases}\nfaults: {faults}")
    # the faults did happen, to every kind of write and watch
    assert sum(faults["failed"].values()) > 100 and faults["watches_cut"] > 10, faults
    # exactly the replicas asked for
    assert len(_pods(client, "app=web")) == REPLICAS
    assert (client.get(f"{base}/web")["status"]).get("availableReplicas") == REPLICAS
    # never more pods made than the rollouts needed: the first rollout, the update and the undo each
    # made one generation; the StatefulSet made five
    assert len(watch.created["web"]) == 3 * REPLICAS, f"{len(watch.created['web'])} pods made for web"
    assert len(watch.created["db"]) == 5, sorted(watch.created["db"])
    assert len(watch.created["fg"]) == 5
    assert watch.max_alive["web"] <= REPLICAS + SURGE, f"{watch.max_alive['web']} web pods alive at once"
    assert watch.double_held == [], watch.double_held
    # StatefulSet order: up 0..4 one by one, down 4 then 3 then 2
    ups = [e for e in watch.sts_order if e.startswith("+")]
    downs = [e for e in watch.sts_order if e.startswith("-")]
    assert ups == [f"+db-{i}" for i in range(5)], watch.sts_order
    assert downs == ["-db-4", "-db-3", "-db-2"], watch.sts_order


def test_creates_whose_outcome_is_unknown_are_not_repeated(tmp_path: Path) -> None:
    # the proxy forwards 40% of pod creates and then answers 504: the pod exists, the controller
    # got a Timeout ("the request may have succeeded"); its cache runs 0.5 s behind, so only its
    # expectations stand between a retry and a duplicate
    c = start_faulty_cluster(tmp_path, "sqlite", ["--fail-writes", "0", "--unknown-writes", "0.4", "--only",
                                                  "pods", "--cut-watches", "0", "--watch-lag", "0.5"], nodes=2)
    failed = True
    try:
        watch = PodWatch(c.server.kubeconfig, "default")
        watch.start()
        assert watch.started.wait(10)
        replicas = 60
        c.client.request("POST", "/apis/apps/v1/namespaces/default/replicasets", body={
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "rs"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "rs"}},
                     "template": {"metadata": {"labels": {"app": "rs"}},
                                  "spec": {"containers": [{"name": "c", "image": "nginx"}]}}}})
        _wait_for("the ReplicaSet", lambda: (c.client.get("/apis/apps/v1/namespaces/default/replicasets/rs")
                                             .get("status") or {}).get("readyReplicas") == replicas, 120)
        time.sleep(2.0)  # long enough for a duplicate create to show, if one were coming
        watch.stopping = True
        faults = c.faults()["stats"]
        assert faults["unknown_outcome"] >= 3, faults
        assert len(_pods(c.client, "app=rs")) == replicas
        assert len(watch.created["rs"]) == replicas, f"{len(watch.created['rs'])} pods made for {replicas}"
        failed = False
    finally:
        stop_faulty_cluster(c, failed)
