"""`mkctl describe`: a readable report of an object and its events, laid out as kubectl's.

Kind-specific describers for Deployment, ReplicaSet, StatefulSet, Pod, Service, ConfigMap, Secret,
Namespace and Node follow kubectl's sections; every other kind gets kubectl's generic layout
(field names turned into words).  Text is written with tabs and aligned by `printing.tabwrite`,
the way kubectl aligns it with Go's tabwriter.  Called by minikube_py.cli.mkctl.
"""

from __future__ import annotations

import argparse
import re
import sys
from datetime import UTC, datetime
from typing import Any

from ..api.errors import ApiError, NotFound, Unreachable
from ..api.printers import age
from ..api.quantity import amount
from ..api.times import parse_time
from ..client.discovery import Resource
from .kubectl_resources import (
    Obj,
    get_object,
    list_objects,
    manifest_target,
    read_manifests,
    targets_from_args,
)
from .mkctl import Context, server_error
from .printing import tabwrite


class _W:
    """kubectl's prefix writer: `write(level, text)` indents by two spaces a level."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.no_events = False  # kubectl prints no Events section for some kinds (Secret, Namespace)

    def write(self, level: int, text: str) -> None:
        self.parts.append("  " * level + text)

    def text(self) -> str:
        return tabwrite("".join(self.parts))


def _ts(value: str | None) -> str:
    """A Time or MicroTime as kubectl describe shows it (RFC 1123), or the text itself if unreadable."""
    seconds = parse_time(value)
    if seconds is None:
        return value or "<unset>"
    return datetime.fromtimestamp(seconds, UTC).strftime("%a, %d %b %Y %H:%M:%S +0000")


def _multiline(w: _W, level: int, title: str, values: dict[str, str] | None) -> None:
    w.write(level, f"{title}:\t")
    if not values:
        w.parts.append("<none>\n")
        return
    for i, k in enumerate(sorted(values)):
        if i:
            w.write(level, "\t")
        v = str(values[k])
        w.parts.append(f"{k}={v}\n" if title in ("Labels", "Node-Selectors", "Selector") else f"{k}: {v}\n")


def _selector_text(sel: Obj | None) -> str:
    if not sel:
        return "<none>"
    parts = [f"{k}={v}" for k, v in sorted((sel.get("matchLabels") or {}).items())]
    for e in sel.get("matchExpressions") or []:
        op = e.get("operator")
        if op in ("In", "NotIn"):
            parts.append(f"{e.get('key')} {op.lower()} ({','.join(e.get('values') or [])})")
        elif op == "Exists":
            parts.append(str(e.get("key")))
        else:
            parts.append(f"!{e.get('key')}")
    return ",".join(parts) or "<none>"


def _header(w: _W, obj: Obj, *, namespace: bool = True, created: bool = False) -> None:
    meta = obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    if namespace:
        w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if created:
        w.write(0, f"CreationTimestamp:\t{_ts(meta.get('creationTimestamp'))}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", _shown_annotations(meta.get("annotations")))


def _shown_annotations(ann: dict[str, str] | None) -> dict[str, str] | None:
    if not ann:
        return ann
    return {k: v for k, v in ann.items() if k != "kubectl.kubernetes.io/last-applied-configuration"}


def _ports(c: Obj) -> tuple[list[str], list[str]]:
    ports = c.get("ports") or []
    if not ports:
        return ["<none>"], ["<none>"]
    out, host = [], []
    for p in ports:
        proto = p.get("protocol") or "TCP"
        named = f" ({p['name']})" if p.get("name") else ""
        out.append(f"{p.get('containerPort')}/{proto}{named}")
        host.append(f"{p.get('hostPort', 0)}/{proto}{named}")
    return out, host


def _containers(w: _W, space: str, containers: list[Obj], statuses: dict[str, Obj] | None = None) -> None:
    """Containers at kubectl's levels: the name at level 1 (after `space`), details at level 2."""
    for c in containers:
        w.write(1, f"{space}{c.get('name')}:\n")
        inner = 2
        st = (statuses or {}).get(c.get("name", ""))
        if st and st.get("containerID"):
            w.write(inner, f"Container ID:\t{st['containerID']}\n")
        w.write(inner, f"Image:\t{c.get('image', '')}\n")
        if st is not None:
            w.write(inner, f"Image ID:\t{st.get('imageID', '')}\n")
        ports, host = _ports(c)
        w.write(inner, f"Port:\t{', '.join(ports)}\n")
        w.write(inner, f"Host Port:\t{', '.join(host)}\n")
        for title, key in (("Command", "command"), ("Args", "args")):
            if c.get(key):
                w.write(inner, f"{title}:\n")
                for part in c[key]:
                    for line in str(part).split("\n"):
                        w.write(inner + 1, f"{line}\n")
        if st is not None:
            state = st.get("state") or {}
            for name, detail in state.items():
                w.write(inner, f"State:\t{name.capitalize()}\n")
                if detail.get("startedAt"):
                    w.write(inner + 1, f"Started:\t{_ts(detail['startedAt'])}\n")
                if detail.get("reason"):
                    w.write(inner + 1, f"Reason:\t{detail['reason']}\n")
                if "exitCode" in detail:
                    w.write(inner + 1, f"Exit Code:\t{detail['exitCode']}\n")
            w.write(inner, f"Ready:\t{'True' if st.get('ready') else 'False'}\n")
            w.write(inner, f"Restart Count:\t{st.get('restartCount', 0)}\n")
        resources = c.get("resources") or {}
        for title in ("limits", "requests"):
            if resources.get(title):
                w.write(inner, f"{title.capitalize()}:\n")
                for k in sorted(resources[title]):
                    w.write(inner + 1, f"{k}:\t{resources[title][k]}\n")
        env = c.get("env") or []
        if env:
            w.write(inner, "Environment:\n")
            for e in env:
                value = e.get("value")
                if value is None and e.get("valueFrom"):
                    src = e["valueFrom"]
                    if "configMapKeyRef" in src:
                        ref = src["configMapKeyRef"]
                        value = f"<set to the key '{ref.get('key')}' of config map '{ref.get('name')}'>"
                    elif "secretKeyRef" in src:
                        ref = src["secretKeyRef"]
                        value = f"<set to the key '{ref.get('key')}' in secret '{ref.get('name')}'>"
                    elif "fieldRef" in src:
                        value = f" ({src['fieldRef'].get('apiVersion', 'v1')}:{src['fieldRef'].get('fieldPath')})"
                    else:
                        value = "<unknown source>"
                w.write(inner + 1, f"{e.get('name')}:\t{value if value is not None else ''}\n")
        else:
            w.write(inner, "Environment:\t<none>\n")
        mounts = c.get("volumeMounts") or []
        if mounts:
            w.write(inner, "Mounts:\n")
            for m in mounts:
                ro = "ro" if m.get("readOnly") else "rw"
                w.write(inner + 1, f"{m.get('mountPath')} from {m.get('name')} ({ro})\n")
        else:
            w.write(inner, "Mounts:\t<none>\n")


