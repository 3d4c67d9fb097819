"""Hollow nodes (like kubemark/kwok): N simulated nodes that behave like kubelets without containers.

`minikube-py hollow-nodes --count N` registers N Nodes with the capacity asked for, keeps a Lease
per node in kube-node-lease renewed on the kubelet's schedule (every 10 s, or 2 s with `--timing
fast`, the profile the control plane runs with; `--lease-renew` overrides it), reports every pod bound to one of
them Running and Ready (with a pod IP from the node's podCIDR), and confirms graceful deletions as
a kubelet does once the containers are stopped.  The control plane cannot tell them from real
nodes, which is what makes them good for testing controllers end to end and for benchmarks.

Registration, Leases and node-status heartbeats are agents/nodestatus.py's, the same code the real
agent (agents/node.py) runs.  Only the apiserver is used (informer on pods, REST writes, a work queue with per-pod backoff);
one process simulates all N nodes.  Like a kubelet it never exits because the apiserver is away:
registration, heartbeats and pod reports are retried with backoff until it answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass
from typing import Any

from minikube_py.api import kinds
from minikube_py.api.errors import NotFound
from minikube_py.api.times import format_time
from minikube_py.api.timing import TIMINGS, Timing
from minikube_py.client.aio import ApiClient
from minikube_py.client.clock import SYSTEM, Clock
from minikube_py.client.informer import Informer, key_of
from minikube_py.client.tasks import run_together
from minikube_py.client.workqueue import WorkQueue

from .nodestatus import LEASE, LEASE_NS, NODE, NodeRegistrar, healthy_conditions, lease_duration_for

log = logging.getLogger("minikube_py.hollow")
Obj = dict[str, Any]

POD = kinds.require("v1", "Pod")
__all__ = ["LEASE", "LEASE_NS", "NODE", "POD", "HollowConfig", "HollowNodes"]


@dataclass
class HollowConfig:
    count: int = 3
    prefix: str = "hollow-node"
    cpu: str = "4"
    memory: str = "8Gi"
    pods: int = 110
    # seconds between lease renewals; None follows the timing profile (Kubernetes' kubelet: 10 s; the
    # fast profile: 2 s, so a node renews five times within the controller's 10 s grace period)
    lease_renew: float | None = None
    timing: Timing = TIMINGS["kubernetes"]
    status_every: float = 60.0  # full node status (conditions) rewrite
    start_delay: float = 0.0  # seconds before a new pod is reported running
    concurrency: int = 32
    labels: dict[str, str] | None = None

    @property
    def renew_every(self) -> float:
        return self.lease_renew if self.lease_renew is not None else self.timing.lease_renew

    @property
    def lease_duration(self) -> int:
        """The kubelet renews its lease every quarter of its duration (40 s for 10 s)."""
        return lease_duration_for(self.renew_every)


class HollowNodes:
    def __init__(self, client: ApiClient, config: HollowConfig, *, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.config = config
        self.clock = clock
        self.names = [f"{config.prefix}-{i}" for i in range(config.count)]
        self.name_set = set(self.names)
        self.index = {name: i for i, name in enumerate(self.names)}
        self.pods = Informer(client, POD, clock=clock)
        self.pods.add_handler(self._on_pod)
        self._work = WorkQueue("hollow-pods", base_delay=0.2, max_delay=10.0, clock=clock)
        self.started = 0
        self.confirmed_deletes = 0
        self._ip_counter: dict[str, int] = {}
        self.pod_cidrs: dict[str, str] = {}  # node -> its spec.podCIDR, once the controller assigned it
        self._cidr_checked: dict[str, float] = {}  # node -> when a node without one was last read
        self.registrar = NodeRegistrar(client, renew_every=config.renew_every, clock=clock, on_node=self._learn_cidr)

    def cidr(self, index: int) -> str:
        """A node's pod range while it has no podCIDR (no node-lifecycle controller runs)."""
        return f"10.{200 + index // 256}.{index % 256}.0/24"

    @staticmethod
    def internal_ip(index: int) -> str:
        return f"10.199.{index // 256}.{index % 256 + 1}"

    def _learn_cidr(self, node: Obj) -> None:
        cidr = (node.get("spec") or {}).get("podCIDR")
        if cidr:
            self.pod_cidrs[str(node["metadata"]["name"])] = str(cidr)

    async def _pod_cidr(self, name: str) -> str:
        """The node's podCIDR, as a kubelet takes pod IPs from it; read again at most every 5 s while
        it has none (then the node's own fallback range)."""
        cidr = self.pod_cidrs.get(name)
        if cidr is None and self.clock.monotonic() - self._cidr_checked.get(name, -1e9) >= 5.0:
            self._cidr_checked[name] = self.clock.monotonic()
            with contextlib.suppress(NotFound):
                self._learn_cidr(await self.client.get(NODE, None, name))
            cidr = self.pod_cidrs.get(name)
        return cidr or self.cidr(self.index.get(name, 0))

    def node_body(self, index: int, name: str) -> Obj:
        c = self.config
        stamp = format_time(self.clock.now())
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
                  "minikube-py/hollow": "true", **(c.labels or {})}
        capacity = {"cpu": c.cpu, "memory": c.memory, "pods": str(c.pods), "ephemeral-storage": "100Gi"}
        return {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": labels},
            "spec": {},
            "status": {
                "capacity": capacity, "allocatable": dict(capacity),
                "conditions": self._conditions(stamp, stamp),
                "addresses": [{"type": "InternalIP", "address": self.internal_ip(index)},
                              {"type": "Hostname", "address": name}],
                "nodeInfo": {"kubeletVersion": "v1.35.0-hollow", "kubeProxyVersion": "v1.35.0-hollow",
                             "containerRuntimeVersion": "hollow://0.1", "operatingSystem": "linux",
                             "architecture": "amd64", "osImage": "minikube-py hollow node", "kernelVersion": "",
                             "machineID": name, "systemUUID": name, "bootID": name},
            },
        }

    @staticmethod
    def _conditions(heartbeat: str, transition: str) -> list[Obj]:
        return healthy_conditions(heartbeat, transition)

    # --- registration and heartbeats (agents/nodestatus.py, shared with the real agent) --------

    async def register(self) -> None:
        sem = asyncio.Semaphore(self.config.concurrency)

        async def one(index: int, name: str) -> None:
            async with sem:
                await self._register_one(index, name)

        await asyncio.gather(*(one(i, n) for i, n in enumerate(self.names)))

    async def _register_one(self, index: int, name: str) -> None:
        await self.registrar.register(name, lambda: self.node_body(index, name))

    async def _renew_lease(self, name: str) -> None:
        await self.registrar.renew_lease(name)

    async def heartbeat(self) -> None:
        sem = asyncio.Semaphore(self.config.concurrency)
        last_status = self.clock.monotonic()

        async def renew(name: str) -> None:
            async with sem:
                await self.registrar.try_renew_lease(name)

        async def status(index: int, name: str) -> None:
            async with sem:
                await self.registrar.post_status(name, lambda: self.node_body(index, name))

        while True:
            await self.clock.sleep(self.config.renew_every)
            await asyncio.gather(*(renew(n) for n in self.names))
            if self.clock.monotonic() - last_status >= self.config.status_every:
                last_status = self.clock.monotonic()
                await asyncio.gather(*(status(i, n) for i, n in enumerate(self.names)))

    # --- pods ----------------------------------------------------------------------------------

    def _on_pod(self, kind: str, pod: Obj, old: Obj | None) -> None:
        if kind == "DELETED":
            return
        node = (pod.get("spec") or {}).get("nodeName")
        if node not in self.name_set:
            return
        meta = pod.get("metadata") or {}
        phase = (pod.get("status") or {}).get("phase")
        if meta.get("deletionTimestamp") or (phase in (None, "Pending") and not (pod.get("status") or {}).get(
                "startTime")):
            self._work.add(key_of(pod))

    def _pod_ip(self, node: str, cidr: str) -> str:
        n = self._ip_counter.get(node, 1) % 250 + 1
        self._ip_counter[node] = n
        net = ipaddress.ip_network(cidr)
        return str(net.network_address + 1 + n)

    async def _handle(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        meta, spec = pod["metadata"], pod.get("spec") or {}
        ns, name = meta.get("namespace"), meta["name"]
        if meta.get("deletionTimestamp"):
            try:  # the containers are "stopped": confirm, as the kubelet does
                await self.client.delete(POD, ns, name, grace_period=0, preconditions={"uid": meta.get("uid")})
                self.confirmed_deletes += 1
            except NotFound:
                pass  # gone already (a Conflict is retried with the pod's backoff)
            return
        if self.config.start_delay:
            await self.clock.sleep(self.config.start_delay)
        stamp = format_time(self.clock.now())
        containers = spec.get("containers") or []
        node = str(spec["nodeName"])
        status = {
            "phase": "Running", "hostIP": self.internal_ip(self.index.get(node, 0)),
            "podIP": self._pod_ip(node, await self._pod_cidr(node)), "startTime": stamp,
            "conditions": [{"type": t, "status": "True", "lastProbeTime": None, "lastTransitionTime": stamp}
                           for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")],
            "containerStatuses": [{"name": c.get("name"), "image": c.get("image"), "imageID": "",
                                   "containerID": f"hollow://{meta.get('uid')}/{c.get('name')}", "ready": True,
                                   "started": True, "restartCount": 0, "state": {"running": {"startedAt": stamp}}}
                                  for c in containers],
            "qosClass": "BestEffort",
        }
        status["podIPs"] = [{"ip": status["podIP"]}]
        try:
            await self.client.patch(POD, ns, name, {"status": status}, subresource="status")
            self.started += 1
        except NotFound:
            pass

    async def _worker(self) -> None:
        while True:
            key = str(await self._work.get())
            try:
                await self._handle(key)
                self._work.forget(key)
            except Exception as exc:  # noqa: BLE001 - a failed report (or a bad pod) is retried with backoff
                delay = self._work.add_rate_limited(key, getattr(exc, "retry_after", None) or 0.0)
                log.warning("%s: report failed (%s: %s); retrying in %.1fs", key, type(exc).__name__, exc, delay)
            finally:
                self._work.done(key)

    async def run(self, ready: asyncio.Event | None = None) -> None:
        await self.register()
        tasks = [asyncio.create_task(self.pods.run(), name="hollow-pods"),
                 asyncio.create_task(self.heartbeat(), name="hollow-heartbeat")]
        tasks += [asyncio.create_task(self._worker(), name=f"hollow-{i}") for i in range(self.config.concurrency)]
        await self.pods.synced.wait()
        if ready is not None:
            ready.set()
        await run_together(tasks)
