"""The node agent's entry: `minikube-py agent` registers this host's Node and runs the kubelet on Docker.

It registers the Node (capacity from `docker info`, nodeInfo with the engine's version) through
agents/nodestatus.py (the same registration, Lease and heartbeat code the hollow nodes use), waits
for the node controller to assign spec.podCIDR, creates the node's bridge network with it, and runs
the pod workers (agents/kubelet/worker.py).  Everything it creates in Docker carries the ownership
label `io.minikube-py.owner=<cluster-id>/<node>` (the cluster id is the kube-system namespace's uid).
Like a kubelet it never exits because the apiserver or Docker is away: it retries.

Called by minikube_py/cli/main.py (`minikube-py agent`).
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikube_py.api import kinds, quantity
from minikube_py.api.errors import ApiError
from minikube_py.api.times import format_time
from minikube_py.api.timing import TIMINGS, Timing
from minikube_py.client.aio import ApiClient
from minikube_py.client.clock import SYSTEM, Clock
from minikube_py.client.tasks import run_together
from minikube_py.client.tracing import Tracer

from .kubelet.actions import RestartBackoff
from .kubelet.runtime import OWNER_LABEL, DockerRuntime
from .kubelet.streamgate import PortUnavailable, ensure_serving_cert, server_context
from .kubelet.streaming import StreamingServer
from .kubelet.worker import PodWorkers
from .nodestatus import NodeRegistrar, healthy_conditions

log = logging.getLogger("minikube_py.agent")
Obj = dict[str, Any]
NAMESPACE = kinds.require("v1", "Namespace")
KUBELET_VERSION = "v1.35.0"
KUBELET_PORT = 10250
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le", "s390x": "s390x"}


@dataclass
class AgentConfig:
    node_name: str
    node_ip: str
    data_dir: Path
    timing: Timing = TIMINGS["kubernetes"]
    max_pods: int = 110
    concurrency: int = 4  # threads for the Docker calls (each pod has its own pass)
    registries: bool = False  # --pull: images may be pulled from registries
    allow_privileged: bool = False  # --allow-privileged: pods that get the host are run
    reserved: dict[str, str] = field(default_factory=dict)  # --reserved: kept back from allocatable
    streaming_port: int = KUBELET_PORT  # logs, exec, attach, port-forward (agents/kubelet/streaming.py)
    client_ca_pem: bytes | None = None  # the cluster CA (from the kubeconfig): only clients it signed may stream


def default_node_ip() -> str:
    """The address the host's name resolves to (as the kubelet picks it), else loopback."""
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"


def node_body(config: AgentConfig, info: Obj, now: str) -> Obj:
    """The Node this agent registers, from `docker info` / `docker version`."""
    name = config.node_name
    arch = _ARCH.get(str(info.get("Architecture")), str(info.get("Architecture") or "amd64"))
    capacity = {"cpu": str(info.get("NCPU") or 1), "memory": f"{int(info.get('MemTotal') or 0) // 1024}Ki",
                "pods": str(config.max_pods)}
    engine = (info.get("_version") or {}).get("Version") or info.get("ServerVersion") or "unknown"
    return {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux",
                                              "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
                                              "beta.kubernetes.io/arch": arch}},
        "spec": {},
        "status": {
            "capacity": capacity, "allocatable": allocatable(capacity, config.reserved),
            "conditions": healthy_conditions(now, now),
            "addresses": [{"type": "InternalIP", "address": config.node_ip}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": config.streaming_port}},
            "nodeInfo": {"kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                         "containerRuntimeVersion": f"docker://{engine}", "operatingSystem": "linux",
                         "architecture": arch, "osImage": str(info.get("OperatingSystem") or ""),
                         "kernelVersion": str(info.get("KernelVersion") or ""),
                         "machineID": _machine_id(), "systemUUID": str(info.get("ID") or ""),
                         "bootID": _boot_id()},
        },
    }


