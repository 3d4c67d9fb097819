"""Shared harness of the benchmarks: start a real server (sqlite or a real etcd), an HTTPS client.

Run the scripts from the repository root, e.g. `python -m benchmarks.bench_create`.
Every figure is printed beside its target and beside a baseline measured in the same run,
because this machine is shared and noisy.
"""

from __future__ import annotations

import contextlib
import shutil
import ssl
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from benchmarks._server import RunningServer, etcd, server, start_hollow_nodes, start_server, stop_server

__all__ = ["RunningServer", "cluster", "etcd", "pod", "report", "server", "session"]


@contextlib.contextmanager
def cluster(nodes: int, *, cpu: str, memory: str, prefix: str = "bench") -> Iterator[RunningServer]:
    """The whole master (sqlite) with `nodes` hollow nodes heartbeating on Kubernetes' schedule;
    yields once the scheduler can see them."""
    srv = start_server(Path(tempfile.mkdtemp(prefix=f"{prefix}-")), "sqlite", control_plane=True)
    try:
        print(f"registering {nodes} hollow nodes ...", flush=True)
        hollow = start_hollow_nodes(srv, nodes, cpu=cpu, memory=memory, timeout=300, lease_renew=10)
        try:
            time.sleep(2)  # let the scheduler see every node
            yield srv
        finally:
            stop_server(hollow)
    finally:
        stop_server(srv.process)
        shutil.rmtree(srv.data_dir, ignore_errors=True)


def session(srv: RunningServer, connections: int = 100) -> aiohttp.ClientSession:
    ctx: ssl.SSLContext = srv.ssl_context()
    return aiohttp.ClientSession(
        base_url=srv.url, headers={"Authorization": f"Bearer {srv.token}"},
        connector=aiohttp.TCPConnector(ssl=ctx, limit=connections), timeout=aiohttp.ClientTimeout(total=120))


def pod(name: str) -> dict[str, object]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
                                     "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]}}


def report(title: str, figure: float, unit: str, target: str, ok: bool, baseline: str = "") -> None:
    verdict = "meets target" if ok else "MISSES target"
    extra = f"   (baseline in the same run: {baseline})" if baseline else ""
    print(f"{title:<48} {figure:>10.1f} {unit:<8} target {target:<10} {verdict}{extra}", flush=True)
