"""Shared harness of the benchmarks: start a real server (sqlite or a real etcd), an HTTPS client.

Run the scripts from the repository root, e.g. `python -m benchmarks.bench_create`.
Every figure is printed beside its target and beside a baseline measured in the same run,
because this machine is shared and noisy.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

from tests.fixtures.server import RunningServer, free_port, start_hollow_nodes, start_server, stop_server


@contextlib.contextmanager
def etcd() -> Iterator[str]:
    """A throw-away etcd on loopback; yields HOST:PORT."""
    binary = shutil.which("etcd") or "/usr/bin/etcd"
    data = Path(tempfile.mkdtemp(prefix="bench-etcd-"))
    client, peer = free_port(), free_port()
    proc = subprocess.Popen(
        [binary, "--data-dir", str(data / "etcd"), "--listen-client-urls", f"http://127.0.0.1:{client}",
         "--advertise-client-urls", f"http://127.0.0.1:{client}", "--listen-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer}",
         "--initial-cluster", f"default=http://127.0.0.1:{peer}", "--quota-backend-bytes", str(4 << 30)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", client), timeout=0.2):
            break
        time.sleep(0.05)
    try:
        yield f"127.0.0.1:{client}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)


@contextlib.contextmanager
def server(store: str) -> Iterator[RunningServer]:
    """A running `minikube-py server` on 'sqlite' or 'etcd' (which starts its own etcd)."""
    data = Path(tempfile.mkdtemp(prefix=f"bench-{store}-"))
    with contextlib.ExitStack() as stack:
        url = "sqlite" if store == "sqlite" else "etcd://" + stack.enter_context(etcd())
        srv = start_server(data, url)
        try:
            yield srv
        finally:
            stop_server(srv.process)
            shutil.rmtree(data, ignore_errors=True)


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
