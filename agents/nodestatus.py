"""Node registration, Lease renewal and node-status heartbeats: one implementation, two backends.

Both the hollow nodes (agents/hollow.py, N simulated nodes in one process) and the real agent
(agents/node.py, one Node backed by Docker) call this module.  A backend says what its Node looks
like (a body builder); this module registers it with the kubelet's patience (retries with backoff
until the apiserver answers, taking over a Node that already exists), keeps its Lease in
kube-node-lease renewed on the timing profile, and rewrites the conditions with heartbeats while
keeping each condition's lastTransitionTime until its status changes.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import Any

from minikube_py.api import kinds
from minikube_py.api.errors import AlreadyExists, ApiError, NotFound
from minikube_py.api.times import format_micro_time, format_time
from minikube_py.client.aio import ApiClient
from minikube_py.client.clock import SYSTEM, Clock

log = logging.getLogger("minikube_py.nodestatus")
Obj = dict[str, Any]

NODE = kinds.require("v1", "Node")
LEASE = kinds.require("coordination.k8s.io/v1", "Lease")
LEASE_NS = "kube-node-lease"

_CONDITIONS = (
    ("MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
    ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    ("PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    ("Ready", "True", "KubeletReady", "kubelet is posting ready status"),
)


def healthy_conditions(heartbeat: str, transition: str) -> list[Obj]:
    """The four conditions a healthy kubelet reports (its setters' reasons and messages)."""
    return [{"type": t, "status": s, "reason": r, "message": m, "lastHeartbeatTime": heartbeat,
             "lastTransitionTime": transition} for t, s, r, m in _CONDITIONS]


def lease_duration_for(renew_every: float) -> int:
    """The kubelet renews its lease every quarter of its duration (40 s for 10 s)."""
    return max(1, round(renew_every * 4))


class NodeRegistrar:
    """Registers Nodes and keeps their Leases and conditions fresh, for any number of nodes."""

    def __init__(self, client: ApiClient, *, renew_every: float, clock: Clock = SYSTEM,
                 on_node: Callable[[Obj], None] | None = None) -> None:
        self.client = client
        self.clock = clock
        self.renew_every = renew_every
        self.lease_duration = lease_duration_for(renew_every)
        self.on_node = on_node  # told every Node read or written (a backend learns its podCIDR from it)

    def _seen(self, node: Obj) -> None:
        if self.on_node is not None:
            self.on_node(node)

    async def register(self, name: str, body: Callable[[], Obj], *, max_delay: float = 10.0) -> Obj:
        """Register (or take over) one node and its lease, retrying with backoff until the apiserver
        answers: a kubelet started before its apiserver waits for it.  Returns the Node."""
        delay = 0.5
        while True:
            try:
                wanted = body()
                try:
                    node = await self.client.create(NODE, None, wanted)
                except AlreadyExists:
                    node = await self.client.get(NODE, None, name)
                if _status_differs(node.get("status") or {}, wanted["status"]):
                    node["status"] = {**(node.get("status") or {}), **wanted["status"]}
                    node = await self.client.update(NODE, None, node, subresource="status")
                self._seen(node)
                await self.renew_lease(name)
                return node
            except (ApiError, OSError) as exc:
                code = getattr(exc, "code", "")
                log.warning("node/%s: registration failed (%s %s: %s); retrying in %.1fs", name, code,
                            type(exc).__name__, exc, delay)
                await self.clock.sleep(delay)
                delay = min(delay * 2, max_delay)

    async def renew_lease(self, name: str) -> None:
        spec = {"holderIdentity": name, "leaseDurationSeconds": self.lease_duration,
                "renewTime": format_micro_time(self.clock.now())}
        try:
            await self.client.patch(LEASE, LEASE_NS, name, {"spec": spec})
        except NotFound:
            with contextlib.suppress(AlreadyExists):
                await self.client.create(LEASE, LEASE_NS, {
                    "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": name, "namespace": LEASE_NS}, "spec": spec})

    async def try_renew_lease(self, name: str) -> bool:
        """One heartbeat; a missed one is logged and retried at the next round."""
        try:
            await self.renew_lease(name)
            return True
        except (ApiError, OSError) as exc:
            log.warning("node/%s: lease renewal failed: %s: %s", name, type(exc).__name__, exc)
            return False

    async def post_status(self, name: str, body: Callable[[], Obj], *,
                          extra: Callable[[], Obj] | None = None) -> None:
        """Rewrite the node's conditions (heartbeats now, transitions kept while the status holds),
        plus whatever `extra` adds to the status; a deleted Node is registered again, as a kubelet
        does.  Failures are logged and retried at the next round."""
        stamp = format_time(self.clock.now())
        try:
            node = await self.client.get(NODE, None, name)
            self._seen(node)
            old = {c.get("type"): c for c in (node.get("status") or {}).get("conditions") or []}
            conds = healthy_conditions(stamp, stamp)
            for c in conds:
                prev = old.get(c["type"])
                if prev and prev.get("status") == c["status"]:
                    c["lastTransitionTime"] = prev.get("lastTransitionTime", stamp)
            status: Obj = {"conditions": conds, **(extra() if extra is not None else {})}
            await self.client.patch(NODE, None, name, {"status": status}, patch_type="strategic",
                                    subresource="status")
        except NotFound:
            await self.register(name, body)
        except (ApiError, OSError) as exc:
            log.warning("node/%s: status update failed: %s: %s", name, type(exc).__name__, exc)


def _status_differs(have: Obj, want: Obj) -> bool:
    """Whether a taken-over Node's status needs rewriting: its conditions, or anything the backend
    reports (capacity, nodeInfo, addresses) changed since."""
    if have.get("conditions") != want.get("conditions"):
        return True
    return any(have.get(k) != v for k, v in want.items() if k != "conditions")
