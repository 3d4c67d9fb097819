"""Node lifecycle controller: heartbeats, the unreachable and not-ready taints, taint-based
eviction, and a podCIDR for every node.

- A node's heartbeat is its Lease in kube-node-lease (renewTime) or its Ready condition's
  lastHeartbeatTime, whichever is newer.  Silent for longer than the grace period (50 s, or 10 s
  in the fast profile): its conditions become Unknown ("Kubelet stopped posting node status.") and
  it gets `node.kubernetes.io/unreachable` NoSchedule and NoExecute taints; Ready=False gets
  `node.kubernetes.io/not-ready` instead.  The taints go when the node is Ready again.
- Pods on a node with a NoExecute taint are deleted once their toleration of it runs out (pods
  get 300 s, or 30 s in the fast profile, from the apiserver's default tolerations; a pod that
  does not tolerate the taint at all goes at once), with an event, as Kubernetes' taint manager
  does; their controllers then replace them elsewhere.
- A node without spec.podCIDR gets the next free /24 of the cluster CIDR (10.244.0.0/16), from an
  in-memory set rebuilt from the synced Nodes in on_start and held per node name until a pass finds
  the Node gone from the cache (controllers/cidrset.py says why that is unique under concurrent
  workers and across restarts).  With none left the pass records CIDRNotAvailable and fails, as
  kube's range allocator does, so the node's key backs off (lease renewals do not hurry it).
"""

from __future__ import annotations

import copy
import ipaddress
import logging
from typing import Any

from ..api import kinds
from ..api.errors import ApiError, InternalError, NotFound
from ..api.taints import matching_tolerations
from ..api.times import format_time, parse_time
from ..client.informer import Informer, key_of
from .base import POD, Controller, ControllerContext
from .cidrset import CidrSet

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.controllers")
NODE = kinds.require("v1", "Node")
LEASE = kinds.require("coordination.k8s.io/v1", "Lease")
UNREACHABLE = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"
NO_CIDRS_LEFT = "CIDR allocation failed; there are no remaining CIDRs left to allocate in the accepted range"


