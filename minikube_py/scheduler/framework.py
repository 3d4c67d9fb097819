"""The scheduling framework: what a node has (NodeInfo), filter and score plugins, profiles.

Filters say why a node cannot take a pod (kube-scheduler's reason strings, so the
"0/3 nodes are available: 2 Insufficient cpu, ..." message reads the same); scores rank the nodes
that can (0..100).  Profiles: `binpack` scores MostAllocated (fill nodes before spreading, the
default here), `spread` scores LeastAllocated.  Pure logic, no I/O: scheduler.py drives it and
the unit tests call it directly.
"""

from __future__ import annotations

import collections
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..api.quantity import amount
from ..api.taints import tolerates

Obj = dict[str, Any]

# kube-scheduler's "non-zero" defaults: a pod without requests still counts this much when scoring
DEFAULT_MILLI_CPU = 100
DEFAULT_MEMORY = 200 * 1024 * 1024


@dataclass(frozen=True)
class Requests:
    milli_cpu: int = 0
    memory: int = 0

    @property
    def nonzero(self) -> Requests:
        return Requests(self.milli_cpu or DEFAULT_MILLI_CPU, self.memory or DEFAULT_MEMORY)


def pod_requests(pod: Obj) -> Requests:
    """max(sum of the containers, the largest init container) + overhead, as Kubernetes counts."""
    spec = pod.get("spec") or {}

    def of(c: Obj) -> tuple[int, int]:
        req = ((c.get("resources") or {}).get("requests")) or {}
        return amount(req.get("cpu", 0), cpu=True), amount(req.get("memory", 0), cpu=False)

    cpu = sum(of(c)[0] for c in spec.get("containers") or [])
    mem = sum(of(c)[1] for c in spec.get("containers") or [])
    for c in spec.get("initContainers") or []:
        icpu, imem = of(c)
        cpu, mem = max(cpu, icpu), max(mem, imem)
    overhead = spec.get("overhead") or {}
    return Requests(cpu + amount(overhead.get("cpu", 0), cpu=True), mem + amount(overhead.get("memory", 0), cpu=False))


def _same_usage(old: Obj, new: Obj) -> bool:
    """Whether two versions of a pod request the same (their container lists are the same object:
    informer caches share equal parts, so a status update keeps them)."""
    a, b = old.get("spec") or {}, new.get("spec") or {}
    return all(a.get(k) is b.get(k) for k in ("containers", "initContainers", "overhead"))


