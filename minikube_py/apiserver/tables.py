"""Content negotiation for `as=Table` / `as=PartialObjectMetadata` and rendering of Tables.

kubectl get asks for `application/json;as=Table;v=v1;g=meta.k8s.io`; the handlers ask this
module which representation a request wants and render lists, single objects and watch events
through the printer of the kind's entry in the kinds table (minikube_py.api.printers).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..api.errors import BadRequest
from ..api.kinds import KindInfo

Obj = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Representation:
    kind: str  # "" (the object itself), "Table", "PartialObjectMetadata"
    version: str = "v1"  # of meta.k8s.io

    @property
    def api_version(self) -> str:
        return f"meta.k8s.io/{self.version}"


PLAIN = Representation("")


def negotiate(accept: str) -> Representation:
    """The first media range we can serve, in the client's order."""
    for media_range in accept.split(","):
        parts = [p.strip() for p in media_range.split(";")]
        media = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        as_ = params.get("as")
        if media not in ("application/json", "*/*", "application/*", "application/yaml"):
            continue
        if not as_:
            return PLAIN
        if params.get("g") == "meta.k8s.io" and params.get("v") in ("v1", "v1beta1"):
            if as_ == "Table":
                return Representation("Table", params["v"])
            if as_ in ("PartialObjectMetadata", "PartialObjectMetadataList"):
                return Representation("PartialObjectMetadata", params["v"])
    return PLAIN


def include_object_mode(value: str | None) -> str:
    mode = value or "Metadata"
    if mode not in ("None", "Metadata", "Object"):
        raise BadRequest(f'includeObject: Unsupported value: "{mode}": supported values: "Metadata", "None", "Object"')
    return mode


def partial(obj: Obj, rep: Representation) -> Obj:
    return {"kind": "PartialObjectMetadata", "apiVersion": rep.api_version, "metadata": obj.get("metadata", {})}


def table(info: KindInfo, objs: list[Obj], rep: Representation, *, list_meta: Obj | None = None,
          include_object: str = "Metadata", with_columns: bool = True, now: datetime | None = None) -> Obj:
    printer = info.printer
    now = now or datetime.now(UTC)
    rows = []
    for obj in objs:
        row: Obj = {"cells": printer.row(obj, now)}
        if include_object == "Metadata":
            row["object"] = partial(obj, rep)
        elif include_object == "Object":
            row["object"] = obj
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": rep.api_version,
        "metadata": list_meta or {},
        "columnDefinitions": [c.definition() for c in printer.columns] if with_columns else [],
        "rows": rows,
    }


def render_list(info: KindInfo, items: list[Obj], list_meta: Obj, rep: Representation, include_object: str) -> Obj:
    if rep.kind == "Table":
        return table(info, items, rep, list_meta=list_meta, include_object=include_object)
    if rep.kind == "PartialObjectMetadata":
        return {"kind": "PartialObjectMetadataList", "apiVersion": rep.api_version, "metadata": list_meta,
                "items": [partial(o, rep) for o in items]}
    for item in items:  # list items carry no TypeMeta, as the real apiserver sends them
        item.pop("apiVersion", None)
        item.pop("kind", None)
    return {"kind": f"{info.kind}List", "apiVersion": info.api_version, "metadata": list_meta, "items": items}


def render_object(info: KindInfo, obj: Obj, rep: Representation, include_object: str = "Metadata") -> Obj:
    if rep.kind == "Table":
        rv = (obj.get("metadata") or {}).get("resourceVersion")
        return table(info, [obj], rep, list_meta={"resourceVersion": rv} if rv else {}, include_object=include_object)
    if rep.kind == "PartialObjectMetadata":
        return partial(obj, rep)
    return obj
