"""Starting minikube-py's own processes on this host and waiting until they answer: a server
(`minikube-py server`, on sqlite or etcd), hollow nodes, a throw-away etcd.

One launcher for everything that needs a real cluster of processes: the integration tests'
fixtures (tests/fixtures) and the benchmarks (benchmarks/_server.py), which must run with what
`pip install -e .` brings.  Everything listens on 127.0.0.1; every process is started in its own
session so a stop reaches it alone, and `stop_server` always reaps what it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ETCD = "/usr/bin/etcd"


@dataclass(frozen=True)
class RunningServer:
    url: str
    kubeconfig: Path
    token: str
    ca_file: Path
    data_dir: Path
    store: str
    process: subprocess.Popen[bytes]
    log_file: Path

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_file))

    def log(self) -> str:
        return self.log_file.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(data_dir: Path, store: str, *, port: int | None = None, timeout: float = 30.0,
                 control_plane: bool = False, extra: tuple[str, ...] = ()) -> RunningServer:
    port = port or free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_file = data_dir / "server.log"
    cmd = [sys.executable, "-m", "minikube_py.cli.main", "server", "--data-dir", str(data_dir), "--port", str(port),
           "--store", store, *extra]
    if not control_plane:
        cmd.append("--no-control-plane")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with log_file.open("ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"https://127.0.0.1:{port}"
    kubeconfig = data_dir / "kubeconfig"
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_file.read_text(errors='replace')}")
        if kubeconfig.exists() and (data_dir / "pki" / "ca.crt").exists():
            try:
                ctx = ssl.create_default_context(cafile=str(data_dir / "pki" / "ca.crt"))
                with urllib.request.urlopen(f"{url}/readyz", context=ctx, timeout=2) as resp:
                    if resp.status == 200:
                        break
            except Exception as exc:  # noqa: BLE001 - not up yet
                last_error = exc
        time.sleep(0.1)
    else:
        stop_server(proc)
        raise RuntimeError(f"server did not become ready in {timeout}s ({last_error}):\n"
                           f"{log_file.read_text(errors='replace')}")
    config = yaml.safe_load(kubeconfig.read_text())
    token = config["users"][0]["user"]["token"]
    return RunningServer(url, kubeconfig, token, data_dir / "pki" / "ca.crt", data_dir, store, proc, log_file)


def stop_server(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_hollow_nodes(server: RunningServer, count: int, *, cpu: str = "2", memory: str = "4Gi",
                       prefix: str = "hollow-node", timeout: float = 30.0, timing: str = "fast",
                       lease_renew: float | None = None, labels: str = "",
                       start_delay: float = 0.0) -> subprocess.Popen[bytes]:
    """`count` hollow nodes for `server`; their leases follow `timing` (the profile the tests' servers
    run with) unless `lease_renew` is given."""
    log = (server.data_dir / f"hollow-{prefix}.log").open("ab")
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.main", "hollow-nodes", "--kubeconfig",
                             str(server.kubeconfig), "--count", str(count), "--cpu", cpu, "--memory", memory,
                             "--prefix", prefix, "--timing", timing,
                             *(["--lease-renew", str(lease_renew)] if lease_renew is not None else []),
                             "--start-delay", str(start_delay),
                             *(["--node-labels", labels] if labels else [])], stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.monotonic() + timeout
    marker = "hollow nodes registered"
    while time.monotonic() < deadline:
        text = (server.data_dir / f"hollow-{prefix}.log").read_text(errors="replace")
        if marker in text:
            return proc
        if proc.poll() is not None:
            raise RuntimeError(f"hollow-nodes exited {proc.returncode}:\n{text}")
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"hollow nodes did not register in {timeout}s")


class EtcdProcess:
    """Debian's etcd on loopback ports of its own, with its data in `data_dir` (so a stop and a
    start keep the data, as a restart of a real etcd does)."""

    def __init__(self, data_dir: Path, *, quota_bytes: int | None = None) -> None:
        self.data_dir = data_dir
        self.quota_bytes = quota_bytes
        self.client_port, self.peer_port = free_port(), free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.client_port}"

    def start(self, timeout: float = 20) -> None:
        c, p = self.client_port, self.peer_port
        log = (self.data_dir / "etcd.log").open("ab")
        self.proc = subprocess.Popen(
            [ETCD, "--name", "test", "--data-dir", str(self.data_dir / "data"),
             "--listen-client-urls", f"http://127.0.0.1:{c}", "--advertise-client-urls", f"http://127.0.0.1:{c}",
             "--listen-peer-urls", f"http://127.0.0.1:{p}", "--initial-advertise-peer-urls", f"http://127.0.0.1:{p}",
             "--initial-cluster", f"test=http://127.0.0.1:{p}",
             *([f"--quota-backend-bytes={self.quota_bytes}"] if self.quota_bytes else [])],
            stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"etcd exited: {(self.data_dir / 'etcd.log').read_text()[-2000:]}")
            # etcd accepts connections before it has a leader (about an election timeout, 1 s, later):
            # ready is when /health says so, not when the port answers
            with contextlib.suppress(OSError, ValueError), \
                    urllib.request.urlopen(f"http://127.0.0.1:{c}/health", timeout=1) as resp:  # noqa: S310
                if json.loads(resp.read()).get("health") == "true":
                    return
            time.sleep(0.05)
        raise RuntimeError(f"etcd was not healthy on {c} within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def free_cluster_cidr(docker_client: object | None = None) -> str:
    """The first of 10.244.0.0/16, 10.245.0.0/16, ... 10.254.0.0/16 that no Docker network on this
    engine overlaps: two clusters (or a cluster and the tests) on one engine each get their own pod
    range, since Docker refuses a second bridge on a subnet already in use."""
    import ipaddress

    import docker

    client: Any = docker_client or docker.from_env(timeout=30)
    try:
        used = [ipaddress.ip_network(c["Subnet"], strict=False) for n in client.api.networks()
                for c in ((n.get("IPAM") or {}).get("Config") or []) if c.get("Subnet") and ":" not in c["Subnet"]]
    finally:
        if docker_client is None:
            client.close()
    for second in range(244, 255):
        candidate = ipaddress.ip_network(f"10.{second}.0.0/16")
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise RuntimeError("every cluster range from 10.244.0.0/16 to 10.254.0.0/16 is taken by a Docker network here")


OWNER_LABEL = "io.minikube-py.owner"


def owned_by_node(docker_client: Any, node: str) -> tuple[list[Any], list[Any]]:
    """The containers and networks whose ownership label names `node` (`<cluster-id>/<node>`), and
    nothing else: what tests and benchmarks remove after a cluster of theirs.  One that goes away
    while it is listed (another cluster's) is skipped, never an error."""
    containers = [c for c in docker_client.containers.list(all=True, filters={"label": OWNER_LABEL},
                                                            ignore_removed=True)
                  if c.labels.get(OWNER_LABEL, "").endswith("/" + node)]
    networks = [n for n in docker_client.networks.list(filters={"label": OWNER_LABEL})
                if (n.attrs.get("Labels") or {}).get(OWNER_LABEL, "").endswith("/" + node)]
    return containers, networks