_VOLUME_TYPES: dict[str, tuple[str, list[tuple[str, str, str]]]] = {
    # source key: (Type line, [(title, field, shown when absent)])
    "persistentVolumeClaim": ("PersistentVolumeClaim (a reference to a PersistentVolumeClaim in the same namespace)",
                              [("ClaimName", "claimName", ""), ("ReadOnly", "readOnly", "false")]),
    "configMap": ("ConfigMap (a volume populated by a ConfigMap)",
                  [("Name", "name", ""), ("Optional", "optional", "false")]),
    "secret": ("Secret (a volume populated by a Secret)",
               [("SecretName", "secretName", ""), ("Optional", "optional", "false")]),
    "emptyDir": ("EmptyDir (a temporary directory that shares a pod's lifetime)",
                 [("Medium", "medium", ""), ("SizeLimit", "sizeLimit", "<unset>")]),
    "hostPath": ("HostPath (bare host directory volume)", [("Path", "path", ""), ("HostPathType", "type", "<none>")]),
}


def _volumes(w: _W, level: int, volumes: list[Obj], space: str = "") -> None:
    """Volumes as kubectl prints them: the name at level 1 (after `space`), the source at level 2."""
    if not volumes:
        w.write(level, "Volumes:\t<none>\n")
        return
    w.write(level, "Volumes:\n")
    for v in volumes:
        w.write(1, f"{space}{v.get('name')}:\n")
        kind = next((k for k in v if k != "name"), "")
        source = v.get(kind) or {}
        if kind in _VOLUME_TYPES:
            title, fields = _VOLUME_TYPES[kind]
            w.write(2, f"Type:\t{title}\n")
            for label, key, absent in fields:
                value = source.get(key, absent)
                w.write(2, f"{label}:\t{str(value).lower() if isinstance(value, bool) else value}\n")
        else:
            w.write(2, f"Type:\t{kind[:1].upper() + kind[1:] if kind else '<unknown>'}\n")


def _pod_template(w: _W, level: int, template: Obj) -> None:
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    _multiline(w, level, "Labels", meta.get("labels"))
    if meta.get("annotations"):
        _multiline(w, level, "Annotations", meta.get("annotations"))
    if spec.get("serviceAccountName"):
        w.write(level, f"Service Account:\t{spec['serviceAccountName']}\n")
    if spec.get("initContainers"):
        w.write(level, "Init Containers:\n")
        _containers(w, " ", spec["initContainers"])
    w.write(level, "Containers:\n")
    _containers(w, " ", spec.get("containers") or [])
    _volumes(w, level, spec.get("volumes") or [], " ")
    _multiline(w, level, "Node-Selectors", spec.get("nodeSelector"))
    _tolerations(w, level, spec.get("tolerations"))


def _tolerations(w: _W, level: int, tolerations: list[Obj] | None) -> None:
    if not tolerations:
        w.write(level, "Tolerations:\t<none>\n")
        return
    for i, t in enumerate(tolerations):
        text = str(t.get("key", ""))
        if t.get("value"):
            text += f"={t['value']}"
        if t.get("effect"):
            text += f":{t['effect']}"
        if t.get("operator") == "Exists" and not t.get("value"):
            text += " op=Exists" if t.get("key") or t.get("effect") else "op=Exists"
        if t.get("tolerationSeconds") is not None:
            text += f" for {t['tolerationSeconds']}s"
        w.write(level, ("Tolerations:\t" if i == 0 else "\t") + text + "\n")


# --- per kind --------------------------------------------------------------------------------

