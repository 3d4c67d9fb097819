"""PATCH bodies applied to stored objects: JSON merge patch, JSON patch and strategic merge patch.

Called by the resource handlers for every PATCH (kubectl apply, label, annotate, scale, edit and
patch all send one).  Strategic merge patch follows apimachinery's rules: lists marked
`x-kubernetes-patch-strategy: merge` with a `x-kubernetes-patch-merge-key` merge element-wise
by that key (the models carry the markers, see api/meta.py `merge_by`), other lists replace,
`null` deletes, and the directives `$patch` (replace/delete/merge), `$retainKeys`,
`$setElementOrder/<field>` and `$deleteFromPrimitiveList/<field>` are honoured.

A patch is bounded as kube-apiserver bounds it: at most 10000 JSON patch operations (413), `copy`
operations that add at most 3 MiB in all (`--json-patch-max-copy-bytes`: without it ~30 copies of
a document into itself need terabytes), and patches and patched objects nested at most
decode.MAX_DEPTH levels (Go's decoder stops at 10000; Python's stack cannot).
"""

from __future__ import annotations

import copy
import types
import typing
from functools import lru_cache
from typing import Any, Union

import jsonpatch
import jsonpointer
import orjson
from pydantic import BaseModel

from .decode import MAX_DEPTH, nesting_problem, shallow_json

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH)  # in the order kube-apiserver lists them
MAX_JSON_PATCH_OPERATIONS = 10000  # kube-apiserver's maxJSONPatchOperations
MAX_COPY_BYTES = 3 * 1024 * 1024  # kube-apiserver's --json-patch-max-copy-bytes default


class PatchError(Exception):
    """The patch itself is malformed (the apiserver answers 400)."""


class PatchFailed(PatchError):
    """A well-formed patch cannot be applied, e.g. a JSON patch `test` failed (422)."""


class UnsupportedPatchType(PatchError):
    """Not one of the patch media types (415)."""


class PatchTooLarge(PatchError):
    """More JSON patch operations than kube-apiserver takes (413)."""


