"""Writes tests/data/k8s-1.35-fields.txt: every field of the kinds we serve, as Kubernetes 1.35
publishes them, for the drift test in tests/unit/test_api_field_paths.py.

Source: kube-apiserver's published OpenAPI definitions for 1.35 as the PyPI package
`kubernetes-validate` ships them (JSON schema, `_definitions.json` of `v1.35.0-local-strict`).
Run it again (and commit the output) when the kinds we serve or the target version change:

    python -m tests.tools.k8s_api_paths            # downloads kubernetes-validate==1.35.0 with pip
    python -m tests.tools.k8s_api_paths --definitions path/to/_definitions.json

Lines `root <apiVersion> <Kind> <definition>` name each kind's definition; lines
`field <definition> <wire name> <shape> <type>` list the fields of every definition they reach:
shape `one`, `list` (of the type) or `map` (string keys); type a definition, or one of string,
boolean, number, int32, int64, int-or-string, quantity, any, map-any.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any

VERSION = "1.35.0"
OUT = Path(__file__).resolve().parents[1] / "data" / "k8s-1.35-fields.txt"
# every kind served or about to be (ServiceAccount, EndpointSlice): (apiVersion, Kind, definition)
ROOTS = (
    ("v1", "Namespace", "io.k8s.api.core.v1.Namespace"),
    ("v1", "Node", "io.k8s.api.core.v1.Node"),
    ("v1", "Pod", "io.k8s.api.core.v1.Pod"),
    ("v1", "Service", "io.k8s.api.core.v1.Service"),
    ("v1", "Endpoints", "io.k8s.api.core.v1.Endpoints"),
    ("v1", "ConfigMap", "io.k8s.api.core.v1.ConfigMap"),
    ("v1", "Secret", "io.k8s.api.core.v1.Secret"),
    ("v1", "ServiceAccount", "io.k8s.api.core.v1.ServiceAccount"),
    ("v1", "PersistentVolume", "io.k8s.api.core.v1.PersistentVolume"),
    ("v1", "PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolumeClaim"),
    ("v1", "Event", "io.k8s.api.core.v1.Event"),
    ("apps/v1", "Deployment", "io.k8s.api.apps.v1.Deployment"),
    ("apps/v1", "ReplicaSet", "io.k8s.api.apps.v1.ReplicaSet"),
    ("apps/v1", "StatefulSet", "io.k8s.api.apps.v1.StatefulSet"),
    ("networking.k8s.io/v1", "Ingress", "io.k8s.api.networking.v1.Ingress"),
    ("networking.k8s.io/v1", "IngressClass", "io.k8s.api.networking.v1.IngressClass"),
    ("storage.k8s.io/v1", "StorageClass", "io.k8s.api.storage.v1.StorageClass"),
    ("coordination.k8s.io/v1", "Lease", "io.k8s.api.coordination.v1.Lease"),
    ("events.k8s.io/v1", "Event", "io.k8s.api.events.v1.Event"),
    ("discovery.k8s.io/v1", "EndpointSlice", "io.k8s.api.discovery.v1.EndpointSlice"),
)
_LEAVES = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int-or-string",
    "io.k8s.apimachinery.pkg.api.resource.Quantity": "quantity",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": "string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": "string",
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": "any",
    "io.k8s.apimachinery.pkg.runtime.RawExtension": "any",
}


def short(name: str) -> str:
    for prefix in ("io.k8s.api.", "io.k8s.apimachinery.pkg.apis.", "io.k8s.apimachinery.pkg."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _ref(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if ref is None and len(schema.get("allOf") or []) == 1:
        ref = schema["allOf"][0].get("$ref")
    return str(ref).rsplit("/", 1)[-1] if ref else None


def _type(schema: dict[str, Any]) -> str:
    t = schema.get("type")
    types = [x for x in (t if isinstance(t, list) else [t]) if x and x != "null"]
    return types[0] if types else ""


def _leaf(defs: dict[str, Any], schema: dict[str, Any], todo: list[str]) -> str:
    """The type of one value: a leaf name, or a definition (queued to be written out)."""
    name = _ref(schema)
    if name is not None:
        if name in _LEAVES:
            return _LEAVES[name]
        target = defs[name]
        if _type(target) == "object" and "properties" in target:
            todo.append(name)
            return short(name)
        schema = target
    kind = _type(schema)
    if kind == "integer":
        return str(schema.get("format") or "int64")
    if kind in ("string", "boolean", "number"):
        return kind
    if kind == "object":
        return "map-any"
    return "any"


def _field(defs: dict[str, Any], schema: dict[str, Any], todo: list[str]) -> tuple[str, str]:
    """(shape, type) of one field: shape is one, list (of the type) or map (string to the type)."""
    target = defs.get(_ref(schema) or "", schema)
    kind = _type(target)
    if kind == "array":
        return "list", _leaf(defs, target.get("items") or {}, todo)
    if kind == "object" and "properties" not in target and _ref(schema) not in _LEAVES:
        extra = target.get("additionalProperties")
        return "map", _leaf(defs, extra, todo) if isinstance(extra, dict) and extra else "any"
    return "one", _leaf(defs, schema, todo)


def lines(defs: dict[str, Any]) -> list[str]:
    rows = [f"root {api_version} {kind} {short(definition)}" for api_version, kind, definition in ROOTS]
    todo = [definition for _, _, definition in ROOTS]
    done: set[str] = set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        for field, sub in sorted((defs[name].get("properties") or {}).items()):
            shape, leaf = _field(defs, sub, todo)
            rows.append(f"field {short(name)} {field} {shape} {leaf}")
    return rows[:len(ROOTS)] + sorted(rows[len(ROOTS):])


def _download() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", f"kubernetes-validate=={VERSION}", "--no-deps",
                        "-q", "-d", tmp], check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as z:
            member = f"kubernetes_validate/kubernetes-json-schema/v{VERSION}-local-strict/_definitions.json"
            return dict(json.loads(z.read(member)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--definitions", type=Path, help="a _definitions.json (else downloaded with pip)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    doc = json.loads(args.definitions.read_text()) if args.definitions else _download()
    rows = lines(doc["$defs"])
    args.out.write_text(f"# Kubernetes {VERSION} fields (tests/tools/k8s_api_paths.py); do not edit\n"
                        + "\n".join(rows) + "\n")
    print(f"{args.out}: {len(rows)} lines")


if __name__ == "__main__":
    main()
