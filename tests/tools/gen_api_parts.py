"""Writes minikube_py/api/parts.py: typed models of the Kubernetes 1.35 structs that the hand-written
models (pod.py, core.py, apps.py, ...) hold but do not model themselves (securityContext, lifecycle,
affinity terms, volume sources, statuses ...), from tests/data/k8s-1.35-fields.txt.

Every field is typed as 1.35 types it (strings, booleans, int32/int64 with their ranges, quantities,
lists, maps, nested structs), so unknown fields inside them are rejected under Strict and dropped
with a warning otherwise, as everywhere else.  Run it again (and commit) after regenerating the data:

    python -m tests.tools.gen_api_parts
"""

from __future__ import annotations

import keyword
import re
from collections import defaultdict
from pathlib import Path

from pydantic import BaseModel
from pydantic.alias_generators import to_camel

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "k8s-1.35-fields.txt"
OUT = ROOT / "minikube_py" / "api" / "parts.py"
# the definitions the hand-written models hold as parts (each pulls in the ones it reaches)
ENTRIES = (
    "apps.v1.RollingUpdateStatefulSetStrategy", "apps.v1.StatefulSetOrdinals",
    "apps.v1.StatefulSetPersistentVolumeClaimRetentionPolicy", "core.v1.AWSElasticBlockStoreVolumeSource",
    "core.v1.AttachedVolume", "core.v1.AzureDiskVolumeSource", "core.v1.AzureFilePersistentVolumeSource",
    "core.v1.AzureFileVolumeSource", "core.v1.CSIPersistentVolumeSource", "core.v1.CSIVolumeSource",
    "core.v1.CephFSPersistentVolumeSource", "core.v1.CephFSVolumeSource", "core.v1.CinderPersistentVolumeSource",
    "core.v1.CinderVolumeSource", "core.v1.ContainerImage", "core.v1.ContainerResizePolicy",
    "core.v1.ContainerRestartRule", "core.v1.ContainerState", "core.v1.ContainerUser",
    "core.v1.DownwardAPIVolumeSource", "core.v1.EphemeralVolumeSource",
    "core.v1.EventSeries", "core.v1.EventSource", "core.v1.FCVolumeSource", "core.v1.FileKeySelector",
    "core.v1.FlexPersistentVolumeSource", "core.v1.FlexVolumeSource", "core.v1.FlockerVolumeSource",
    "core.v1.GCEPersistentDiskVolumeSource", "core.v1.GitRepoVolumeSource", "core.v1.GlusterfsPersistentVolumeSource",
    "core.v1.GlusterfsVolumeSource", "core.v1.HostAlias",
    "core.v1.ISCSIPersistentVolumeSource", "core.v1.ISCSIVolumeSource", "core.v1.ImageVolumeSource",
    "core.v1.Lifecycle", "core.v1.LocalVolumeSource", "core.v1.NFSVolumeSource", "core.v1.NamespaceCondition",
    "core.v1.NodeConfigSource", "core.v1.NodeConfigStatus", "core.v1.NodeDaemonEndpoints", "core.v1.NodeFeatures",
    "core.v1.NodeRuntimeHandler", "core.v1.NodeSystemInfo", "core.v1.ObjectReference",
    "core.v1.PersistentVolumeClaimStatus", "core.v1.PersistentVolumeStatus", "core.v1.PhotonPersistentDiskVolumeSource",
    "core.v1.PodAffinity", "core.v1.PodAntiAffinity", "core.v1.PodDNSConfig", "core.v1.PodExtendedResourceClaimStatus",
    "core.v1.PodOS", "core.v1.PodReadinessGate", "core.v1.PodResourceClaim", "core.v1.PodResourceClaimStatus",
    "core.v1.PodSchedulingGate", "core.v1.PodSecurityContext", "core.v1.PortworxVolumeSource",
    "core.v1.ProjectedVolumeSource", "core.v1.QuobyteVolumeSource", "core.v1.RBDPersistentVolumeSource",
    "core.v1.RBDVolumeSource", "core.v1.ResourceClaim", "core.v1.ResourceStatus", "core.v1.ScaleIOPersistentVolumeSource",
    "core.v1.ScaleIOVolumeSource", "core.v1.SecurityContext", "core.v1.ServiceStatus", "core.v1.SessionAffinityConfig",
    "core.v1.StorageOSPersistentVolumeSource", "core.v1.StorageOSVolumeSource", "core.v1.TopologySelectorTerm",
    "core.v1.TopologySpreadConstraint", "core.v1.TypedLocalObjectReference", "core.v1.TypedObjectReference",
    "core.v1.VolumeDevice", "core.v1.VolumeMountStatus", "core.v1.VolumeNodeAffinity",
    "core.v1.VolumeResourceRequirements", "core.v1.VsphereVirtualDiskVolumeSource", "core.v1.WorkloadReference",
    "events.v1.EventSeries", "networking.v1.IngressClassParametersReference", "networking.v1.IngressStatus",
)
# definitions modelled by hand in meta.py and structs.py, which parts.py imports (pod.py, core.py, ...
# import parts.py; EphemeralContainer is pod.py's Container with a target, so it is not generated)
HAND_META = {"meta.v1.LabelSelector": "LabelSelector", "meta.v1.ObjectMeta": "ObjectMeta"}
HAND_STRUCTS = {f"core.v1.{n}": n for n in (
    "ExecAction", "HTTPGetAction", "HTTPHeader", "HostPathVolumeSource", "KeyToPath", "LocalObjectReference",
    "NodeSelector", "NodeSelectorRequirement", "NodeSelectorTerm", "ObjectFieldSelector", "ResourceFieldSelector",
    "TCPSocketAction")}
