"""A real single-node cluster for the node benchmarks: a master (sqlite) and one `minikube-py agent`
running pods as Docker containers on this host's engine.

Teardown stops both and removes every container and network that carries the agent's ownership
label (and nothing else), even when the benchmark fails.  Used by benchmarks/bench_pod_startup.py,
bench_agent_rest.py and bench_exec.py.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker

from benchmarks._server import RunningServer, free_port, start_server, stop_server
from minikube_py.cli.launch import free_cluster_cidr, owned_by_node


@dataclass
class AgentCluster:
    server: RunningServer
    node: str
    agent: subprocess.Popen[bytes]
    log_file: Path


ours = owned_by_node  # by our ownership label, this node only


def remove_ours(client: Any, node: str) -> None:
    containers, networks = ours(client, node)
    for c in containers:
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True)
    for n in networks:
        with contextlib.suppress(docker.errors.NotFound):
            n.remove()


@contextlib.contextmanager
def agent_cluster(prefix: str, *, timing: str = "fast") -> Iterator[AgentCluster]:
    from minikube_py.deploy.offline import ensure_busybox, ensure_pause

    ensure_busybox()
    ensure_pause()
    client = docker.from_env(timeout=120)
    data_dir = Path(tempfile.mkdtemp(prefix=f"{prefix}-"))
    node = f"{prefix}-{uuid.uuid4().hex[:6]}"
    srv = start_server(data_dir, "sqlite", control_plane=True,
                       extra=("--timing", timing, "--cluster-cidr", free_cluster_cidr(client)))
    log_file = data_dir / "agent.log"
    try:
        with log_file.open("ab") as log:
            agent = subprocess.Popen(
                [sys.executable, "-m", "minikube_py.cli.main", "agent", "--kubeconfig", str(srv.kubeconfig),
                 "--node-name", node, "--node-ip", "127.0.0.1", "--timing", timing,
                 "--streaming-port", str(free_port()), "--data-dir", str(data_dir / "agent")],
                stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                start_new_session=True)
        try:
            deadline = time.monotonic() + 60
            while "running its pods on Docker" not in log_file.read_text(errors="replace"):
                if agent.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the agent did not start:\n{log_file.read_text(errors='replace')[-3000:]}")
                time.sleep(0.2)
            yield AgentCluster(srv, node, agent, log_file)
        finally:
            stop_server(agent)
    finally:
        stop_server(srv.process)
        remove_ours(client, node)
        client.close()
        shutil.rmtree(data_dir, ignore_errors=True)