def _deployment(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    _header(w, obj, created=True)
    w.write(0, f"Selector:\t{_selector_text(spec.get('selector'))}\n")
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('updatedReplicas', 0)} updated | "
               f"{status.get('replicas', 0)} total | {status.get('availableReplicas', 0)} available | "
               f"{status.get('unavailableReplicas', 0)} unavailable\n")
    strategy = spec.get("strategy") or {}
    w.write(0, f"StrategyType:\t{strategy.get('type', 'RollingUpdate')}\n")
    w.write(0, f"MinReadySeconds:\t{spec.get('minReadySeconds', 0)}\n")
    ru = strategy.get("rollingUpdate")
    if ru is not None:
        w.write(0, f"RollingUpdateStrategy:\t{ru.get('maxUnavailable', '25%')} max unavailable, "
                   f"{ru.get('maxSurge', '25%')} max surge\n")
    w.write(0, "Pod Template:\n")
    _pod_template(w, 1, spec.get("template") or {})
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tReason\n  ----\t------\t------\n")
        for c in conditions:
            w.write(1, f"{c.get('type')}\t{c.get('status')}\t{c.get('reason', '')}\n")


def _replicaset(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"Selector:\t{_selector_text(spec.get('selector'))}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", _shown_annotations(meta.get("annotations")))
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    if owners:
        w.write(0, f"Controlled By:\t{owners[0].get('kind')}/{owners[0].get('name')}\n")
    w.write(0, f"Replicas:\t{status.get('replicas', 0)} current / {spec.get('replicas', 1)} desired\n")
    counts = _pod_phases(ctx, meta.get("namespace"), spec.get("selector"), meta.get("uid"))
    w.write(0, f"Pods Status:\t{counts['Running']} Running / {counts['Pending']} Waiting / "
               f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed\n")
    w.write(0, "Pod Template:\n")
    _pod_template(w, 1, spec.get("template") or {})


def _statefulset(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"CreationTimestamp:\t{_ts(meta.get('creationTimestamp'))}\n")
    w.write(0, f"Selector:\t{_selector_text(spec.get('selector'))}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", _shown_annotations(meta.get("annotations")))
    w.write(0, f"Replicas:\t{spec.get('replicas', 1)} desired | {status.get('replicas', 0)} total\n")
    strategy = spec.get("updateStrategy") or {}
    w.write(0, f"Update Strategy:\t{strategy.get('type', 'RollingUpdate')}\n")
    if strategy.get("type", "RollingUpdate") == "RollingUpdate":
        w.write(1, f"Partition:\t{(strategy.get('rollingUpdate') or {}).get('partition', 0)}\n")
    counts = _pod_phases(ctx, meta.get("namespace"), spec.get("selector"), meta.get("uid"))
    w.write(0, f"Pods Status:\t{counts['Running']} Running / {counts['Pending']} Waiting / "
               f"{counts['Succeeded']} Succeeded / {counts['Failed']} Failed\n")
    w.write(0, "Pod Template:\n")
    _pod_template(w, 1, spec.get("template") or {})
    claims = spec.get("volumeClaimTemplates") or []
    if not claims:
        w.write(0, "Volume Claims:\t<none>\n")
    else:
        w.write(0, "Volume Claims:\n")
        for c in claims:
            cspec = c.get("spec") or {}
            w.write(1, f"Name:\t{(c.get('metadata') or {}).get('name', '')}\n")
            w.write(1, f"StorageClass:\t{cspec.get('storageClassName', '')}\n")
            _multiline(w, 1, "Labels", (c.get("metadata") or {}).get("labels"))
            _multiline(w, 1, "Annotations", (c.get("metadata") or {}).get("annotations"))
            storage = ((cspec.get("resources") or {}).get("requests") or {}).get("storage", "")
            w.write(1, f"Capacity:\t{storage}\n")
            w.write(1, f"Access Modes:\t{_access_modes(cspec.get('accessModes'))}\n")


def _pod_phases(ctx: Context, namespace: str | None, selector: Obj | None, owner_uid: str | None) -> dict[str, int]:
    counts = {"Running": 0, "Pending": 0, "Succeeded": 0, "Failed": 0}
    if not namespace or not selector:
        return counts
    text = _selector_text(selector)
    try:
        pods = ctx.client.get(f"/api/v1/namespaces/{namespace}/pods", labelSelector=text).get("items") or []
    except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
        raise
    except ApiError:
        return counts
    for p in pods:
        owners = (p.get("metadata") or {}).get("ownerReferences") or []
        if owner_uid and not any(o.get("uid") == owner_uid for o in owners):
            continue
        phase = (p.get("status") or {}).get("phase", "Pending")
        counts[phase] = counts.get(phase, 0) + 1
    return counts


def _access_modes(modes: list[str] | None) -> str:
    short = {"ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX", "ReadWriteOncePod": "RWOP"}
    return ",".join(short.get(m, m) for m in modes or [])


def _pod(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    if spec.get("priority") is not None:
        w.write(0, f"Priority:\t{spec['priority']}\n")
    if spec.get("serviceAccountName"):
        w.write(0, f"Service Account:\t{spec['serviceAccountName']}\n")
    node = spec.get("nodeName")
    w.write(0, f"Node:\t{node + '/' + status.get('hostIP', '') if node else '<none>'}\n")
    if status.get("startTime"):
        w.write(0, f"Start Time:\t{_ts(status['startTime'])}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", _shown_annotations(meta.get("annotations")))
    if meta.get("deletionTimestamp"):
        w.write(0, f"Status:\tTerminating (lasts {meta.get('deletionGracePeriodSeconds', 0)}s)\n")
    else:
        w.write(0, f"Status:\t{status.get('phase', 'Pending')}\n")
    if status.get("reason"):
        w.write(0, f"Reason:\t{status['reason']}\n")
    w.write(0, f"IP:\t{status.get('podIP', '')}\n")
    ips = status.get("podIPs") or []
    if ips:
        w.write(0, "IPs:\n")
        for ip in ips:
            w.write(0, f"  IP:\t{ip.get('ip')}\n")
    else:
        w.write(0, "IPs:\t<none>\n")
    owners = meta.get("ownerReferences") or []
    if owners:
        w.write(0, f"Controlled By:\t{owners[0].get('kind')}/{owners[0].get('name')}\n")
    statuses = {s.get("name", ""): s for s in status.get("containerStatuses") or []} or None
    if spec.get("initContainers"):
        w.write(0, "Init Containers:\n")
        _containers(w, "", spec["initContainers"])
    w.write(0, "Containers:\n")
    _containers(w, "", spec.get("containers") or [], statuses)
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\n")
        for c in conditions:
            w.write(1, f"{c.get('type')} \t{c.get('status')} \n")
    _volumes(w, 0, spec.get("volumes") or [])
    w.write(0, f"QoS Class:\t{status.get('qosClass') or _qos(spec)}\n")
    _multiline(w, 0, "Node-Selectors", spec.get("nodeSelector"))
    _tolerations(w, 0, spec.get("tolerations"))


def _qos(spec: Obj) -> str:
    reqs = [((c.get("resources") or {}).get("requests") or {}, (c.get("resources") or {}).get("limits") or {})
            for c in spec.get("containers") or []]
    if not any(r or lim for r, lim in reqs):
        return "BestEffort"
    if all(lim.get("cpu") and lim.get("memory") and (not r or r == lim) for r, lim in reqs):
        return "Guaranteed"
    return "Burstable"


def _service(ctx: Context, obj: Obj, w: _W) -> None:
    spec = obj.get("spec") or {}
    meta = obj.get("metadata") or {}
    _header(w, obj)
    w.write(0, f"Selector:\t{','.join(f'{k}={v}' for k, v in sorted((spec.get('selector') or {}).items())) or '<none>'}\n")
    w.write(0, f"Type:\t{spec.get('type', 'ClusterIP')}\n")
    if spec.get("ipFamilyPolicy"):
        w.write(0, f"IP Family Policy:\t{spec['ipFamilyPolicy']}\n")
    families = spec.get("ipFamilies") or []
    w.write(0, f"IP Families:\t{','.join(families) or '<none>'}\n")
    w.write(0, f"IP:\t{spec.get('clusterIP') or ''}\n")
    ips = spec.get("clusterIPs") or []
    w.write(0, f"IPs:\t{','.join(ips) or '<none>'}\n")
    if spec.get("externalName"):
        w.write(0, f"External Name:\t{spec['externalName']}\n")
    endpoints: Obj = {}
    if spec.get("type") != "ExternalName":
        try:
            endpoints = ctx.client.get(f"/api/v1/namespaces/{meta.get('namespace')}/endpoints/{meta.get('name')}")
        except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
            raise
        except ApiError:
            endpoints = {}
    for p in spec.get("ports") or []:
        name = p.get("name") or "<unset>"
        proto = p.get("protocol") or "TCP"
        w.write(0, f"Port:\t{name}  {p.get('port')}/{proto}\n")
        target = p.get("targetPort", p.get("port"))
        w.write(0, f"TargetPort:\t{target}/{proto}\n")
        if p.get("nodePort"):
            w.write(0, f"NodePort:\t{name}  {p['nodePort']}/{proto}\n")
        addrs = []
        for subset in endpoints.get("subsets") or []:
            for ep_port in subset.get("ports") or []:
                if ep_port.get("name", "") == p.get("name", "") or len(spec.get("ports") or []) == 1:
                    addrs += [f"{a.get('ip')}:{ep_port.get('port')}" for a in subset.get("addresses") or []]
        w.write(0, f"Endpoints:\t{','.join(addrs) or '<none>'}\n")
    w.write(0, f"Session Affinity:\t{spec.get('sessionAffinity', 'None')}\n")
    if spec.get("externalTrafficPolicy"):
        w.write(0, f"External Traffic Policy:\t{spec['externalTrafficPolicy']}\n")
    if spec.get("type") != "ExternalName":
        w.write(0, f"Internal Traffic Policy:\t{spec.get('internalTrafficPolicy', 'Cluster')}\n")


def _configmap(ctx: Context, obj: Obj, w: _W) -> None:
    _header(w, obj)
    w.write(0, "\nData\n====\n")
    for k in sorted(obj.get("data") or {}):
        w.write(0, f"{k}:\n----\n{obj['data'][k]}\n\n")
    w.write(0, "\nBinaryData\n====\n")
    for k in sorted(obj.get("binaryData") or {}):
        w.write(0, f"{k}: {len(obj['binaryData'][k]) * 3 // 4} bytes\n")
    w.write(0, "\n")


def _secret(ctx: Context, obj: Obj, w: _W) -> None:
    _header(w, obj)
    w.write(0, f"\nType:\t{obj.get('type', 'Opaque')}\n\nData\n====\n")
    w.no_events = True
    import base64

    for k in sorted(obj.get("data") or {}):
        try:
            size = len(base64.b64decode(obj["data"][k]))
        except ValueError:
            size = 0
        w.write(0, f"{k}:\t{size} bytes\n")


def _namespace(ctx: Context, obj: Obj, w: _W) -> None:
    _header(w, obj, namespace=False)
    w.write(0, f"Status:\t{(obj.get('status') or {}).get('phase', 'Active')}\n")
    # resource quotas and limit ranges do not exist in minikube-py: kubectl prints nothing for them,
    # and no events for a namespace
    w.no_events = True


def _node(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    name = meta.get("name", "")
    w.write(0, f"Name:\t{name}\n")
    roles = sorted(k.split("/", 1)[1] for k in meta.get("labels") or {} if k.startswith("node-role.kubernetes.io/"))
    w.write(0, f"Roles:\t{','.join(roles) or '<none>'}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", meta.get("annotations"))
    w.write(0, f"CreationTimestamp:\t{_ts(meta.get('creationTimestamp'))}\n")
    taints = spec.get("taints") or []
    if taints:
        for i, t in enumerate(taints):
            text = f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
            w.write(0, ("Taints:\t" if i == 0 else "\t") + text + "\n")
    else:
        w.write(0, "Taints:\t<none>\n")
    w.write(0, f"Unschedulable:\t{'true' if spec.get('unschedulable') else 'false'}\n")
    try:
        lease = ctx.client.get(f"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/{name}")
        lspec = lease.get("spec") or {}
        w.write(0, "Lease:\n")
        w.write(1, f"HolderIdentity:\t{lspec.get('holderIdentity') or '<unset>'}\n")
        w.write(1, f"AcquireTime:\t{_ts(lspec.get('acquireTime'))}\n")
        w.write(1, f"RenewTime:\t{_ts(lspec.get('renewTime'))}\n")
    except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
        raise
    except ApiError as exc:
        w.write(0, f"Lease:\tFailed to get lease: {exc.status().get('message', exc)}\n")
    conditions = status.get("conditions") or []
    if conditions:
        w.write(0, "Conditions:\n  Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n"
                   "  ----\t------\t-----------------\t------------------\t------\t-------\n")
        for c in conditions:
            w.write(1, f"{c.get('type')} \t{c.get('status')} \t{_ts(c.get('lastHeartbeatTime'))} \t"
                       f"{_ts(c.get('lastTransitionTime'))} \t{c.get('reason', '')} \t{c.get('message', '')}\n")
    addresses = status.get("addresses") or []
    if addresses:
        w.write(0, "Addresses:\n")
        for a in addresses:
            w.write(1, f"{a.get('type')}:\t{a.get('address')}\n")
    for title in ("capacity", "allocatable"):
        values = status.get(title) or {}
        if values:
            w.write(0, f"{title.capitalize()}:\n")
            for k in sorted(values):
                w.write(1, f"{k}:\t{values[k]}\n")
    info = status.get("nodeInfo") or {}
    w.write(0, "System Info:\n")
    for title, key in (("Machine ID", "machineID"), ("System UUID", "systemUUID"), ("Boot ID", "bootID"),
                       ("Kernel Version", "kernelVersion"), ("OS Image", "osImage"),
                       ("Operating System", "operatingSystem"), ("Architecture", "architecture"),
                       ("Container Runtime Version", "containerRuntimeVersion"),
                       ("Kubelet Version", "kubeletVersion"), ("Kube-Proxy Version", "kubeProxyVersion")):
        w.write(1, f"{title}:\t{info.get(key, '')}\n")
    if spec.get("podCIDR"):
        w.write(0, f"PodCIDR:\t{spec['podCIDR']}\n")
    if spec.get("podCIDRs"):
        w.write(0, f"PodCIDRs:\t{','.join(spec['podCIDRs'])}\n")
    if spec.get("providerID"):
        w.write(0, f"ProviderID:\t{spec['providerID']}\n")
    _node_pods(ctx, name, status.get("allocatable") or {}, w)


def _node_pods(ctx: Context, node: str, allocatable: dict[str, str], w: _W) -> None:
    """`Non-terminated Pods` and `Allocated resources`: requests and limits against allocatable."""
    try:
        pods = ctx.client.get("/api/v1/pods", fieldSelector=f"spec.nodeName={node},status.phase!=Succeeded,"
                                                            "status.phase!=Failed").get("items") or []
    except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
        raise
    except ApiError:
        pods = []

    def of(resource: str, value: Any) -> int:
        return amount(value, cpu=resource == "cpu")

    def text(resource: str, n: int) -> str:
        if resource == "cpu":
            return f"{n // 1000}" if n % 1000 == 0 else f"{n}m"
        for suffix, size in (("Gi", 2**30), ("Mi", 2**20), ("Ki", 2**10)):
            if n and n % size == 0:
                return f"{n // size}{suffix}"
        return str(n)

    def percent(resource: str, n: int) -> int:
        total = of(resource, allocatable.get(resource, 0))
        return int(n * 100 / total) if total else 0

    names = ("cpu", "memory", "ephemeral-storage")
    totals = {(r, kind): 0 for r in names for kind in ("requests", "limits")}
    now = datetime.now(UTC)
    w.write(0, f"Non-terminated Pods:\t({len(pods)} in total)\n")
    w.write(1, "Namespace\tName\t\tCPU Requests\tCPU Limits\tMemory Requests\tMemory Limits\tAge\n")
    w.write(1, "---------\t----\t\t------------\t----------\t---------------\t-------------\t---\n")
    for p in pods:
        per = {(r, kind): 0 for r in names for kind in ("requests", "limits")}
        for c in (p.get("spec") or {}).get("containers") or []:
            res = c.get("resources") or {}
            for kind in ("requests", "limits"):
                for r in names:
                    if r in (res.get(kind) or {}):
                        per[(r, kind)] += of(r, res[kind][r])
        for key, v in per.items():
            totals[key] += v
        cells = [f"{text(r, per[(r, kind)])} ({percent(r, per[(r, kind)])}%)"
                 for r in ("cpu", "memory") for kind in ("requests", "limits")]
        meta = p.get("metadata") or {}
        w.write(1, f"{meta.get('namespace')}\t{meta.get('name')}\t\t" + "\t".join(cells)
                + f"\t{age(meta.get('creationTimestamp'), now)}\n")
    w.write(0, "Allocated resources:\n  (Total limits may be over 100 percent, i.e., overcommitted.)\n")
    w.write(1, "Resource\tRequests\tLimits\n")
    w.write(1, "--------\t--------\t------\n")
    for r in names:
        req, lim = totals[(r, "requests")], totals[(r, "limits")]
        w.write(1, f"{r}\t{text(r, req)} ({percent(r, req)}%)\t{text(r, lim)} ({percent(r, lim)}%)\n")


def _endpoints(ctx: Context, obj: Obj, w: _W) -> None:
    _header(w, obj)
    w.write(0, "Subsets:\n")
    for subset in obj.get("subsets") or []:
        ready = ",".join(a.get("ip", "") for a in subset.get("addresses") or [])
        not_ready = ",".join(a.get("ip", "") for a in subset.get("notReadyAddresses") or [])
        w.write(1, f"Addresses:\t{ready or '<none>'}\n")
        w.write(1, f"NotReadyAddresses:\t{not_ready or '<none>'}\n")
        ports = subset.get("ports") or []
        if ports:
            w.write(1, "Ports:\n")
            w.write(2, "Name\tPort\tProtocol\n")
            w.write(2, "----\t----\t--------\n")
            for port in ports:
                w.write(2, f"{port.get('name') or '<unset>'}\t{port.get('port')}\t{port.get('protocol', '')}\n")
        w.write(0, "\n")


def _pvc(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    w.write(0, f"Namespace:\t{meta.get('namespace', '')}\n")
    w.write(0, f"StorageClass:\t{spec.get('storageClassName', '')}\n")
    if meta.get("deletionTimestamp"):
        w.write(0, f"Status:\tTerminating (lasts {age(meta['deletionTimestamp'], datetime.now(UTC))})\n")
    else:
        w.write(0, f"Status:\t{status.get('phase', 'Pending')}\n")
    w.write(0, f"Volume:\t{spec.get('volumeName', '')}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", meta.get("annotations"))
    w.write(0, f"Finalizers:\t[{' '.join(meta.get('finalizers') or [])}]\n")
    w.write(0, f"Capacity:\t{(status.get('capacity') or {}).get('storage', '')}\n")
    w.write(0, f"Access Modes:\t{_access_modes(status.get('accessModes'))}\n")
    w.write(0, f"VolumeMode:\t{spec.get('volumeMode', 'Filesystem')}\n")
    users: list[str] = []
    try:
        pods = ctx.client.get(f"/api/v1/namespaces/{meta.get('namespace')}/pods").get("items") or []
        users = [p["metadata"]["name"] for p in pods
                 if any((v.get("persistentVolumeClaim") or {}).get("claimName") == meta.get("name")
                        for v in (p.get("spec") or {}).get("volumes") or [])]
    except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
        raise
    except ApiError:
        pass
    w.write(0, f"Used By:\t{users[0] if users else '<none>'}\n")
    for u in users[1:]:
        w.write(0, f"\t{u}\n")


def _pv(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    _multiline(w, 0, "Annotations", meta.get("annotations"))
    w.write(0, f"Finalizers:\t[{' '.join(meta.get('finalizers') or [])}]\n")
    w.write(0, f"StorageClass:\t{spec.get('storageClassName', '')}\n")
    w.write(0, f"Status:\t{status.get('phase', 'Pending')}\n")
    ref = spec.get("claimRef") or {}
    w.write(0, f"Claim:\t{ref.get('namespace', '') + '/' + ref.get('name', '') if ref else ''}\n")
    w.write(0, f"Reclaim Policy:\t{spec.get('persistentVolumeReclaimPolicy', 'Retain')}\n")
    w.write(0, f"Access Modes:\t{_access_modes(spec.get('accessModes'))}\n")
    w.write(0, f"VolumeMode:\t{spec.get('volumeMode', 'Filesystem')}\n")
    w.write(0, f"Capacity:\t{(spec.get('capacity') or {}).get('storage', '')}\n")
    affinity = ((spec.get("nodeAffinity") or {}).get("required") or {}).get("nodeSelectorTerms") or []
    if not affinity:
        w.write(0, "Node Affinity:\t<none>\n")
    else:
        w.write(0, "Node Affinity:\n")
        w.write(1, "Required Terms:\n")
        for term in affinity:
            exprs = [f"{e.get('key')} {e.get('operator')} [{' '.join(e.get('values') or [])}]"
                     for e in term.get("matchExpressions") or []]
            w.write(2, f"Term {affinity.index(term)}:\t{', '.join(exprs)}\n")
    w.write(0, f"Message:\t{status.get('message', '')}\n")
    w.write(0, "Source:\n")
    if "hostPath" in spec:
        hp = spec["hostPath"] or {}
        w.write(2, "Type:\tHostPath (bare host directory volume)\n")
        w.write(2, f"Path:\t{hp.get('path', '')}\n")
        hp_type = hp.get("type")  # kubectl: <none> only when the field is absent; "" prints as is
        w.write(2, f"HostPathType:\t{'<none>' if hp_type is None else hp_type}\n")
    elif "local" in spec:
        w.write(2, "Type:\tLocalVolume (a persistent volume backed by local storage on a node)\n")
        w.write(2, f"Path:\t{(spec['local'] or {}).get('path', '')}\n")
    else:
        kinds = [k for k in spec if k not in ("capacity", "accessModes", "claimRef", "persistentVolumeReclaimPolicy",
                                             "storageClassName", "volumeMode", "nodeAffinity", "mountOptions")]
        w.write(2, f"Type:\t{kinds[0] if kinds else '<unknown>'}\n")


def _ingress(ctx: Context, obj: Obj, w: _W) -> None:
    spec, status, meta = obj.get("spec") or {}, obj.get("status") or {}, obj.get("metadata") or {}
    ns = meta.get("namespace", "")
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    _multiline(w, 0, "Labels", meta.get("labels"))
    w.write(0, f"Namespace:\t{ns}\n")
    lb = ",".join(i.get("ip") or i.get("hostname", "") for i in (status.get("loadBalancer") or {}).get("ingress") or [])
    w.write(0, f"Address:\t{lb}\n")
    w.write(0, f"Ingress Class:\t{spec.get('ingressClassName') or '<none>'}\n")

    def backend_text(backend: Obj | None) -> str:
        svc = (backend or {}).get("service") or {}
        port = svc.get("port") or {}
        port_text = port.get("number") or port.get("name") or ""
        addrs: list[str] = []
        try:
            ep = ctx.client.get(f"/api/v1/namespaces/{ns}/endpoints/{svc.get('name')}")
            for subset in ep.get("subsets") or []:
                for p in subset.get("ports") or []:
                    addrs += [f"{a.get('ip')}:{p.get('port')}" for a in subset.get("addresses") or []]
            where = ",".join(addrs) or "<none>"
        except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
            raise
        except ApiError as exc:
            where = f"<error: {exc.status().get('message', exc)}>"
        return f"{svc.get('name')}:{port_text} ({where})"

    default = spec.get("defaultBackend")
    w.write(0, f"Default backend:\t{backend_text(default) if default else '<default>'}\n")
    tls = spec.get("tls") or []
    if tls:
        w.write(0, "TLS:\n")
        for t in tls:
            w.write(1, f"{t.get('secretName', '')} terminates {','.join(t.get('hosts') or [])}\n")
    w.write(0, "Rules:\n  Host\tPath\tBackends\n  ----\t----\t--------\n")
    for rule in spec.get("rules") or []:
        w.write(1, f"{rule.get('host') or '*'}\t\n")
        for path in ((rule.get("http") or {}).get("paths") or []):
            w.write(1, f"\t{path.get('path', '')} \t{backend_text(path.get('backend'))}\n")
    _multiline(w, 0, "Annotations", meta.get("annotations"))


def _storageclass(ctx: Context, obj: Obj, w: _W) -> None:
    meta = obj.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    w.write(0, f"Name:\t{meta.get('name', '')}\n")
    default = annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
    w.write(0, f"IsDefaultClass:\t{'Yes' if default else 'No'}\n")
    if annotations:
        for i, k in enumerate(sorted(annotations)):
            w.write(0, ("Annotations:\t" if i == 0 else "\t") + f"{k}={annotations[k]}\n")
    else:
        w.write(0, "Annotations:\t<none>\n")
    w.write(0, f"Provisioner:\t{obj.get('provisioner', '')}\n")
    params = obj.get("parameters") or {}
    w.write(0, f"Parameters:\t{','.join(f'{k}={v}' for k, v in sorted(params.items())) or '<none>'}\n")
    expansion = obj.get("allowVolumeExpansion")
    w.write(0, f"AllowVolumeExpansion:\t{'<unset>' if expansion is None else str(bool(expansion))}\n")
    options = obj.get("mountOptions") or []
    if options:
        w.write(0, "MountOptions:\n")
        for o in options:
            w.write(1, f"{o}\n")
    else:
        w.write(0, "MountOptions:\t<none>\n")
    w.write(0, f"ReclaimPolicy:\t{obj.get('reclaimPolicy', 'Delete')}\n")
    w.write(0, f"VolumeBindingMode:\t{obj.get('volumeBindingMode', 'Immediate')}\n")


def _words(key: str) -> str:
    """kubectl's generic describer: `creationTimestamp` -> `Creation Timestamp`, `uid` -> `UID`."""
    if key.lower() in ("uid", "ip", "url", "api"):
        return key.upper()
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", key)
    return spaced[:1].upper() + spaced[1:]


def _generic_value(w: _W, level: int, key: str, value: Any) -> None:
    if isinstance(value, dict):
        w.write(level, f"{_words(key)}:\n")
        for k in sorted(value):
            _generic_value(w, level + 1, k, value[k])
    elif isinstance(value, list):
        w.write(level, f"{_words(key)}:\n")
        for item in value:
            if isinstance(item, dict):
                first = True
                for k in sorted(item):
                    prefix = "  " * (level + 1)
                    if isinstance(item[k], dict | list):
                        _generic_value(w, level + 2, k, item[k])
                    else:
                        w.parts.append(f"{prefix}{'- ' if first else '  '}{_words(k)}:\t{item[k]}\n")
                    first = False
            else:
                w.write(level + 1, f"{item}\n")
    else:
        w.write(level, f"{_words(key)}:\t{value}\n")


def _generic(ctx: Context, obj: Obj, w: _W) -> None:
    """kubectl's generic describer: the header, then every field but the header's, as words."""
    meta = obj.get("metadata") or {}
    _header(w, obj, namespace=bool(meta.get("namespace")))
    w.write(0, f"API Version:\t{obj.get('apiVersion', '')}\n")
    w.write(0, f"Kind:\t{obj.get('kind', '')}\n")
    rest_meta = {k: v for k, v in meta.items() if k not in ("name", "namespace", "labels", "annotations")}
    if rest_meta:
        _generic_value(w, 0, "metadata", rest_meta)
    for k in sorted(obj):
        if k in ("apiVersion", "kind", "metadata"):
            continue
        _generic_value(w, 0, k, obj[k])


DESCRIBERS = {"Deployment": _deployment, "ReplicaSet": _replicaset, "StatefulSet": _statefulset, "Pod": _pod,
              "Service": _service, "ConfigMap": _configmap, "Secret": _secret, "Namespace": _namespace,
              "Node": _node, "Endpoints": _endpoints, "PersistentVolumeClaim": _pvc, "PersistentVolume": _pv,
              "Ingress": _ingress, "StorageClass": _storageclass}


def _events(ctx: Context, obj: Obj, w: _W) -> None:
    meta = obj.get("metadata") or {}
    selector = [f"involvedObject.name={meta.get('name')}", f"involvedObject.kind={obj.get('kind')}"]
    if meta.get("uid"):
        selector.append(f"involvedObject.uid={meta['uid']}")
    try:
        events = ctx.client.get(f"/api/v1/namespaces/{meta.get('namespace') or 'default'}/events"
                                if meta.get("namespace") else "/api/v1/events",
                                fieldSelector=",".join(selector)).get("items") or []
    except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
        raise
    except ApiError:
        events = []
    if not events:
        w.write(0, "Events:\t<none>\n")
        return
    events.sort(key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n  ----\t------\t----\t----\t-------\n")
    now = datetime.now(UTC)
    for e in events:
        first = e.get("firstTimestamp") or e.get("eventTime")
        last = e.get("lastTimestamp") or first
        seen = age(last, now)
        count = int(e.get("count") or 1)
        if count > 1 and first:
            seen = f"{seen} (x{count} over {age(first, now)})"
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{seen}\t{source}\t"
                   f"{str(e.get('message', '')).strip()}\n")


def describe_text(ctx: Context, obj: Obj, show_events: bool = True) -> str:
    w = _W()
    DESCRIBERS.get(str(obj.get("kind")), _generic)(ctx, obj, w)
    if show_events and not w.no_events:
        _events(ctx, obj, w)
    return w.text()


def cmd_describe(ctx: Context, args: argparse.Namespace) -> int:
    objects: list[Obj] = []
    by_prefix: set[int] = set()  # kubectl ends each description found by a name prefix with a blank line
    if args.filename:
        for m in read_manifests(args.filename, args.recursive):
            res, ns, name = manifest_target(ctx, m)
            objects.append(get_object(ctx, res, ns, name))
    else:
        for t in targets_from_args(ctx, args.args, verb="describe"):
            ns = (None if args.all_namespaces else ctx.namespace) if t.resource.namespaced else None
            if not t.names:
                items, _ = list_objects(ctx, t.resource, ns, selector=args.selector)
                objects.extend(items)
                continue
            for name in t.names:
                found, prefix = _by_name_or_prefix(ctx, t.resource, ns, name)
                if prefix:
                    by_prefix.update(id(o) for o in found)
                objects.extend(found)
    if not objects and not ctx.errors:
        ns_text = "" if args.all_namespaces else f" in {ctx.namespace} namespace"
        print(f"No resources found{ns_text}.", file=sys.stderr)
    first = True
    for o in objects:
        text = describe_text(ctx, o, args.show_events == "true")
        if id(o) in by_prefix:
            sys.stdout.write(text + "\n")
        else:
            sys.stdout.write(text if first else "\n\n" + text)
            first = False
    return 0


def _by_name_or_prefix(ctx: Context, res: Resource, ns: str | None, name: str) -> tuple[list[Obj], bool]:
    """kubectl describes the object of that name, or else every object whose name starts with it."""
    try:
        return [get_object(ctx, res, ns, name)], False
    except Unreachable:  # no answer at all: kubectl's own error, not "<none>"
        raise
    except ApiError as exc:
        if not isinstance(exc, NotFound):
            raise
        items, _ = list_objects(ctx, res, ns)
        found = [o for o in items if str(o["metadata"].get("name", "")).startswith(name)]
        if not found:
            ctx.error(server_error(exc))
        return found, True
