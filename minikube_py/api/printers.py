"""Server-side printers: the Table columns kube-apiserver defines for each kind, and their cells.

Each kind's entry in the kinds table (api/kinds.py) names its printer (a kind without one gets
DEFAULT), and the apiserver (apiserver/tables.py) uses it when a client asks for `as=Table`;
kubectl prints what comes back, so `kubectl get` and `mkctl get` show the same columns as
against a real cluster.  Printers work on wire dicts (no pydantic) because a Table of
10,000 pods must stay fast.  Columns with priority 1 show with `-o wide`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type: str = "string"
    format: str = ""
    description: str = ""
    priority: int = 0

    def definition(self) -> dict[str, Any]:
        return {"name": self.name, "type": self.type, "format": self.format, "description": self.description,
                "priority": self.priority}


@dataclass(frozen=True, slots=True)
class Printer:
    columns: tuple[Column, ...]
    row: Callable[[Obj, datetime], list[Any]]


def human_duration(seconds: float) -> str:
    """Kubernetes' duration.HumanDuration: 90s, 5m12s, 3h4m, 26h, 3d4h, 400d, 2y30d."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m" if s % 60 == 0 else f"{minutes}m{s % 60}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h" if minutes % 60 == 0 else f"{hours}h{minutes % 60}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d" if hours % 24 == 0 else f"{hours // 24}d{hours % 24}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        days = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if days == 0 else f"{hours // 24 // 365}y{days}d"
    return f"{hours // 24 // 365}y"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def age(value: str | None, now: datetime) -> str:
    t = _parse_time(value)
    return "<unknown>" if t is None else human_duration((now - t).total_seconds())


def _meta(o: Obj) -> Obj:
    return o.get("metadata") or {}


def _spec(o: Obj) -> Obj:
    return o.get("spec") or {}


def _status(o: Obj) -> Obj:
    return o.get("status") or {}


def _created(o: Obj, now: datetime) -> str:
    return age(_meta(o).get("creationTimestamp"), now)


NAME = Column("Name", format="name", description="Name must be unique within a namespace.")
AGE = Column("Age", description="CreationTimestamp is a timestamp representing the server time when this object "
                                "was created.")


def _containers(tmpl_spec: Obj) -> tuple[str, str]:
    cs = tmpl_spec.get("containers") or []
    return ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)


def _selector(sel: Obj | None) -> str:
    from .selectors import format_label_selector

    if not sel:
        return "<none>"
    text = format_label_selector(sel.get("matchLabels"), sel.get("matchExpressions"))
    return text or "<none>"


def _map_selector(sel: dict[str, str] | None) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted((sel or {}).items())) or "<none>"


# --- pods ---------------------------------------------------------------------------------------


def _restartable_init(c: Obj | None) -> bool:
    return (c or {}).get("restartPolicy") == "Always"  # a sidecar: an init container that keeps running


def _condition_true(status: Obj, kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or [])


def _last_terminated(cs: Obj) -> datetime | None:
    return _parse_time(((cs.get("lastState") or {}).get("terminated") or {}).get("finishedAt"))


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None or (b is not None and b > a) else a