def parse_reserved(text: str) -> dict[str, str]:
    """`cpu=500m,memory=1Gi` (the kubelet's --system-reserved form) as a resource list; ValueError
    names what is wrong."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, value = part.partition("=")
        if not sep or name not in ("cpu", "memory", "pods") or not value:
            raise ValueError(f"--reserved: {part!r} is not cpu=Q, memory=Q or pods=N")
        try:
            quantity.parse(value)
        except ValueError as exc:
            raise ValueError(f"--reserved: {name}: {exc}") from None
        out[name] = value
    return out


def allocatable(capacity: dict[str, str], reserved: dict[str, str]) -> dict[str, str]:
    """capacity - reserved, never below zero (the kubelet's node allocatable without eviction thresholds)."""
    out = dict(capacity)
    for name, value in reserved.items():
        if name not in capacity:
            continue
        if name == "cpu":
            out[name] = f"{max(0, quantity.millicores(capacity[name]) - quantity.millicores(value))}m"
        elif name == "memory":
            out[name] = f"{max(0, quantity.to_bytes(capacity[name]) - quantity.to_bytes(value)) // 1024}Ki"
        else:
            out[name] = str(max(0, int(capacity[name]) - int(quantity.parse(value))))
    return out


def _read(path: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def _machine_id() -> str:
    return _read("/etc/machine-id")


def _boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id")


class Agent:
    def __init__(self, client: ApiClient, config: AgentConfig, *, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.config = config
        self.clock = clock
        self.registrar = NodeRegistrar(client, renew_every=config.timing.lease_renew, clock=clock,
                                       on_node=self._learn_cidr)
        self.pod_cidr = ""
        self._cidr_seen = asyncio.Event()
        self.runtime: DockerRuntime | None = None
        self.info: Obj = {}

    def _learn_cidr(self, node: Obj) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            self.pod_cidr = str(cidr)
            self._cidr_seen.set()

    async def _cluster_id(self) -> str:
        delay = 0.5
        while True:
            try:
                ns = await self.client.get(NAMESPACE, None, "kube-system")
                return str(ns["metadata"]["uid"])
            except (ApiError, OSError) as exc:
                log.warning("cannot read namespace kube-system yet (%s: %s); retrying in %.1fs", type(exc).__name__,
                            exc, delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, 10.0)

    def _body(self) -> Obj:
        return node_body(self.config, self.info, format_time(self.clock.now()))

    async def _heartbeat(self) -> None:
        rounds = 0
        every = max(1, round(60.0 / self.config.timing.lease_renew))  # conditions rewritten about once a minute
        while True:
            await self.clock.sleep(self.config.timing.lease_renew)
            await self.registrar.try_renew_lease(self.config.node_name)
            rounds += 1
            if rounds % every == 0 or not self.pod_cidr:
                await self.registrar.post_status(self.config.node_name, self._body)

    async def _network(self, workers: PodWorkers) -> None:
        """The node's bridge network once the node controller assigned the podCIDR."""
        while True:
            await self._cidr_seen.wait()
            assert self.runtime is not None
            try:
                await self.runtime.call(self.runtime.ensure_network, self.pod_cidr)
                workers.network_ready.set()
                log.info("node/%s: pod network %s ready (podCIDR %s)", self.config.node_name, self.runtime.network,
                         self.pod_cidr)
                return
            except Exception as exc:  # noqa: BLE001 - Docker away: retried
                log.warning("node/%s: cannot create the pod network: %s: %s", self.config.node_name,
                            type(exc).__name__, exc)
                await self.clock.sleep(5.0)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        c = self.config
        c.data_dir.mkdir(parents=True, exist_ok=True)
        cluster = await self._cluster_id()
        self.runtime = DockerRuntime(f"{cluster}/{c.node_name}", c.node_name, workers=c.concurrency)
        backoff = RestartBackoff(10.0, 300.0) if c.timing.name == "kubernetes" else RestartBackoff(2.0, 60.0)
        workers = PodWorkers(self.client, self.runtime, c.node_name, host_ip=c.node_ip, data_dir=c.data_dir,
                             clock=self.clock, resync=c.timing.lease_renew, backoff=backoff,
                             registries=c.registries, allow_privileged=c.allow_privileged,
                             tracer=Tracer(self.client, f"kubelet/{c.node_name}"))
        cert, key = ensure_serving_cert(c.data_dir / "pki", c.node_name, c.node_ip)
        if not c.client_ca_pem:
            log.warning("node/%s: the kubeconfig has no CA: the streaming port will refuse every client", c.node_name)
        streams = StreamingServer(self.runtime, workers.pods.get, address=c.node_ip, port=c.streaming_port,
                                  ssl_context=server_context(cert, key, c.client_ca_pem),
                                  now=lambda: self.clock.now())
        try:
            await streams.start()  # before the Node exists: a port in use leaves nothing behind
            self.info = await self.runtime.call(self.runtime.info)
            await self.registrar.register(c.node_name, self._body)
        except BaseException:
            await streams.stop()
            self.runtime.close()
            raise
        log.info("node/%s registered (%s=%s)", c.node_name, OWNER_LABEL, self.runtime.owner)
        tasks = [asyncio.create_task(self._heartbeat(), name="agent-heartbeat"),
                 asyncio.create_task(self._network(workers), name="agent-network"), *workers.tasks()]
        await workers.pods.synced.wait()
        if ready is not None:
            ready.set()
        if workers.tracer is not None:
            workers.tracer.start()
        try:
            await run_together(tasks)
        finally:
            workers.close()  # the probe tasks are not among `tasks`
            if workers.tracer is not None:
                await workers.tracer.stop()
            await streams.stop()
            self.runtime.close()


def run_agent(*, kubeconfig: str | None, node_name: str | None, node_ip: str | None, data_dir: Path,
              timing: str, log_level: str = "info", streaming_port: int = KUBELET_PORT, registries: bool = False,
              allow_privileged: bool = False, reserved: str = "") -> int:
    """`minikube-py agent`: runs until SIGINT/SIGTERM; containers keep running (a restart adopts them)."""
    import signal

    import uvloop

    from minikube_py.cli.main import UserError
    from minikube_py.client.kubeconfig import ConfigError, KubeConfig

    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        kept = parse_reserved(reserved)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    try:
        conn = KubeConfig.load(kubeconfig).connection()
    except ConfigError as exc:
        raise UserError(f"{exc}; pass --kubeconfig <data-dir>/kubeconfig") from None
    try:
        import docker

        docker.from_env(timeout=10).ping()
    except Exception as exc:  # noqa: BLE001 - any failure to reach Docker is the same advice
        raise UserError(f"cannot reach the Docker daemon ({type(exc).__name__}: {exc}); is it running, and may "
                        "this user use /var/run/docker.sock?") from None
    name = (node_name or socket.gethostname()).lower()
    config = AgentConfig(node_name=name, node_ip=node_ip or default_node_ip(), data_dir=data_dir.expanduser(),
                         timing=TIMINGS[timing], streaming_port=streaming_port, client_ca_pem=conn.ca_pem,
                         registries=registries, allow_privileged=allow_privileged, reserved=kept)

    async def main() -> None:
        client = ApiClient(conn, user_agent=f"minikube-py/agent ({name})")
        agent = Agent(client, config)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        ready = asyncio.Event()
        work = asyncio.create_task(agent.run(ready))
        waiter = asyncio.create_task(ready.wait())
        await asyncio.wait([work, waiter], return_when=asyncio.FIRST_COMPLETED)
        if ready.is_set():
            print(f"node {name} registered ({config.node_ip}); running its pods on Docker (pid {os.getpid()})",
                  flush=True)
        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([work, stopper], return_when=asyncio.FIRST_COMPLETED)
        for t in (work, waiter, stopper):
            t.cancel()
        await asyncio.gather(work, waiter, stopper, return_exceptions=True)
        await client.close()
        failure = work.exception() if work.done() and not work.cancelled() else None
        if isinstance(failure, PortUnavailable):
            raise UserError(str(failure))

    uvloop.run(main())
    return 0