def check_patch_type(content_type: str) -> str:
    """The patch's media type, or kube-apiserver's 415 for any other (server-side apply included,
    which is not served yet): the handler calls this before it reads the object, so the answer
    is the same whether the object exists or not."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in PATCH_TYPES:
        raise UnsupportedPatchType("the body of the request was in an unknown format - accepted media types "
                                   "include: " + ", ".join(PATCH_TYPES))
    return media


def apply_patch(content_type: str, original: dict[str, Any], patch_body: bytes,
                model: type[BaseModel] | None) -> Any:
    media = check_patch_type(content_type)
    try:
        patch = orjson.loads(patch_body)
    except orjson.JSONDecodeError as exc:
        raise PatchError(f"the patch is not valid JSON: {exc}") from None
    shallow = shallow_json(patch_body)
    problem = None if shallow else nesting_problem(patch)
    if problem is not None:
        raise PatchError(f"the patch is not valid: {problem}")
    try:
        patched = _apply(media, original, patch, model)
    except RecursionError:  # a safety net: the depth checks should make this unreachable
        patched = None
        problem = f"exceeded max depth: objects and lists may nest at most {MAX_DEPTH} levels"
    else:
        # a merge or strategic patch nests no deeper than the stored object (checked when it was
        # written) or the patch; a JSON patch can (copy, move), so its result is always measured
        if not (shallow and media != JSON_PATCH):
            problem = nesting_problem(patched)
    if problem is not None:
        raise PatchFailed(f"the patched object is not valid: {problem}")
    return patched


def _apply(media: str, original: dict[str, Any], patch: Any, model: type[BaseModel] | None) -> Any:
    if media == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("a JSON patch must be a list of operations")
        return json_patch(original, patch)
    if media == MERGE_PATCH:
        return merge_patch(original, patch)
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    return strategic_merge_patch(original, patch, model)


# --- RFC 7386 -----------------------------------------------------------------------------------


def merge_patch(original: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    out = dict(original) if isinstance(original, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# --- RFC 6902 -----------------------------------------------------------------------------------


def json_patch(original: dict[str, Any], ops: list[Any]) -> Any:
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("op"), str) or not isinstance(op.get("path"), str):
            raise PatchError(f"JSON patch operation {i} must be an object with string fields op and path")
        if op["op"] in ("copy", "move") and not isinstance(op.get("from"), str):
            raise PatchError(f"JSON patch operation {i} ({op['op']}) must have a string field from")
    if len(ops) > MAX_JSON_PATCH_OPERATIONS:
        raise PatchTooLarge(f"The allowed maximum operations in a JSON patch is {MAX_JSON_PATCH_OPERATIONS}, "
                            f"got {len(ops)}")
    try:
        doc = copy.deepcopy(original)
        bound = _depth(doc)  # an upper bound of the depth of doc, kept as the operations apply
        copied = 0
        for op in ops:
            bound, copied = _check_growth(doc, op, bound, copied)
            doc = jsonpatch.JsonPatch([op]).apply(doc, in_place=True)
        return doc
    except jsonpatch.JsonPatchTestFailed as exc:
        raise PatchFailed(f"the JSON patch test operation failed: {exc}") from None
    except (jsonpatch.JsonPatchConflict, jsonpointer.JsonPointerException) as exc:
        raise PatchFailed(f"the JSON patch cannot be applied: {exc}") from None
    except (jsonpatch.InvalidJsonPatch, TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise PatchError(f"the JSON patch is invalid: {exc}") from None


def _depth(value: Any) -> int:
    """Levels of objects and lists in value (0 for a scalar); iterative."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        current, depth = stack.pop()
        children = current.values() if isinstance(current, dict) else current if isinstance(current, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            stack.extend((c, depth + 1) for c in children)
    return deepest


def _check_growth(doc: Any, op: dict[str, Any], bound: int, copied: int) -> tuple[int, int]:
    """What one operation may add: copies within MAX_COPY_BYTES, the result within MAX_DEPTH."""
    kind = op["op"]
    if kind not in ("add", "replace", "copy", "move"):
        return bound, copied
    landing = len(jsonpointer.JsonPointer(op["path"]).parts)
    if kind == "move":  # nothing is copied: bound the moved value by where it was, measure only if needed
        source = len(jsonpointer.JsonPointer(op["from"]).parts)
        grown = max(bound, landing + bound - source)
        if grown <= MAX_DEPTH:
            return grown, copied
        value = jsonpointer.resolve_pointer(doc, op["from"])
    elif kind == "copy":
        value = jsonpointer.resolve_pointer(doc, op["from"])
        copied += len(orjson.dumps(value))
        if copied > MAX_COPY_BYTES:
            raise PatchFailed(f"Unable to copy, the accumulated size increase of copy is {copied}, exceeding the "
                              f"limit {MAX_COPY_BYTES}")
    else:
        value = op.get("value")
    grown = max(bound, landing + _depth(value))
    if grown > MAX_DEPTH:
        raise PatchFailed(f"the patched object is not valid: exceeded max depth: objects and lists may nest at most "
                          f"{MAX_DEPTH} levels (operation {kind} {op['path']})")
    return grown, copied


# --- strategic merge patch ----------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _field(model: type[BaseModel] | None, wire: str) -> tuple[str | None, str | None, Any]:
    """(strategy, merge key, annotation) of the field named `wire` on the wire, if the model knows it."""
    if model is None:
        return None, None, None
    for name, info in model.model_fields.items():
        if (info.alias or name) == wire or name == wire:
            extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
            strategy = extra.get("x-kubernetes-patch-strategy")
            key = extra.get("x-kubernetes-patch-merge-key")
            return (str(strategy) if strategy else None, str(key) if key else None, info.annotation)
    return None, None, None


def _unwrap(annotation: Any) -> Any:
    """Strip Optional/Union-with-None."""
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0] if len(args) == 1 else None
    return annotation


def _model_of(annotation: Any) -> type[BaseModel] | None:
    ann = _unwrap(annotation)
    return ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None


def _item_model(annotation: Any) -> type[BaseModel] | None:
    ann = _unwrap(annotation)
    if typing.get_origin(ann) is list:
        args = typing.get_args(ann)
        return _model_of(args[0]) if args else None
    return None


def _value_model(annotation: Any) -> type[BaseModel] | None:
    ann = _unwrap(annotation)
    if typing.get_origin(ann) is dict:
        args = typing.get_args(ann)
        return _model_of(args[1]) if len(args) == 2 else None
    return None