def _pod_cells(o: Obj, now: datetime) -> tuple[str, str, str]:
    """kube's printPod: (ready, status, restarts).  Sidecars count as containers; init restarts
    count only while the pod initializes; "(Xs ago)" only with restarts; Terminating only for a
    pod not yet Succeeded or Failed."""
    spec, status, meta = _spec(o), _status(o), _meta(o)
    phase = status.get("phase") or ""
    reason = status.get("reason") or phase
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or []):
        reason = "SchedulingGated"
    init_specs = {c.get("name"): c for c in spec.get("initContainers") or []}
    total = len(spec.get("containers") or []) + sum(1 for c in init_specs.values() if _restartable_init(c))
    ready = restarts = sidecar_restarts = 0
    last: datetime | None = None
    sidecar_last: datetime | None = None
    initializing = False
    for i, cs in enumerate(status.get("initContainerStatuses") or []):
        restarts += int(cs.get("restartCount") or 0)
        last = _later(last, _last_terminated(cs))
        sidecar = _restartable_init(init_specs.get(cs.get("name")))
        if sidecar:
            sidecar_restarts += int(cs.get("restartCount") or 0)
            sidecar_last = _later(sidecar_last, _last_terminated(cs))
        state = cs.get("state") or {}
        term, wait = state.get("terminated"), state.get("waiting")
        if term and term.get("exitCode") == 0:
            continue
        if sidecar and cs.get("started"):
            ready += 1 if cs.get("ready") else 0
            continue
        initializing = True
        if term:
            if term.get("reason"):
                reason = "Init:" + term["reason"]
            elif term.get("signal"):
                reason = f"Init:Signal:{term['signal']}"
            else:
                reason = f"Init:ExitCode:{term.get('exitCode')}"
        elif wait and wait.get("reason") and wait["reason"] != "PodInitializing":
            reason = "Init:" + wait["reason"]
        else:
            reason = f"Init:{i}/{len(init_specs)}"
        break
    if not initializing or _condition_true(status, "Initialized"):
        restarts, last = sidecar_restarts, sidecar_last
        has_running = False
        for cs in reversed(status.get("containerStatuses") or []):
            restarts += int(cs.get("restartCount") or 0)
            last = _later(last, _last_terminated(cs))
            state = cs.get("state") or {}
            term, wait = state.get("terminated"), state.get("waiting")
            if wait and wait.get("reason"):
                reason = wait["reason"]
            elif term and term.get("reason"):
                reason = term["reason"]
            elif term:
                reason = f"Signal:{term['signal']}" if term.get("signal") else f"ExitCode:{term.get('exitCode')}"
            elif cs.get("ready") and state.get("running") is not None:
                has_running = True
                ready += 1
        if reason == "Completed" and has_running:
            reason = "Running" if _condition_true(status, "Ready") else "NotReady"
    if meta.get("deletionTimestamp"):
        if status.get("reason") == "NodeLost":
            reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            reason = "Terminating"
    restarts_cell = str(restarts)
    if restarts and last is not None:
        restarts_cell = f"{restarts} ({human_duration((now - last).total_seconds())} ago)"
    return f"{ready}/{total}", str(reason), restarts_cell


