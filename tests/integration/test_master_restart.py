"""Reliability: kill -9 the master in the middle of a rollout and start it again on the same data.

The rollout must complete; the pods created over the whole run must be exactly the old and the
new generation (no pod created twice by a controller that forgot what it had asked for); and
the replicas asked of all ReplicaSets, and the pods alive, must never exceed replicas + maxSurge.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from minikube_py.api.errors import ApiError, Unreachable
from minikube_py.client.kubeconfig import KubeConfig
from minikube_py.client.rest import RestClient
from tests.fixtures.server import free_port, start_hollow_nodes, start_server, stop_server

pytestmark = pytest.mark.slow

REPLICAS, SURGE = 10, 2


def _deployment(image: str) -> dict[str, Any]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"replicas": REPLICAS, "selector": {"matchLabels": {"app": "web"}},
                     "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": SURGE, "maxUnavailable": 0}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "web", "image": image}]}}}}


class Watcher(threading.Thread):
    """Samples the cluster every 50 ms: every pod uid ever seen, the most replicas asked of all
    sets at once, the most pods alive at once."""

    def __init__(self, kubeconfig: Path) -> None:
        super().__init__(daemon=True)
        self.client = RestClient(KubeConfig.load(str(kubeconfig)).connection(), timeout=2)
        self.uids: set[str] = set()
        self.seen: dict[str, str] = {}  # uid -> "name (owner, created, deleted?)" for failure messages
        self.max_asked = 0
        self.max_alive = 0
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                pods = self.client.get("/api/v1/namespaces/default/pods", labelSelector="app=web")["items"]
                sets = self.client.get("/apis/apps/v1/namespaces/default/replicasets", labelSelector="app=web")["items"]
            except (Unreachable, ApiError, OSError, ValueError):
                self.client.close()
                time.sleep(0.05)
                continue
            self.uids |= {p["metadata"]["uid"] for p in pods}
            for p in pods:
                m = p["metadata"]
                owner = (m.get("ownerReferences") or [{}])[0].get("name")
                self.seen[m["uid"]] = f"{m['name']} ({owner}, {m.get('creationTimestamp')}, " \
                                      f"{'deleting' if m.get('deletionTimestamp') else 'alive'})"
            self.max_alive = max(self.max_alive, sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")))
            self.max_asked = max(self.max_asked, sum(int(s["spec"].get("replicas", 0)) for s in sets))
            time.sleep(0.05)


def _status(client: RestClient) -> dict[str, Any]:
    status: dict[str, Any] = client.get("/apis/apps/v1/namespaces/default/deployments/web").get("status") or {}
    return status


def _wait_rolled_out(client: RestClient, generation: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            d = client.get("/apis/apps/v1/namespaces/default/deployments/web")
            s = d.get("status") or {}
            if s.get("observedGeneration", 0) >= generation and s.get("updatedReplicas") == REPLICAS and \
                    s.get("availableReplicas") == REPLICAS and s.get("replicas") == REPLICAS:
                return
        except (Unreachable, ApiError, OSError):
            client.close()
        time.sleep(0.2)
    raise AssertionError(f"the rollout did not complete in {timeout}s: {_status(client)}")


def test_kill_9_during_a_rollout(tmp_path: Path) -> None:
    port = free_port()
    server = start_server(tmp_path / "master", "sqlite", port=port, control_plane=True)
    nodes = start_hollow_nodes(server, 3, cpu="8", memory="16Gi", start_delay=0.5)  # a rollout of seconds
    watcher = Watcher(server.kubeconfig)
    client = RestClient(KubeConfig.load(str(server.kubeconfig)).connection(), timeout=5)
    try:
        client.request("POST", "/apis/apps/v1/namespaces/default/deployments", body=_deployment("nginx:1.25"))
        _wait_rolled_out(client, 1)
        watcher.start()
        client.request("PATCH", "/apis/apps/v1/namespaces/default/deployments/web",
                       body={"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}}}},
                       content_type="application/strategic-merge-patch+json")
        # kill the master once the rollout is under way (the new set has some of its pods)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            s = _status(client)
            if s.get("observedGeneration", 0) >= 2 and 2 <= (s.get("updatedReplicas") or 0) < REPLICAS:
                break
            time.sleep(0.02)
        else:
            raise AssertionError(f"never caught the rollout under way: {_status(client)}")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(timeout=10)
        client.close()
        server = start_server(tmp_path / "master", "sqlite", port=port, control_plane=True)
        _wait_rolled_out(client, 2)
        time.sleep(1.0)  # let the watcher see the settled state
    finally:
        watcher.stop.set()
        watcher.join(timeout=5)
        stop_server(nodes)
        stop_server(server.process)
    assert watcher.max_asked <= REPLICAS + SURGE, f"replicas asked of all sets reached {watcher.max_asked}"
    assert watcher.max_alive <= REPLICAS + SURGE, f"{watcher.max_alive} pods were alive at once"
    # the old generation seen while sampling plus the new one: never a pod created twice
    assert len(watcher.uids) <= 2 * REPLICAS, f"{len(watcher.uids)} distinct pods over the rollout:\n" + \
        "\n".join(sorted(watcher.seen.values())) + "\n" + server.log()[-3000:]


def test_scheduler_and_controller_manager_run_alone(tmp_path: Path) -> None:
    """`server --no-control-plane` + `scheduler` + `controller-manager` as separate processes."""
    import subprocess
    import sys

    server = start_server(tmp_path / "api", "sqlite")  # the API only
    parts = [subprocess.Popen([sys.executable, "-m", "minikube_py.cli.main", part, "--kubeconfig",
                               str(server.kubeconfig)], stdout=(tmp_path / f"{part}.log").open("wb"),
                              stderr=subprocess.STDOUT, start_new_session=True)
             for part in ("scheduler", "controller-manager")]
    nodes = start_hollow_nodes(server, 2)
    client = RestClient(KubeConfig.load(str(server.kubeconfig)).connection(), timeout=5)
    try:
        client.request("POST", "/apis/apps/v1/namespaces/default/deployments", body=_deployment("nginx:1.25"))
        _wait_rolled_out(client, 1, timeout=60)
        pods = client.get("/api/v1/namespaces/default/pods", labelSelector="app=web")["items"]
        assert len(pods) == REPLICAS and all(p["spec"].get("nodeName") for p in pods)
    finally:
        stop_server(nodes)
        for p in parts:
            stop_server(p)
        stop_server(server.process)
    for part in ("scheduler", "controller-manager"):
        log = (tmp_path / f"{part}.log").read_text()
        assert f"{part} running against https://127.0.0.1:" in log and "Traceback" not in log, log