def patch_meta(model: type[BaseModel], wire_path: list[str]) -> tuple[str | None, str | None]:
    """(strategy, merge key) of the field at wire_path, walking through nested models and lists."""
    current: type[BaseModel] | None = model
    strategy = key = None
    for part in wire_path:
        strategy, key, ann = _field(current, part)
        current = _model_of(ann) or _item_model(ann) or _value_model(ann)
    return strategy, key


def _strip(value: Any) -> Any:
    """A patch value with its directives removed, as stored when nothing was there to merge with."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if not k.startswith("$") and v is not None}
    if isinstance(value, list):
        return [_strip(v) for v in value if not (isinstance(v, dict) and v.get("$patch") in ("delete", "replace")
                                                 and len(v) == 1)]
    return value


def strategic_merge_patch(original: dict[str, Any], patch: dict[str, Any], model: type[BaseModel] | None) -> Any:
    if not isinstance(original, dict):
        original = {}
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"})
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f'unknown patch directive "$patch: {directive}"')
    out = dict(original)
    orders: dict[str, list[Any]] = {}
    deletions: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$setElementOrder/"):
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list")
            orders[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            if not isinstance(value, list):
                raise PatchError(f"{key} must be a list")
            deletions[key.split("/", 1)[1]] = value
            continue
        if key.startswith("$"):
            continue
        if value is None:
            out.pop(key, None)
            continue
        strategy, merge_key, ann = _field(model, key)
        current = out.get(key)
        if isinstance(value, dict):
            if value.get("$patch") == "delete":
                out.pop(key, None)
                continue
            if isinstance(current, dict):
                out[key] = strategic_merge_patch(current, value, _model_of(ann))
            else:
                out[key] = _strip(value)
            retain = value.get("$retainKeys")
            if retain is not None:
                if not isinstance(retain, list):
                    raise PatchError("$retainKeys must be a list")
                out[key] = {k: v for k, v in out[key].items() if k in retain}
        elif isinstance(value, list):
            out[key] = _merge_list(current, value, strategy, merge_key, _item_model(ann))
        else:
            out[key] = value
    for key, items in deletions.items():
        if isinstance(out.get(key), list):
            out[key] = [x for x in out[key] if x not in items]
    for key, order in orders.items():
        if isinstance(out.get(key), list):
            out[key] = _reorder(out[key], order, _field(model, key)[1])
    return out


def _merge_list(current: Any, patch: list[Any], strategy: str | None, merge_key: str | None,
                item_model: type[BaseModel] | None) -> list[Any]:
    if any(isinstance(p, dict) and p.get("$patch") == "replace" for p in patch):
        return _strip([p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "replace")])
    if "merge" not in (strategy or "") or not isinstance(current, list):
        return _strip([p for p in patch if not (isinstance(p, dict) and p.get("$patch") == "delete")])
    if not merge_key:  # a merged list of primitives: union, current order first
        out = list(current)
        for item in patch:
            if item not in out:
                out.append(item)
        return out
    out = [dict(c) if isinstance(c, dict) else c for c in current]
    for item in patch:
        if not isinstance(item, dict):
            raise PatchError(f"elements of a list merged by {merge_key} must be objects")
        if merge_key not in item:
            raise PatchError(f"an element of a list merged by {merge_key} is missing the key {merge_key!r}")
        wanted = item[merge_key]
        index = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(merge_key) == wanted), None)
        if item.get("$patch") == "delete":
            out = [c for c in out if not (isinstance(c, dict) and c.get(merge_key) == wanted)]
        elif index is None:
            out.append(_strip(item))
        else:
            out[index] = strategic_merge_patch(out[index], item, item_model)
    return out


def _reorder(items: list[Any], order: list[Any], merge_key: str | None) -> list[Any]:
    def ident(x: Any) -> Any:
        if merge_key and isinstance(x, dict):
            return orjson.dumps(x.get(merge_key))
        return orjson.dumps(x)

    rank = {ident(o): i for i, o in enumerate(order)}
    ordered = sorted((x for x in items if ident(x) in rank), key=lambda x: rank[ident(x)])
    rest = [x for x in items if ident(x) not in rank]
    return ordered + rest