HAND = {**HAND_META, **HAND_STRUCTS}
LEAVES = {"string": "str", "boolean": "bool", "number": "float", "int32": "Int32", "int64": "Int64",
          "int-or-string": "IntOrString", "quantity": "Quantity", "any": "Any", "map-any": "dict[str, Any]"}
# list fields a strategic merge patch merges by key (kube's x-kubernetes-patch-merge-key)
MERGE_KEYS = {("core.v1.ServiceStatus", "conditions"): "type",
              ("core.v1.PersistentVolumeClaimStatus", "conditions"): "type"}


def read() -> dict[str, dict[str, tuple[str, str]]]:
    fields: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for line in DATA.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "field":
            fields[parts[1]][parts[2]] = (parts[3], parts[4])
    return fields


def class_names(defs: list[str]) -> dict[str, str]:
    last: dict[str, list[str]] = defaultdict(list)
    for d in defs:
        last[d.rsplit(".", 1)[-1]].append(d)
    out = {}
    for name, owners in last.items():
        for d in owners:
            group = d.split(".")[0]
            out[d] = name if len(owners) == 1 or group == "core" else group.capitalize() + name
    return out


def snake(name: str) -> str:
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()
    if keyword.iskeyword(s) or hasattr(BaseModel, s):
        s += "_"
    return s


def _import_line(module: str, names: list[str]) -> str:
    line = f"from {module} import {', '.join(names)}"
    if len(line) <= 110:
        return line
    return f"from {module} import (\n" + "".join(f"    {n},\n" for n in names) + ")"


def render() -> str:
    """The text of parts.py for the committed data."""
    fields = read()
    order: list[str] = []
    seen: set[str] = set()

    def visit(d: str) -> None:
        if d in seen or d in HAND:
            return
        seen.add(d)
        for _shape, leaf in fields[d].values():
            if leaf in fields:
                visit(leaf)
        order.append(d)

    for entry in ENTRIES:
        visit(entry)
    names = {**class_names(order), **HAND}
    out = [
        '"""Typed parts of the Kubernetes 1.35 API that the hand-written models hold (generated; do not edit).',
        "",
        "Written by tests/tools/gen_api_parts.py from tests/data/k8s-1.35-fields.txt: one model per struct,",
        "each field typed as 1.35 types it, so unknown fields and out-of-range integers inside them are",
        "refused as everywhere else.  The hand-written kinds (pod.py, core.py, apps.py, ...) import them.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "from typing import Any",
        "",
        "from pydantic import Field",
        "",
        "from .meta import IMPORTS",
        "from .structs import STRUCTS",
    ]
    for d in order:
        out += ["", "", f"class {names[d]}(K8sModel):"]
        body = []
        for wire, (shape, leaf) in sorted(fields[d].items()):
            t = names.get(leaf) or LEAVES[leaf]
            ann = {"one": t, "list": f"list[{t}]", "map": f"dict[str, {t}]"}[shape]
            attr = snake(wire)
            extras = []
            if to_camel(attr) != wire:
                extras.append(f'alias="{wire}"')
            key = MERGE_KEYS.get((d, wire))
            if key:
                extras.append(f'json_schema_extra=merge_by("{key}")')
            default = f"Field(None, {', '.join(extras)})" if extras else "None"
            body.append(f"    {attr}: {ann} | None = {default}")
        out += body or ["    pass"]
    others = {names[d]: d for d in order if d != f"core.v1.{names[d]}"}
    out += ["", "", "# Kubernetes' name of each struct above that is not core/v1's of the same name",
            "# (apiserver/openapi.py names the OpenAPI definitions by it)",
            "KUBE_NAMES: dict[str, str] = {"]
    out += [f'    "{name}": "{d}",' for name, d in sorted(others.items())]
    out += ["}"]
    text = "\n".join(out) + "\n"
    body_text = text.split("from .structs import STRUCTS", 1)[1]
    structs = sorted(n for n in HAND_STRUCTS.values() if re.search(rf"\b{n}\b", body_text))
    text = text.replace("from .structs import STRUCTS", _import_line(".structs", structs))
    used = [n for n in ("Int32", "Int64", "IntOrString", "K8sModel", "LabelSelector", "ObjectMeta", "Quantity",
                        "merge_by") if re.search(rf"\b{n}\b", body_text)]
    text = text.replace("IMPORTS", ", ".join(used))
    for name, line in (("Any", "from typing import Any\n\n"), ("Field", "from pydantic import Field\n\n")):
        if not re.search(rf"\b{name}\b", body_text):
            text = text.replace(line, "")
    return text


def main() -> None:
    text = render()
    OUT.write_text(text)
    print(f"{OUT}: {text.count(chr(10) + 'class ')} models")


if __name__ == "__main__":
    main()