def host_ports(pod: Obj) -> set[tuple[str, str, int]]:
    out = set()
    for c in (pod.get("spec") or {}).get("containers") or []:
        for p in c.get("ports") or []:
            if p.get("hostPort"):
                out.add((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", int(p["hostPort"])))
    return out


@dataclass
class PodInfo:
    """What the filters and scores need of a pod, computed once per scheduling attempt."""

    pod: Obj
    requests: Requests
    nonzero: Requests
    ports: set[tuple[str, str, int]]
    tolerations: list[Obj]
    node_selector: dict[str, str]
    affinity_terms: list[Obj]
    node_name: str | None
    namespace: str = ""
    claims: tuple[str, ...] = ()

    @classmethod
    def of(cls, pod: Obj) -> PodInfo:
        spec = pod.get("spec") or {}
        r = pod_requests(pod)
        required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                    .get("requiredDuringSchedulingIgnoredDuringExecution")) or {}
        claims = tuple(str(v["persistentVolumeClaim"]["claimName"]) for v in spec.get("volumes") or []
                       if (v.get("persistentVolumeClaim") or {}).get("claimName"))
        return cls(pod, r, r.nonzero, host_ports(pod), list(spec.get("tolerations") or []),
                   dict(spec.get("nodeSelector") or {}), list(required.get("nodeSelectorTerms") or []),
                   spec.get("nodeName"), str((pod.get("metadata") or {}).get("namespace") or ""), claims)


@dataclass
class NodeInfo:
    node: Obj
    pods: dict[str, Obj] = field(default_factory=dict)  # key -> pod (bound or assumed)
    requested: Requests = field(default_factory=Requests)
    nonzero_requested: Requests = field(default_factory=Requests)
    ports: set[tuple[str, str, int]] = field(default_factory=set)
    # how many of the node's pods use each host port (a port is free when its last user goes)
    _port_users: collections.Counter[tuple[str, str, int]] = field(default_factory=collections.Counter)
    # derived from the node object (set_node), so filters read fields instead of parsing
    allocatable: tuple[int, int, int] = (0, 0, 0)
    ready: bool = False
    unschedulable: bool = False
    taints: list[Obj] = field(default_factory=list)
    labels: dict[str, str] = field(default_factory=dict)
    name: str = ""
    known: bool = False  # the Node object has arrived (a node known only from its pods is not ready)
    # ready, schedulable and untainted: the node gates (NODE_GATES) pass for every pod
    plain: bool = False

    def __post_init__(self) -> None:
        self.set_node(self.node)

    def set_node(self, node: Obj) -> None:
        self.node = node
        meta, spec, status = node.get("metadata") or {}, node.get("spec") or {}, node.get("status") or {}
        self.name = str(meta.get("name"))
        self.labels = dict(meta.get("labels") or {})
        alloc = status.get("allocatable") or status.get("capacity") or {}
        self.allocatable = (amount(alloc.get("cpu", 0), cpu=True), amount(alloc.get("memory", 0), cpu=False),
                            int(amount(alloc.get("pods", 110), cpu=False)))
        self.ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
        self.unschedulable = bool(spec.get("unschedulable"))
        self.taints = [t for t in spec.get("taints") or [] if t.get("effect") in ("NoSchedule", "NoExecute")]
        self.known = "status" in node
        self.plain = self.known and self.ready and not self.unschedulable and not self.taints

    def add(self, key: str, pod: Obj) -> None:
        old = self.pods.get(key)
        if old is not None:
            if _same_usage(old, pod):  # a status update of a bound pod: nothing to recount
                self.pods[key] = pod
                return
            self.remove(key)
        self.pods[key] = pod
        r = pod_requests(pod)
        nz = r.nonzero
        self.requested = Requests(self.requested.milli_cpu + r.milli_cpu, self.requested.memory + r.memory)
        self.nonzero_requested = Requests(self.nonzero_requested.milli_cpu + nz.milli_cpu,
                                          self.nonzero_requested.memory + nz.memory)
        ports = host_ports(pod)
        if ports:
            self._port_users.update(ports)
            self.ports |= ports

    def remove(self, key: str) -> None:
        pod = self.pods.pop(key, None)
        if pod is None:
            return
        r = pod_requests(pod)
        nz = r.nonzero
        self.requested = Requests(self.requested.milli_cpu - r.milli_cpu, self.requested.memory - r.memory)
        self.nonzero_requested = Requests(self.nonzero_requested.milli_cpu - nz.milli_cpu,
                                          self.nonzero_requested.memory - nz.memory)
        ports = host_ports(pod)
        if ports:
            self._port_users.subtract(ports)
            for port in ports:
                if self._port_users[port] <= 0:
                    del self._port_users[port]
                    self.ports.discard(port)


# --- filters: None when the node fits, else kube-scheduler's reason -------------------------------

Filter = Callable[[PodInfo, NodeInfo], Sequence[str]]


def filter_node_ready(pi: PodInfo, ni: NodeInfo) -> list[str]:
    return [] if ni.ready else ["node(s) were not ready"]


_UNSCHEDULABLE_TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def filter_unschedulable(pi: PodInfo, ni: NodeInfo) -> list[str]:
    if not ni.unschedulable or tolerates(pi.tolerations, _UNSCHEDULABLE_TAINT):
        return []
    return ["node(s) were unschedulable"]


_FITS: Sequence[str] = ()  # the hot path's "no reasons": one immutable value, safe to hand every caller


def filter_resources(pi: PodInfo, ni: NodeInfo) -> Sequence[str]:
    cpu, mem, max_pods = ni.allocatable
    r = pi.requests
    used = ni.requested
    if len(ni.pods) < max_pods and (not r.milli_cpu or used.milli_cpu + r.milli_cpu <= cpu) and \
            (not r.memory or used.memory + r.memory <= mem):
        return _FITS
    reasons = []
    if len(ni.pods) + 1 > max_pods:
        reasons.append("Too many pods")
    if r.milli_cpu and ni.requested.milli_cpu + r.milli_cpu > cpu:
        reasons.append("Insufficient cpu")
    if r.memory and ni.requested.memory + r.memory > mem:
        reasons.append("Insufficient memory")
    return reasons


def _term_matches(term: Obj, labels: dict[str, str], fields: dict[str, str]) -> bool:
    exprs = term.get("matchExpressions") or []
    fexprs = term.get("matchFields") or []
    if not exprs and not fexprs:
        return False
    for source, group in ((labels, exprs), (fields, fexprs)):
        for e in group:
            key, op, values = e.get("key"), e.get("operator"), e.get("values") or []
            have = source.get(key)
            if op == "In" and have not in values:
                return False
            if op == "NotIn" and have in values:
                return False
            if op == "Exists" and key not in source:
                return False
            if op == "DoesNotExist" and key in source:
                return False
            if op in ("Gt", "Lt"):
                try:
                    a, b = int(have or ""), int(values[0])
                except (ValueError, IndexError):
                    return False
                if (op == "Gt" and not a > b) or (op == "Lt" and not a < b):
                    return False
    return True


def filter_node_affinity(pi: PodInfo, ni: NodeInfo) -> list[str]:
    labels = ni.labels
    for k, v in pi.node_selector.items():
        if labels.get(k) != v:
            return ["node(s) didn't match Pod's node affinity/selector"]
    terms = pi.affinity_terms
    if terms and not any(_term_matches(t, labels, {"metadata.name": ni.name}) for t in terms):
        return ["node(s) didn't match Pod's node affinity/selector"]
    return []


def volume_binding_filter(claim_of: Callable[[str], Obj | None], volume_of: Callable[[str], Obj | None]) -> Filter:
    """VolumeBinding: a pod whose claim is bound to a node-pinned volume (local-path) goes to that
    node; a claim that does not exist keeps the pod Pending, as kube-scheduler does."""
    def check(pi: PodInfo, ni: NodeInfo) -> list[str]:
        for name in pi.claims:
            claim = claim_of(f"{pi.namespace}/{name}")
            if claim is None:
                return [f'persistentvolumeclaim "{name}" not found']
            volume = (claim.get("spec") or {}).get("volumeName")
            pv = volume_of(str(volume)) if volume else None
            if pv is None:
                continue
            terms = ((((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
                     .get("nodeSelectorTerms")) or []
            if terms and not any(_term_matches(t, ni.labels, {"metadata.name": ni.name}) for t in terms):
                return ["node(s) had volume node affinity conflict"]
        return []
    return check


def filter_taints(pi: PodInfo, ni: NodeInfo) -> list[str]:
    for taint in ni.taints:
        if not tolerates(pi.tolerations, taint):
            return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"]
    return []


def filter_ports(pi: PodInfo, ni: NodeInfo) -> list[str]:
    if not pi.ports or not ni.ports:
        return []
    for ip, proto, port in pi.ports:
        for uip, uproto, uport in ni.ports:
            if uport == port and uproto == proto and ("0.0.0.0" in (ip, uip) or ip == uip):
                return ["node(s) didn't have free ports for the requested pod ports"]
    return []


FILTERS: list[tuple[str, Filter]] = [
    ("NodeUnschedulable", filter_unschedulable),
    ("NodeReady", filter_node_ready),
    ("NodeName", lambda pi, ni: [] if not pi.node_name or pi.node_name == ni.name
     else ["node(s) didn't match the requested node name"]),
    ("TaintToleration", filter_taints),
    ("NodeAffinity", filter_node_affinity),
    ("NodePorts", filter_ports),
    ("NodeResourcesFit", filter_resources),
]


# Filters that pass for every pod on a `plain` node (NodeInfo.plain), and filters that can only
# fail for a pod that asks for something (a node name, a selector or affinity, host ports, claims):
# find_node runs, per pod, only the filters that could say no, so its decisions stay the same.
NODE_GATES = frozenset({"NodeUnschedulable", "NodeReady", "TaintToleration"})
POD_TRIGGERS: dict[str, Callable[[PodInfo], bool]] = {
    "NodeName": lambda pi: bool(pi.node_name),
    "NodeAffinity": lambda pi: bool(pi.node_selector or pi.affinity_terms),
    "NodePorts": lambda pi: bool(pi.ports),
    "VolumeBinding": lambda pi: bool(pi.claims),
}


def plan_filters(filters: list[tuple[str, Filter]], pi: PodInfo) -> tuple[list[tuple[str, Filter]],
                                                                          list[tuple[str, Filter]]]:
    """(the filters that could reject `pi` on any node, the ones that could on a plain node), in the
    profile's order (the first filter that fails names the reason)."""
    wanted = [(name, check) for name, check in filters if (trigger := POD_TRIGGERS.get(name)) is None or trigger(pi)]
    return wanted, [(name, check) for name, check in wanted if name not in NODE_GATES]


# --- scores ----------------------------------------------------------------------------------------

def _fractions(pi: PodInfo, ni: NodeInfo) -> tuple[float, float]:
    cpu, mem, _ = ni.allocatable
    r = pi.nonzero
    fcpu = (ni.nonzero_requested.milli_cpu + r.milli_cpu) / cpu if cpu else 1.0
    fmem = (ni.nonzero_requested.memory + r.memory) / mem if mem else 1.0
    return min(fcpu, 1.0), min(fmem, 1.0)


def score_most_allocated(pi: PodInfo, ni: NodeInfo) -> int:
    cpu, mem, _ = ni.allocatable  # _fractions inlined: this runs for every feasible node
    r, used = pi.nonzero, ni.nonzero_requested
    fcpu = (used.milli_cpu + r.milli_cpu) / cpu if cpu else 1.0
    fmem = (used.memory + r.memory) / mem if mem else 1.0
    return int(((fcpu if fcpu < 1.0 else 1.0) + (fmem if fmem < 1.0 else 1.0)) / 2 * 100)


def score_least_allocated(pi: PodInfo, ni: NodeInfo) -> int:
    fcpu, fmem = _fractions(pi, ni)
    return int(((1 - fcpu) + (1 - fmem)) / 2 * 100)


@dataclass(frozen=True)
class Profile:
    name: str
    score: Callable[[PodInfo, NodeInfo], int]
    filters: list[tuple[str, Filter]] = field(default_factory=lambda: list(FILTERS))


PROFILES = {"binpack": score_most_allocated, "spread": score_least_allocated}


def make_profiles(default: str = "binpack") -> dict[str, Profile]:
    """`default-scheduler` uses the chosen strategy; `binpack-scheduler` and `spread-scheduler`
    name each one for pods that pick it with spec.schedulerName."""
    return {"default-scheduler": Profile("default-scheduler", PROFILES[default]),
            "binpack-scheduler": Profile("binpack-scheduler", score_most_allocated),
            "spread-scheduler": Profile("spread-scheduler", score_least_allocated)}


def unschedulable_message(total: int, reasons: dict[str, int]) -> str:
    """kube-scheduler's summary: `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) ...`."""
    if total == 0:
        return "no nodes available to schedule pods"
    parts = [f"{n} {reason}" for reason, n in sorted(reasons.items())]
    return f"0/{total} nodes are available: {', '.join(parts)}."


def nodes_to_find(total: int, percentage: int = 0) -> int:
    """How many feasible nodes to look for before scoring (kube-scheduler's adaptive sampling)."""
    if total < 100:
        return total
    if percentage <= 0:
        percentage = max(5, 50 - total // 125)
    return max(100, total * percentage // 100)
