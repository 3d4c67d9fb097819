"""`minikube-py start | status | stop | delete` on the real Docker engine, driven as a user would.

A temp data dir, a free port, a unique node name, and HOME and KUBECONFIG pointed at a temp dir (the
real ~/.kube/config and ~/.minikube-py are never touched).  start makes the node Ready and merges a
`minikube-py` context; kubectl 1.35 runs a Deployment whose pod gets real k8s_ containers; stop keeps
the state and stops the containers; start resumes and the pod runs again; delete leaves nothing of
ours (containers, networks, data dir, kubeconfig entries).  Teardown runs delete, then removes by
label whatever this test's node left, even when the test fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

docker = pytest.importorskip("docker")

from minikube_py.cli.launch import free_port, owned_by_node  # noqa: E402
from tests.fixtures.waiting import wait_for  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Env:
    data_dir: Path
    home: Path
    kubeconfig: Path
    node: str
    port: int
    kubectl_bin: Path

    def env(self) -> dict[str, str]:
        return dict(os.environ, HOME=str(self.home), KUBECONFIG=str(self.kubeconfig), PYTHONUNBUFFERED="1")

    def cli(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        extra = ["--data-dir", str(self.data_dir)]
        return subprocess.run([sys.executable, "-m", "minikube_py.cli.main", *args, *extra], capture_output=True,
                              text=True, timeout=timeout, env=self.env(), cwd=ROOT)

    def kubectl(self, *args: str) -> subprocess.CompletedProcess[str]:
        # no --kubeconfig: kubectl must find the context `start` merged into $KUBECONFIG
        proc = subprocess.run([str(self.kubectl_bin), *args], capture_output=True, text=True, timeout=90,
                              env=self.env())
        assert proc.returncode == 0, f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
        return proc


_ours = owned_by_node  # by our ownership label, this node only


@pytest.fixture
def docker_client() -> Iterator[Any]:
    try:
        client = docker.from_env(timeout=60)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"no Docker engine: {exc}")
    yield client
    client.close()


@pytest.fixture
def env(docker_client: Any, kubectl_bin: Path, tmp_path: Path) -> Iterator[Env]:
    home = tmp_path / "home"
    home.mkdir()
    e = Env(tmp_path / "mk", home, home / ".kube" / "config", f"start-{uuid.uuid4().hex[:6]}", free_port(),
            kubectl_bin)
    try:
        yield e
    finally:
        e.cli("delete", timeout=120)
        containers, networks = _ours(docker_client, e.node)
        for c in containers:
            c.remove(force=True)
        for n in networks:
            n.remove()


def _web_pod(e: Env) -> dict[str, Any] | None:
    pods = json.loads(e.kubectl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    for pod in pods:
        status = pod.get("status") or {}
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        if status.get("phase") == "Running" and status.get("podIP") and ready and not pod["metadata"].get(
                "deletionTimestamp"):
            return dict(pod)
    return None


def test_start_refuses_a_busy_port_and_an_unreachable_docker(env: Env) -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", env.port))
        s.listen()
        busy = env.cli("start", "--port", str(env.port), "--node-name", env.node)
    assert busy.returncode == 1
    assert busy.stderr.strip().splitlines() == [
        f"minikube-py: error: port {env.port} is in use on 127.0.0.1: stop what listens there, or pass --port "
        "with a free one"], busy.stderr
    down = subprocess.run([sys.executable, "-m", "minikube_py.cli.main", "start", "--data-dir", str(env.data_dir),
                           "--port", str(env.port), "--node-name", env.node], capture_output=True, text=True,
                          timeout=60, cwd=ROOT, env=dict(env.env(), DOCKER_HOST=f"unix://{env.home}/no-docker.sock"))
    assert down.returncode == 1
    lines = down.stderr.strip().splitlines()
    assert len(lines) == 1 and "the Docker daemon does not answer" in lines[0] and "start it" in lines[0], lines
    assert not (env.data_dir / "run").exists()  # nothing was started


def test_start_status_stop_resume_delete(env: Env, docker_client: Any) -> None:
    e = env
    # a kubeconfig the user already has: its cluster, user and context stay untouched throughout
    e.kubeconfig.parent.mkdir(parents=True)
    mine = {"name": "theirs", "cluster": {"server": "https://127.0.0.1:1"}}
    e.kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [mine], "users": [{"name": "theirs", "user": {}}],
        "contexts": [{"name": "theirs", "context": {"cluster": "theirs", "user": "theirs"}}],
        "current-context": "theirs"}))
    started = e.cli("start", "--port", str(e.port), "--streaming-port", str(free_port()), "--node-name", e.node,
                    "--node-ip", "127.0.0.1", "--timing", "fast")
    assert started.returncode == 0, started.stdout + started.stderr
    for line in ("control plane answering", f"node {e.node} registered", f"node {e.node} Ready",
                 "system images present", "kubectl get nodes", "mkctl get nodes"):
        assert line in started.stdout, started.stdout
    config = yaml.safe_load(e.kubeconfig.read_text())
    assert config["current-context"] == "minikube-py"  # as `minikube start`: the new context is current
    assert {c["name"] for c in config["contexts"]} == {"theirs", "minikube-py"}
    assert mine in config["clusters"]
    nodes = json.loads(e.kubectl("get", "nodes", "-o", "json").stdout)["items"]
    assert [n["metadata"]["name"] for n in nodes] == [e.node]
    mk = subprocess.run([sys.executable, "-m", "minikube_py.cli.main", "kubectl", "get", "nodes"],
                        capture_output=True, text=True, timeout=60, env=e.env(), cwd=ROOT)
    assert mk.returncode == 0 and e.node in mk.stdout and "Ready" in mk.stdout, mk.stdout + mk.stderr

    e.kubectl("create", "deployment", "web", "--image=busybox", "--", "sleep", "3600")
    pod = wait_for("the web pod Running with a pod IP", lambda: _web_pod(e), 90.0, every=0.5)
    uid = pod["metadata"]["uid"]
    containers, networks = _ours(docker_client, e.node)
    names = sorted(c.name for c in containers if c.status == "running" and uid in c.name)
    assert [n.split("_")[1] for n in names] == ["POD", "busybox"], names
    assert all(n.startswith("k8s_") for n in names)
    assert len(networks) == 1

    status = e.cli("status")
    assert status.returncode == 0, status.stdout + status.stderr
    assert str(e.data_dir / "kubeconfig") in status.stdout and f"node {e.node}: Ready" in status.stdout

    again = e.cli("start")
    assert again.returncode == 0 and "already running" in again.stdout, again.stdout + again.stderr

    stopped = e.cli("stop")
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    status = e.cli("status")
    assert status.returncode == 7 and "master: Stopped" in status.stdout, status.stdout
    containers, _ = _ours(docker_client, e.node)
    assert containers and all(c.status in ("exited", "created") for c in containers), \
        [(c.name, c.status) for c in containers]
    assert e.data_dir.exists()
    assert yaml.safe_load(e.kubeconfig.read_text())["current-context"] == ""  # as `minikube stop`

    resumed = e.cli("start")
    assert resumed.returncode == 0 and f"node {e.node} Ready" in resumed.stdout, resumed.stdout + resumed.stderr

    def running_again() -> Any:
        # the pod's status may still be the one from before the stop: its containers must run again too
        running = sorted(c.name.split("_")[1] for c in _ours(docker_client, e.node)[0]
                         if c.status == "running" and uid in c.name)
        return running == ["POD", "busybox"] and _web_pod(e)

    assert yaml.safe_load(e.kubeconfig.read_text())["current-context"] == "minikube-py"
    pod = wait_for("the web pod's containers running again after the resume", running_again, 90.0, every=0.5)
    assert pod["metadata"]["uid"] == uid  # the same pod: the state was kept

    deleted = e.cli("delete")
    assert deleted.returncode == 0, deleted.stdout + deleted.stderr
    containers, networks = _ours(docker_client, e.node)
    assert containers == [] and networks == []
    assert not e.data_dir.exists()
    config = yaml.safe_load(e.kubeconfig.read_text())
    for section in ("clusters", "users", "contexts"):
        assert all(i["name"] != "minikube-py" for i in config.get(section) or []), config
    assert config.get("current-context") != "minikube-py"
    assert mine in config["clusters"] and [c["name"] for c in config["contexts"]] == ["theirs"]
    status = e.cli("status")
    assert status.returncode == 7, status.stdout
