"""docker-compose.yml end to end: the locally built image, a real etcd container and the master.

Builds the image offline (`python -m minikube_py.deploy.images`, the base by debootstrap when
missing), brings the compose project up under its own name, uses the real kubectl against it
through the published loopback port, restarts the master and checks the state survived in etcd.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.server import free_port

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def compose(project: str, env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker-compose", "-p", project, *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def wait_for_kubeconfig(project: str, env: dict[str, str], port: int, dest: Path, kubectl: Path) -> None:
    deadline = time.monotonic() + 90
    last = ""
    while time.monotonic() < deadline:
        got = compose(project, env, "exec", "-T", "master", "cat", "/var/lib/minikube-py/kubeconfig", timeout=30)
        if got.returncode == 0 and "server:" in got.stdout:
            dest.write_text(got.stdout.replace("127.0.0.1:6443", f"127.0.0.1:{port}"))
            probe = subprocess.run([str(kubectl), "--kubeconfig", str(dest), "get", "--raw", "/readyz"],
                                   capture_output=True, text=True, timeout=30)
            if probe.returncode == 0 and probe.stdout.strip() == "ok":
                return
            last = probe.stderr
        else:
            last = got.stderr
        time.sleep(1)
    logs = compose(project, env, "logs", "--tail=40").stdout
    raise AssertionError(f"the compose master did not become ready: {last}\n{logs}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, kubectl_bin: Path) -> Iterator[tuple[str, dict[str, str], Path]]:
    build = subprocess.run([sys.executable, "-m", "minikube_py.deploy.images"], cwd=ROOT, capture_output=True,
                           text=True, timeout=900)
    assert build.returncode == 0, build.stdout + build.stderr
    project = f"mkpy-e2e-{uuid.uuid4().hex[:6]}"
    port = free_port()
    env = dict(os.environ, MINIKUBE_PY_PORT=str(port))
    kubeconfig = tmp_path_factory.mktemp("compose") / "kubeconfig"
    up = compose(project, env, "up", "-d")
    try:
        assert up.returncode == 0, up.stderr
        wait_for_kubeconfig(project, env, port, kubeconfig, kubectl_bin)
        yield project, env, kubeconfig
    finally:
        compose(project, env, "down", "-v", "--remove-orphans")


def test_compose_master_on_etcd_serves_kubectl_and_keeps_state(cluster: tuple[str, dict[str, str], Path],
                                                                kubectl_bin: Path) -> None:
    project, env, kubeconfig = cluster

    def kubectl(*args: str) -> str:
        proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(kubeconfig), *args], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 0, f"kubectl {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    names = kubectl("get", "ns", "-o", "name").split()
    assert {"namespace/default", "namespace/kube-system", "namespace/kube-public"} <= set(names)
    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2")
    uid = json.loads(kubectl("get", "deploy", "web", "-o", "json"))["metadata"]["uid"]

    restarted = compose(project, env, "restart", "master")
    assert restarted.returncode == 0, restarted.stderr
    wait_for_kubeconfig(project, env, int(env["MINIKUBE_PY_PORT"]), kubeconfig, kubectl_bin)
    after = json.loads(kubectl("get", "deploy", "web", "-o", "json"))
    assert after["metadata"]["uid"] == uid and after["spec"]["replicas"] == 2