def _pod_row(o: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(o), _status(o)
    ready, reason, restarts = _pod_cells(o, now)
    gates = spec.get("readinessGates") or []
    gates_cell = "<none>"
    if gates:
        conds = {c.get("type"): c.get("status") for c in status.get("conditions") or []}
        gates_cell = f"{sum(1 for g in gates if conds.get(g.get('conditionType')) == 'True')}/{len(gates)}"
    ips = status.get("podIPs") or []
    ip = (ips[0].get("ip") if ips else None) or status.get("podIP") or "<none>"
    return [_meta(o).get("name", ""), ready, reason, restarts, _created(o, now), ip, spec.get("nodeName") or "<none>",
            status.get("nominatedNodeName") or "<none>", gates_cell]


POD = Printer((NAME, Column("Ready", description="The aggregate readiness state of this pod for accepting traffic."),
               Column("Status", description="The aggregate status of the containers in this pod."),
               Column("Restarts", description="The number of times the containers in this pod have been restarted "
                                              "and when the last container in this pod has restarted."),
               AGE, Column("IP", priority=1, description="IP address allocated to the pod. Routable at least within "
                                                          "the cluster. Empty if not yet allocated."),
               Column("Node", priority=1, description="NodeName is a request to schedule this pod onto a specific "
                                                       "node."),
               Column("Nominated Node", priority=1, description="nominatedNodeName is set only when this pod "
                                                                 "preempts other pods on the node."),
               Column("Readiness Gates", priority=1, description="If specified, all readiness gates will be "
                                                                  "evaluated for pod readiness.")), _pod_row)

# --- workloads ----------------------------------------------------------------------------------

_WIDE_WORKLOAD = (Column("Containers", priority=1, description="Names of each container in the template."),
                  Column("Images", priority=1, description="Images referenced by each container in the template."),
                  Column("Selector", priority=1, description="Label selector for pods."))


def _deploy_row(o: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(o), _status(o)
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [_meta(o).get("name", ""), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            status.get("updatedReplicas", 0), status.get("availableReplicas", 0), _created(o, now), names, images,
            _selector(spec.get("selector"))]


DEPLOYMENT = Printer((NAME, Column("Ready", description="Number of the pod with ready state"),
                      Column("Up-to-date", "integer", description="Total number of non-terminated pods targeted by "
                                                                  "this deployment that have the desired template."),
                      Column("Available", "integer", description="Total number of available pods (ready for at "
                                                                 "least minReadySeconds) targeted by this "
                                                                 "deployment."),
                      AGE) + _WIDE_WORKLOAD, _deploy_row)


def _rs_row(o: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(o), _status(o)
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [_meta(o).get("name", ""), spec.get("replicas", 0), status.get("replicas", 0),
            status.get("readyReplicas", 0), _created(o, now), names, images, _selector(spec.get("selector"))]


REPLICASET = Printer((NAME, Column("Desired", "integer", description="Replicas is the number of desired replicas."),
                      Column("Current", "integer", description="Replicas is the most recently observed number of "
                                                               "replicas."),
                      Column("Ready", "integer", description="The number of ready replicas for this replica set."),
                      AGE) + _WIDE_WORKLOAD, _rs_row)


def _sts_row(o: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(o), _status(o)
    names, images = _containers(((spec.get("template") or {}).get("spec")) or {})
    return [_meta(o).get("name", ""), f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            _created(o, now), names, images]


STATEFULSET = Printer((NAME, Column("Ready", description="Number of the pod with ready state"), AGE)
                      + _WIDE_WORKLOAD[:2], _sts_row)

# --- services and networking --------------------------------------------------------------------


def _ports(spec: Obj) -> str:
    out = []
    for p in spec.get("ports") or []:
        port = f"{p.get('port')}:{p['nodePort']}" if p.get("nodePort") else str(p.get("port"))
        out.append(f"{port}/{p.get('protocol', 'TCP')}")
    return ",".join(out) or "<none>"


def _external_ip(o: Obj) -> str:
    spec = _spec(o)
    kind = spec.get("type", "ClusterIP")
    external = list(spec.get("externalIPs") or [])
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or "<none>"
    if kind == "LoadBalancer":
        lb = [i.get("ip") or i.get("hostname") for i in ((_status(o).get("loadBalancer") or {}).get("ingress") or [])]
        return ",".join([x for x in lb if x] + external) or "<pending>"
    if kind == "ExternalName":
        return str(spec.get("externalName", ""))
    return "<unknown>"


def _svc_row(o: Obj, now: datetime) -> list[Any]:
    spec = _spec(o)
    cluster_ips = spec.get("clusterIPs") or [spec.get("clusterIP")]  # kube prints clusterIPs[0]
    return [_meta(o).get("name", ""), spec.get("type", "ClusterIP"), cluster_ips[0] or "<none>",
            _external_ip(o), _ports(spec), _created(o, now), _map_selector(spec.get("selector"))]


SERVICE = Printer((NAME, Column("Type", description="type determines how the Service is exposed."),
                   Column("Cluster-IP", description="clusterIP is the IP address of the service."),
                   Column("External-IP", description="externalIPs is a list of IP addresses for which nodes in the "
                                                     "cluster will also accept traffic for this service."),
                   Column("Port(s)", description="The list of ports that are exposed by this service."), AGE,
                   Column("Selector", priority=1, description="Route service traffic to pods with label keys and "
                                                              "values matching this selector.")), _svc_row)


def _host_port(ip: str, port: object) -> str:
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"  # net.JoinHostPort


def _endpoints_row(o: Obj, now: datetime) -> list[Any]:
    """kube's formatEndpoints: each port of a subset with each of its ready addresses, three shown."""
    subsets = o.get("subsets") or []
    shown: list[str] = []
    count = 0
    for subset in subsets:
        addrs = [str(a.get("ip", "")) for a in subset.get("addresses") or []]
        ports = subset.get("ports") or []
        pairs = [_host_port(a, p.get("port")) for p in ports for a in addrs] if ports else addrs
        count += len(pairs)
        shown += pairs[:max(0, 3 - len(shown))]
    text = ",".join(shown)
    if count > 3:
        text += f" + {count - 3} more..."
    return [_meta(o).get("name", ""), text or "<none>", _created(o, now)]


ENDPOINTS = Printer((NAME, Column("Endpoints", description="Endpoints of the service"), AGE), _endpoints_row)


def _ingress_hosts(rules: list[Obj]) -> str:
    """kube's formatHosts: the first three non-empty hosts; " + N more..." (N counts rules, less three)
    only when a rule follows the one that gave the third host; "*" when no rule names a host."""
    hosts: list[str] = []
    more = False
    for rule in rules:
        if len(hosts) == 3:
            more = True
            break
        if rule.get("host"):
            hosts.append(str(rule["host"]))
    if not hosts:
        return "*"
    return ",".join(hosts) + (f" + {len(rules) - 3} more..." if more else "")


def _ingress_row(o: Obj, now: datetime) -> list[Any]:
    spec = _spec(o)
    rules = spec.get("rules") or []
    hosts_cell = _ingress_hosts(rules)
    lb = [i.get("ip") or i.get("hostname") for i in ((_status(o).get("loadBalancer") or {}).get("ingress") or [])]
    ports = "80, 443" if spec.get("tls") else "80"
    return [_meta(o).get("name", ""), spec.get("ingressClassName") or "<none>", hosts_cell,
            ",".join(x for x in lb if x), ports, _created(o, now)]


INGRESS = Printer((NAME, Column("Class", description="ingressClassName is the name of an IngressClass."),
                   Column("Hosts", description="Hosts that incoming requests are matched against"),
                   Column("Address", description="Address is a list containing ingress points for the "
                                                 "load-balancer"),
                   Column("Ports", description="Ports of TLS configurations that open"), AGE), _ingress_row)


def _ingress_class_row(o: Obj, now: datetime) -> list[Any]:
    params = _spec(o).get("parameters")
    shown = "<none>"
    if params:
        kind = str(params.get("kind", ""))
        if params.get("apiGroup") is not None:  # kube tests the pointer: an empty group still adds the dot
            kind += f".{params['apiGroup']}"
        shown = f"{kind}/{params.get('name', '')}"
    return [_meta(o).get("name", ""), _spec(o).get("controller", ""), shown, _created(o, now)]


INGRESSCLASS = Printer((NAME, Column("Controller", description="Controller that implements the ingress class"),
                        Column("Parameters", description="A reference to a resource with additional parameters"),
                        AGE), _ingress_class_row)

# --- cluster ------------------------------------------------------------------------------------


def _node_row(o: Obj, now: datetime) -> list[Any]:
    spec, status, meta = _spec(o), _status(o), _meta(o)
    # kube's printNode: Ready=True is "Ready", any other status "NotReady", no condition "Unknown"
    ready = next((c.get("status") for c in status.get("conditions") or [] if c.get("type") == "Ready"), None)
    state = "Unknown" if ready is None else "Ready" if ready == "True" else "NotReady"
    if spec.get("unschedulable"):
        state += ",SchedulingDisabled"
    roles = sorted({k.split("/", 1)[1] for k in (meta.get("labels") or {}) if k.startswith("node-role.kubernetes.io/")
                    and "/" in k and k.split("/", 1)[1]} | {v for k, v in (meta.get("labels") or {}).items()
                                                            if k == "kubernetes.io/role" and v})
    addrs = {a.get("type"): a.get("address") for a in status.get("addresses") or []}
    info = status.get("nodeInfo") or {}
    return [meta.get("name", ""), state, ",".join(roles) or "<none>", _created(o, now), info.get("kubeletVersion", ""),
            addrs.get("InternalIP") or "<none>", addrs.get("ExternalIP") or "<none>", info.get("osImage") or "<unknown>",
            info.get("kernelVersion") or "<unknown>", info.get("containerRuntimeVersion") or "<unknown>"]


NODE = Printer((NAME, Column("Status", description="The status of the node"),
                Column("Roles", description="The roles of the node"), AGE,
                Column("Version", description="Kubelet Version reported by the node."),
                Column("Internal-IP", priority=1, description="List of addresses reachable to the node."),
                Column("External-IP", priority=1, description="List of addresses reachable to the node."),
                Column("OS-Image", priority=1, description="OS Image reported by the node from /etc/os-release."),
                Column("Kernel-Version", priority=1, description="Kernel Version reported by the node."),
                Column("Container-Runtime", priority=1, description="Container Runtime Version reported by the "
                                                                     "node.")), _node_row)

NAMESPACE = Printer((NAME, Column("Status", description="The status of the namespace"), AGE),
                    lambda o, now: [_meta(o).get("name", ""), _status(o).get("phase", "Active"), _created(o, now)])

CONFIGMAP = Printer((NAME, Column("Data", "integer", description="Number of data entries in the configmap"), AGE),
                    lambda o, now: [_meta(o).get("name", ""), len(o.get("data") or {}) + len(o.get("binaryData") or {}),
                                    _created(o, now)])

SECRET = Printer((NAME, Column("Type", description="The type of the secret"),
                  Column("Data", "integer", description="Number of data entries in the secret"), AGE),
                 lambda o, now: [_meta(o).get("name", ""), o.get("type", "Opaque"), len(o.get("data") or {}),
                                 _created(o, now)])


def _storage_class(o: Obj) -> str:
    """helper.GetPersistentVolume(Claim)Class: the beta annotation wins over spec.storageClassName."""
    beta = (_meta(o).get("annotations") or {}).get("volume.beta.kubernetes.io/storage-class")
    return str(beta if beta is not None else _spec(o).get("storageClassName") or "")


def _phase(o: Obj) -> str:
    return "Terminating" if _meta(o).get("deletionTimestamp") else str(_status(o).get("phase") or "")


def _pv_row(o: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(o), _status(o)
    claim = spec.get("claimRef")
    claim_cell = f"{claim.get('namespace') or ''}/{claim.get('name') or ''}" if claim is not None else ""
    return [_meta(o).get("name", ""), (spec.get("capacity") or {}).get("storage", "0"),
            _access_modes(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""),
            _phase(o), claim_cell, _storage_class(o), spec.get("volumeAttributesClassName") or "<unset>",
            status.get("reason", ""), _created(o, now), spec.get("volumeMode") or "<unset>"]


def _access_modes(modes: list[str] | None) -> str:
    """helper.GetAccessModesAsString: a fixed order, each mode once."""
    order = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"), ("ReadWriteOncePod", "RWOP"))
    present = set(modes or [])
    return ",".join(short for mode, short in order if mode in present)


PV = Printer((NAME, Column("Capacity"), Column("Access Modes"), Column("Reclaim Policy"), Column("Status"),
              Column("Claim"), Column("StorageClass"), Column("VolumeAttributesClass"), Column("Reason"), AGE,
              Column("VolumeMode", priority=1)), _pv_row)


def _pvc_row(o: Obj, now: datetime) -> list[Any]:
    spec, status = _spec(o), _status(o)
    capacity = modes = ""
    if spec.get("volumeName"):  # kube shows what was bound, and nothing before
        capacity = (status.get("capacity") or {}).get("storage", "0")
        modes = _access_modes(status.get("accessModes"))
    return [_meta(o).get("name", ""), _phase(o), spec.get("volumeName", ""), capacity, modes,
            _storage_class(o), spec.get("volumeAttributesClassName") or "<unset>", _created(o, now),
            spec.get("volumeMode") or "<unset>"]


PVC = Printer((NAME, Column("Status"), Column("Volume"), Column("Capacity"), Column("Access Modes"),
               Column("StorageClass"), Column("VolumeAttributesClass"), AGE, Column("VolumeMode", priority=1)),
              _pvc_row)


def _sc_row(o: Obj, now: datetime) -> list[Any]:
    meta = _meta(o)
    name = meta.get("name", "")
    annotations = meta.get("annotations") or {}
    if "true" in (annotations.get("storageclass.kubernetes.io/is-default-class"),
                  annotations.get("storageclass.beta.kubernetes.io/is-default-class")):
        name += " (default)"
    return [name, o.get("provisioner", ""), o.get("reclaimPolicy") or "Delete",
            o.get("volumeBindingMode") or "Immediate", bool(o.get("allowVolumeExpansion")), _created(o, now)]


STORAGECLASS = Printer((NAME, Column("Provisioner"), Column("ReclaimPolicy"), Column("VolumeBindingMode"),
                        Column("AllowVolumeExpansion"), AGE), _sc_row)

LEASE = Printer((NAME, Column("Holder", description="The holder of the lease"), AGE),
                lambda o, now: [_meta(o).get("name", ""), _spec(o).get("holderIdentity", ""), _created(o, now)])


def _event_row(o: Obj, now: datetime) -> list[Any]:
    """kube's printEvent, on core/v1 and events.k8s.io/v1 shapes alike (one store, two views)."""
    obj = o.get("involvedObject") or o.get("regarding") or {}
    first_ts = o.get("firstTimestamp") or o.get("deprecatedFirstTimestamp")
    first = age(first_ts or o.get("eventTime"), now)
    last_ts = o.get("lastTimestamp") or o.get("deprecatedLastTimestamp")
    last = age(last_ts, now) if last_ts else first
    count = o.get("count") or o.get("deprecatedCount") or 0
    series = o.get("series")
    if series:
        last = age(series.get("lastObservedTime"), now)
        count = series.get("count") or 0
    elif not count:
        count = 1  # a singleton of the new API has no count
    kind = str(obj.get("kind", "")).lower()
    target = f"{kind}/{obj['name']}" if obj.get("name") else kind
    source = o.get("source") or o.get("deprecatedSource") or {}
    component = source.get("component") or o.get("reportingComponent") or o.get("reportingController") or ""
    instance = source.get("host") or o.get("reportingInstance") or ""
    return [last, o.get("type", ""), o.get("reason", ""), target, obj.get("fieldPath", ""),
            f"{component}, {instance}" if instance else component, str(o.get("message") or o.get("note") or "").strip(),
            first, int(count), _meta(o).get("name", "")]


EVENT = Printer((Column("Last Seen", description="Time when last this event was observed"),
                 Column("Type", description="Type of this event (Normal, Warning)"),
                 Column("Reason", description="This should be a short, machine understandable string"),
                 Column("Object", description="The object that this event is about"),
                 Column("Subobject", priority=1, description="The sub-object that this event is about"),
                 Column("Source", priority=1, description="The component reporting this event"),
                 Column("Message", description="A human-readable description of the status of this operation"),
                 Column("First Seen", priority=1, description="The time at which the event was first recorded"),
                 Column("Count", "integer", priority=1, description="The number of times this event has occurred"),
                 Column("Name", format="name", priority=1, description="Name must be unique within a namespace.")),
                _event_row)

SERVICEACCOUNT = Printer((NAME, Column("Secrets", "string", description="How many secrets this service account "
                                                                         "lists"), AGE),
                         lambda o, now: [_meta(o).get("name", ""), len(o.get("secrets") or []), _created(o, now)])

def _first_three(items: list[str]) -> str:
    """kubectl's listWithMoreString: three items, then "+ N more...", and <unset> for none."""
    if len(items) > 3:
        return ",".join(items[:3]) + f" + {len(items) - 3} more..."
    return ",".join(items) or "<unset>"


def _endpointslice_row(o: Obj, now: datetime) -> list[Any]:
    ports = [str(p["port"]) if p.get("port") is not None else (p["name"] if p.get("name") is not None else "*")
             for p in o.get("ports") or []]
    addresses = [str(a) for ep in o.get("endpoints") or [] for a in ep.get("addresses") or []]
    return [_meta(o).get("name", ""), o.get("addressType", ""), _first_three(ports), _first_three(addresses),
            _created(o, now)]


ENDPOINTSLICE = Printer((NAME, Column("AddressType", description="The type of address carried by this slice"),
                         Column("Ports", description="The ports each endpoint of this slice serves"),
                         Column("Endpoints", description="The addresses of the endpoints in this slice"), AGE),
                        _endpointslice_row)

DEFAULT = Printer((NAME, Column("Created At", "date", description="Time when the object was created.")),
                  lambda o, now: [_meta(o).get("name", ""), _meta(o).get("creationTimestamp", "")])


def now_utc() -> datetime:
    return datetime.now(UTC)
