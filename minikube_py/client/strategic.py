"""Client-side strategic merge patches: the three-way patch of `kubectl apply`.

`three_way_patch(original, modified, current, meta)` returns the patch that makes `current`
(the live object) look like `modified` (the file) while deleting only the fields that
`original` (the last-applied configuration) had and `modified` no longer has; fields that other
writers set are left alone.  Lists whose schema says `x-kubernetes-patch-strategy: merge` are
patched element by element by their merge key (with `$patch: delete`, `$setElementOrder/...`
and `$deleteFromPrimitiveList/...`), other lists are replaced whole.  `PatchMeta` reads the
strategies from the apiserver's /openapi/v3 document, as kubectl does.

Used by mkctl apply.
"""

from __future__ import annotations

import copy
from typing import Any

Obj = dict[str, Any]


class PatchMeta:
    """Patch strategies of one kind, walked from an OpenAPI v3 document's schemas."""

    def __init__(self, schemas: dict[str, Any], root: Any) -> None:
        self.schemas = schemas
        self.root = root

    @classmethod
    def for_kind(cls, doc: dict[str, Any], group: str, version: str, kind: str) -> PatchMeta:
        schemas: dict[str, Any] = (doc.get("components") or {}).get("schemas") or {}
        root = None
        for schema in schemas.values():
            for gvk in schema.get("x-kubernetes-group-version-kind") or []:
                if gvk.get("kind") == kind and gvk.get("group", "") == group and gvk.get("version") == version:
                    root = schema
        if root is None:
            root = next((s for n, s in schemas.items() if n.endswith(f".{version}.{kind}")), None)
        return cls(schemas, root)

    def resolve(self, schema: Any) -> Any:
        seen = 0
        while isinstance(schema, dict) and seen < 50:
            seen += 1
            if "$ref" in schema:
                schema = self.schemas.get(schema["$ref"].rsplit("/", 1)[-1])
            elif "anyOf" in schema or "allOf" in schema or "oneOf" in schema:
                options = schema.get("anyOf") or schema.get("allOf") or schema.get("oneOf") or []
                non_null = [o for o in options if o.get("type") != "null"]
                if not non_null:
                    return None
                merged = {k: v for k, v in schema.items() if k not in ("anyOf", "allOf", "oneOf")}
                inner = non_null[0]
                schema = {**inner, **{k: v for k, v in merged.items() if k.startswith("x-kubernetes")}}
            else:
                return schema
        return schema

    def field(self, schema: Any, name: str) -> tuple[Any, str, str]:
        """(resolved schema of the field, patch strategy, merge key) under an object schema."""
        obj = self.resolve(schema)
        if not isinstance(obj, dict):
            return None, "", ""
        raw = (obj.get("properties") or {}).get(name)
        if raw is None:
            extra = obj.get("additionalProperties")
            return (self.resolve(extra) if isinstance(extra, dict) else None), "", ""
        strategy = str(raw.get("x-kubernetes-patch-strategy") or "")
        key = str(raw.get("x-kubernetes-patch-merge-key") or "")
        return self.resolve(raw), strategy, key

    def items(self, schema: Any) -> Any:
        arr = self.resolve(schema)
        if isinstance(arr, dict):
            return self.resolve(arr.get("items"))
        return None


def three_way_patch(original: Obj | None, modified: Obj, current: Obj, meta: PatchMeta) -> Obj:
    delta = _diff(current, modified, meta, meta.root, additions=True, deletions=False)
    if original is None:
        return delta
    deletions = _diff(original, modified, meta, meta.root, additions=False, deletions=True)
    return _merge_patches(deletions, delta)


