"""`minikube-py agent` failures a user can cause end in one line and exit 1: a missing kubeconfig,
an unreachable Docker daemon."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "minikube_py.cli.main", "agent", *args], capture_output=True,
                          text=True, timeout=60, env=env)


def test_a_missing_kubeconfig_is_one_line() -> None:
    proc = _agent("--kubeconfig", "/nonexistent/kubeconfig")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("minikube-py: error: ") and proc.stderr.count("\n") == 1
    assert "--kubeconfig" in proc.stderr


def test_an_unreachable_docker_daemon_is_one_line(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1',"
                          " insecure-skip-tls-verify: true}}]\nusers: [{name: u, user: {token: t}}]\n"
                          "contexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n")
    env = dict(os.environ, DOCKER_HOST=f"unix://{tmp_path}/no-docker.sock")
    proc = _agent("--kubeconfig", str(kubeconfig), env=env)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr.startswith("minikube-py: error: cannot reach the Docker daemon")
    assert proc.stderr.count("\n") == 1
