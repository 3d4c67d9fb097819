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


def test_a_bad_reserved_value_is_one_line() -> None:
    proc = _agent("--kubeconfig", "/nonexistent/kubeconfig", "--reserved", "cpu=lots")
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1
    assert proc.stderr.startswith("minikube-py: error: --reserved: cpu: quantities must match")


def test_reserved_resources_come_off_allocatable() -> None:
    from agents.node import allocatable, parse_reserved

    kept = parse_reserved("cpu=500m, memory=1Gi")
    assert kept == {"cpu": "500m", "memory": "1Gi"}
    assert allocatable({"cpu": "2", "memory": "4194304Ki", "pods": "110"}, kept) == {
        "cpu": "1500m", "memory": "3145728Ki", "pods": "110"}
    assert allocatable({"cpu": "1", "memory": "1024Ki", "pods": "110"}, parse_reserved("cpu=2,memory=1Gi")) == {
        "cpu": "0m", "memory": "0Ki", "pods": "110"}
    for bad in ("cpu", "disk=1Gi", "memory="):
        try:
            parse_reserved(bad)
        except ValueError as exc:
            assert "--reserved" in str(exc)
        else:
            raise AssertionError(f"{bad!r} was accepted")