def _adopt(node: Obj, written: Obj) -> None:
    """Carry on from what a write returned (`node` is the pass's own copy): a later write of the
    same pass pins the new resourceVersion, not the cached one it just made stale (which the
    apiserver refused as a Conflict, leaving the taints to the next pass)."""
    node.clear()
    node.update(written)


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"
    kind = "Node"
    workers = 2

    def __init__(self, ctx: ControllerContext, *, cluster_cidr: str | None = None, monitor_period: float = 5.0) -> None:
        super().__init__(ctx)
        self.grace = ctx.timing.node_grace
        self.monitor_period = monitor_period
        cluster_cidr = cluster_cidr or ctx.cluster_cidr
        self.cidr = ipaddress.ip_network(cluster_cidr)
        self.cidrs = CidrSet(cluster_cidr)
        self._doubled: dict[str, str] = {}  # node -> the podCIDR it shows that another node holds (warned once)
        self.nodes: Informer = ctx.informers.get(NODE)
        self.primary = self.nodes
        self.leases: Informer = ctx.informers.get(LEASE)
        self.pods: Informer = ctx.informers.get(POD)
        if "node" not in self.pods._indexers:
            self.pods.add_index("node", lambda p: [str(p["spec"]["nodeName"])] if (p.get("spec") or {}).get(
                "nodeName") else [])
        self.nodes.add_handler(self._on_node)
        self.leases.add_handler(self._on_lease)

    def _on_node(self, kind: str, node: Obj, old: Obj | None) -> None:
        self.enqueue(node)  # a deleted one too: its pass releases the CIDR it held

    def _on_lease(self, kind: str, lease: Obj, old: Obj | None) -> None:
        if (lease.get("metadata") or {}).get("namespace") == "kube-node-lease":
            name = str(lease["metadata"]["name"])
            # a node backing off (no CIDR left for it) comes back by its timer, not every renewal
            if name in self.nodes.cache and not self.queue.failures(name):
                self.add(name)

    async def on_start(self) -> None:
        """The CIDR set from the synced cache, before any pass can hand one out."""
        for node in self.nodes.cache.values():
            self._occupy(node)

    def _occupy(self, node: Obj) -> None:
        """Note the CIDR a Node shows; warn once about one another node holds."""
        name = str(node["metadata"]["name"])
        cidr = (node.get("spec") or {}).get("podCIDR")
        if not cidr or self.cidrs.occupy(name, str(cidr)):
            self._doubled.pop(name, None)
            return
        holder = self.cidrs.holder_of(str(cidr))
        if holder and self._doubled.get(name) != str(cidr):
            self._doubled[name] = str(cidr)
            log.warning("node/%s: podCIDR %s is also held by node/%s", name, cidr, holder)

    # --- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, key: Any) -> float | None:
        node = self.nodes.get(str(key))
        if node is None:
            self._doubled.pop(str(key), None)
            freed = self.cidrs.release(str(key))
            if freed:
                log.info("node/%s: deleted; podCIDR %s released", key, freed)
            return None
        self._occupy(node)
        node = copy.deepcopy(node)
        no_cidr = not (node.get("spec") or {}).get("podCIDR") and not await self._assign_cidr(node)
        now = self.clock.now()
        heartbeat = self._last_heartbeat(node)
        ready = self._ready(node)
        if heartbeat is not None and now - heartbeat > self.grace and ready != "Unknown":
            await self._mark_unknown(node)
            ready = "Unknown"
        wanted = {"Unknown": UNREACHABLE, "False": NOT_READY}.get(str(ready))
        await self._sync_taints(node, wanted)
        next_check = self.monitor_period
        if ready == "True" and heartbeat is not None:
            next_check = max(0.5, min(next_check, heartbeat + self.grace - now + 0.5))
        evict_again = await self._evict(node)
        if evict_again is not None:
            next_check = min(next_check, evict_again)
        if no_cidr:  # after the taints and evictions, which must not wait for a CIDR: the key backs off
            raise InternalError(f"failed to allocate cidr from cluster cidr at idx:0: {NO_CIDRS_LEFT}")
        return next_check

    def _last_heartbeat(self, node: Obj) -> float | None:
        times = []
        lease = self.leases.get(f"kube-node-lease/{node['metadata']['name']}")
        if lease is not None:
            renew = parse_time(str((lease.get("spec") or {}).get("renewTime") or ""))
            if renew is not None:
                times.append(renew)
        for c in (node.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready":
                t = parse_time(c.get("lastHeartbeatTime"))
                if t is not None:
                    times.append(t)
        created = parse_time((node.get("metadata") or {}).get("creationTimestamp"))
        if not times and created is not None:
            times.append(created)  # a node that never reported gets the grace period from its creation
        return max(times) if times else None

    @staticmethod
    def _ready(node: Obj) -> str | None:
        for c in (node.get("status") or {}).get("conditions") or []:
            if c.get("type") == "Ready":
                return str(c.get("status"))
        return None

    async def _mark_unknown(self, node: Obj) -> None:
        stamp = format_time(self.clock.now())
        conditions = []
        for c in (node.get("status") or {}).get("conditions") or []:
            c = dict(c)
            if c.get("status") != "Unknown":
                c.update(status="Unknown", reason="NodeStatusUnknown", message="Kubelet stopped posting node status.",
                         lastTransitionTime=stamp)
            conditions.append(c)
        if not conditions:
            conditions = [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                           "message": "Kubelet never posted node status.", "lastHeartbeatTime": stamp,
                           "lastTransitionTime": stamp}]
        try:
            written = await self.client.patch(NODE, None, node["metadata"]["name"],
                                              {"status": {"conditions": conditions}}, patch_type="strategic",
                                              subresource="status")
        except ApiError as exc:
            if not isinstance(exc, NotFound):
                raise
            return
        _adopt(node, written)
        self.recorder.event(node, "Normal", "NodeNotReady", f"Node {node['metadata']['name']} status is now: "
                                                            "NodeNotReady")

    async def _sync_taints(self, node: Obj, wanted: str | None) -> None:
        taints = list((node.get("spec") or {}).get("taints") or [])
        ours = {UNREACHABLE, NOT_READY}
        keep = [t for t in taints if t.get("key") not in ours or t.get("key") == wanted]
        if wanted:
            for effect in ("NoSchedule", "NoExecute"):
                if not any(t.get("key") == wanted and t.get("effect") == effect for t in keep):
                    taint: Obj = {"key": wanted, "effect": effect}
                    if effect == "NoExecute":
                        taint["timeAdded"] = format_time(self.clock.now())
                    keep.append(taint)
        if keep == taints:
            return
        try:
            written = await self.client.patch(NODE, None, node["metadata"]["name"], {
                "spec": {"taints": keep or None},
                "metadata": {"resourceVersion": node["metadata"].get("resourceVersion")}})
        except ApiError as exc:
            if not isinstance(exc, NotFound):  # a Conflict is retried: the next pass reads again
                raise
            return
        _adopt(node, written)  # so this pass evicts by the taints it just added

    async def _evict(self, node: Obj) -> float | None:
        """Delete pods whose toleration of the node's NoExecute taints ran out; the time until
        the next one would, if any."""
        taints = [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return None
        now = self.clock.now()
        soonest: float | None = None
        for pod in self.pods.by_index("node", node["metadata"]["name"]):
            meta = pod.get("metadata") or {}
            if meta.get("deletionTimestamp"):
                continue
            deadline = self._eviction_time(pod, taints, now)
            if deadline is None:
                continue
            if deadline <= now:
                try:
                    await self.client.delete(POD, meta.get("namespace"), meta["name"],
                                             preconditions={"uid": meta.get("uid")})
                    self.recorder.event(pod, "Normal", "TaintManagerEviction",
                                        f"Marking for deletion Pod {key_of(pod)}")
                except ApiError as exc:
                    if not isinstance(exc, NotFound):  # a Conflict is retried: the next pass reads again
                        raise
            else:
                soonest = deadline - now if soonest is None else min(soonest, deadline - now)
        return soonest

    @staticmethod
    def _eviction_time(pod: Obj, taints: list[Obj], now: float) -> float | None:
        tolerations = (pod.get("spec") or {}).get("tolerations") or []
        deadline: float | None = None
        for taint in taints:
            added = parse_time(taint.get("timeAdded")) or now
            match = matching_tolerations(tolerations, taint)
            if not match:
                return added  # not tolerated at all: now
            seconds = [t.get("tolerationSeconds") for t in match]
            if any(s is None for s in seconds):
                continue  # tolerated forever
            until = added + min(int(s) for s in seconds if s is not None)
            deadline = until if deadline is None else min(deadline, until)
        return deadline

    async def _assign_cidr(self, node: Obj) -> bool:
        """Give the node the next free CIDR; False when none is left (a Warning event says so)."""
        name = node["metadata"]["name"]
        subnet = self.cidrs.allocate(name)  # held by this node from here on, whatever the patch's fate
        if subnet is None:
            self.recorder.event(node, "Warning", "CIDRNotAvailable", f"Node {name} status is now: CIDRNotAvailable")
            return False
        try:
            written = await self.client.patch(NODE, None, name, {
                "spec": {"podCIDR": subnet, "podCIDRs": [subnet]},
                "metadata": {"resourceVersion": node["metadata"].get("resourceVersion")}})
        except ApiError as exc:
            if not isinstance(exc, NotFound):  # a Conflict or a lost outcome: the next pass sends the same CIDR
                raise
            self.cidrs.release(name)
            return True
        _adopt(node, written)
        self.recorder.event(node, "Normal", "CIDRAssignmentSucceeded", f"Node {name} got CIDR {subnet}")
        return True