def _diff(a: Obj, b: Obj, meta: PatchMeta, schema: Any, *, additions: bool, deletions: bool) -> Obj:
    patch: Obj = {}
    for key, bv in b.items():
        sub_schema, strategy, merge_key = meta.field(schema, key)
        if key not in a:
            if additions:
                patch[key] = copy.deepcopy(bv)
            continue
        av = a[key]
        if isinstance(av, dict) and isinstance(bv, dict):
            sub = _diff(av, bv, meta, sub_schema, additions=additions, deletions=deletions)
            if sub:
                patch[key] = sub
        elif isinstance(av, list) and isinstance(bv, list):
            if "merge" in strategy.split(","):
                _diff_merged_list(patch, key, av, bv, meta, sub_schema, merge_key,
                                  additions=additions, deletions=deletions)
            elif additions and av != bv:
                patch[key] = copy.deepcopy(bv)
        elif av != bv and additions:
            patch[key] = copy.deepcopy(bv)
    if deletions:
        for key in a:
            if key not in b:
                patch[key] = None
    return patch


def _diff_merged_list(patch: Obj, key: str, a: list[Any], b: list[Any], meta: PatchMeta, schema: Any,
                      merge_key: str, *, additions: bool, deletions: bool) -> None:
    if not merge_key or not all(isinstance(x, dict) for x in a + b):  # a merged list of primitives
        if additions:
            added = [x for x in b if x not in a]
            if added:
                patch[key] = copy.deepcopy(added)
            if added or a != b:
                patch[f"$setElementOrder/{key}"] = copy.deepcopy(b)
        if deletions:
            removed = [x for x in a if x not in b]
            if removed:
                patch[f"$deleteFromPrimitiveList/{key}"] = copy.deepcopy(removed)
        return
    item_schema = meta.items(schema)
    a_by_key = {x.get(merge_key): x for x in a}
    b_keys = [x.get(merge_key) for x in b]
    out: list[Obj] = []
    for item in b:
        k = item.get(merge_key)
        if k not in a_by_key:
            if additions:
                out.append(copy.deepcopy(item))
            continue
        sub = _diff(a_by_key[k], item, meta, item_schema, additions=additions, deletions=deletions)
        if sub:
            out.append({merge_key: k, **sub})
    if deletions:
        for item in a:
            if item.get(merge_key) not in b_keys:
                out.append({merge_key: item.get(merge_key), "$patch": "delete"})
    # kubectl's rule: the additions pass names the element order whenever it patches the list or
    # the merge keys of current and modified differ (in order or in number); the deletions pass
    # names it whenever it patches the list
    if out:
        patch[key] = out
    if out or (additions and [x.get(merge_key) for x in a] != b_keys):
        patch[f"$setElementOrder/{key}"] = [{merge_key: k} for k in b_keys]


def _merge_patches(first: Obj, second: Obj) -> Obj:
    """Combine the deletions patch and the additions patch (maps deeply, merged lists by key)."""
    out = copy.deepcopy(first)
    for key, value in second.items():
        if key in out and isinstance(out[key], dict) and isinstance(value, dict):
            out[key] = _merge_patches(out[key], value)
        elif key in out and isinstance(out[key], list) and isinstance(value, list) and not key.startswith("$"):
            out[key] = _merge_lists(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_lists(first: list[Any], second: list[Any]) -> list[Any]:
    if not all(isinstance(x, dict) for x in first + second):
        return first + [x for x in second if x not in first]
    out = [copy.deepcopy(x) for x in first]
    for item in second:
        match = next((existing for existing in out if _same_key(existing, item)), None)
        if match is None:
            out.append(copy.deepcopy(item))
        else:
            merged = _merge_patches(match, item)
            match.clear()
            match.update(merged)
    return out


def _same_key(a: Obj, b: Obj) -> bool:
    """Whether two patch elements address the same list element.

    Both patches being merged come from `_diff_merged_list`, whose partial elements start with
    their merge key; an element copied whole (an addition) appears only in the additions patch
    and so never meets a partial element of its own key."""
    ka, kb = next(iter(a), None), next(iter(b), None)
    return ka is not None and ka == kb and a[ka] == b[ka]
