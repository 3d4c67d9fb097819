"""`--overrides` and `--override-type` of `mkctl run`: change the generated object with a JSON
fragment before it is sent, as kubectl's Overrider does.

kubectl's default is `merge`, an RFC 7396 JSON merge patch of the fragment onto the generated
object (so a list in the fragment, e.g. `spec.containers`, replaces the generated list whole);
`strategic` merges as a strategic merge patch (containers by name, with the patch strategies read
from the apiserver's /openapi/v3, as `apply` does); `json` takes an RFC 6902 list of operations.
The result must still be an object of the generated kind: an apiVersion or kind changed by the
override is refused.  kubectl decodes the result into its compiled type and encodes it again, so
struct fields Go always writes reappear (`status: {}`, each container's `resources: {}`); we put
those back the same way.

Called by cli/kubectl_generate.py.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from ..client.strategic import PatchMeta

Obj = dict[str, Any]
OVERRIDE_TYPES = ("json", "merge", "strategic")


class OverrideError(Exception):
    """An override that cannot be applied; printed as `error: <message>`."""


def apply_override(obj: Obj, fragment: str, override_type: str, meta: PatchMeta | None = None) -> Obj:
    """`obj` with `fragment` applied (a new object; `obj` is left alone)."""
    if override_type not in OVERRIDE_TYPES:
        raise OverrideError(f"invalid override type: {override_type}")
    try:
        patch = json.loads(fragment)
    except ValueError:
        raise OverrideError("Invalid JSON Patch") from None
    obj = copy.deepcopy(obj)  # a patch shares the subtrees it leaves alone, and Go's fields are set on those
    if override_type == "json":
        if not isinstance(patch, list):
            raise OverrideError("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
        result = json_patch(obj, patch)
    elif override_type == "merge":
        result = merge_patch(obj, patch)
    else:
        if not isinstance(patch, dict):
            raise OverrideError("Invalid JSON Patch")
        result = strategic_merge(obj, patch, meta)
    if not isinstance(result, dict):
        raise OverrideError("Object 'Kind' is missing in the overridden object")
    for field in ("apiVersion", "kind"):
        if result.get(field) != obj.get(field):
            raise OverrideError(f"the override changes {field} from {obj.get(field)!r} to {result.get(field)!r}; "
                                f"run generates a {obj.get('kind')} of {obj.get('apiVersion')}")
    if result.get("kind") == "Pod":
        _as_go_writes_a_pod(result)
    return result


def _as_go_writes_a_pod(pod: Obj) -> None:
    """The fields a Go round trip of a v1 Pod always writes (non-pointer structs)."""
    pod.setdefault("metadata", {})
    pod.setdefault("status", {})
    spec = pod.get("spec")
    if isinstance(spec, dict):
        for field in ("initContainers", "containers", "ephemeralContainers"):
            for container in spec.get(field) or []:
                if isinstance(container, dict):
                    container.setdefault("resources", {})


# --- RFC 7396 ----------------------------------------------------------------------------------

def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


# --- strategic merge ---------------------------------------------------------------------------

def strategic_merge(target: Obj, patch: Obj, meta: PatchMeta | None) -> Obj:
    return _merge_map(target, patch, meta, meta.root if meta else None)


def _merge_map(target: Any, patch: Obj, meta: PatchMeta | None, schema: Any) -> Obj:
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "replace":
        return copy.deepcopy(patch)
    if directive == "delete":
        return {}
    out = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$"):
            continue  # $retainKeys, $setElementOrder: order and pruning hints a generated object does not need
        if value is None:
            out.pop(key, None)
            continue
        sub, strategy, merge_key = meta.field(schema, key) if meta else (None, "", "")
        current = out.get(key)
        if isinstance(value, dict):
            out[key] = _merge_map(current, value, meta, sub)
        elif isinstance(value, list) and "merge" in strategy.split(",") and isinstance(current, list):
            out[key] = _merge_list(current, value, merge_key, meta, meta.items(sub) if meta else None)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _merge_list(current: list[Any], patch: list[Any], merge_key: str, meta: PatchMeta | None,
                item_schema: Any) -> list[Any]:
    if not merge_key:  # a merged list of primitives: the union, in order
        return list(current) + [v for v in patch if v not in current]
    out = copy.deepcopy(current)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            out.append(copy.deepcopy(item))
            continue
        at = next((i for i, c in enumerate(out) if isinstance(c, dict) and c.get(merge_key) == item[merge_key]), None)
        if item.get("$patch") == "delete":
            if at is not None:
                del out[at]
        elif at is None:
            out.append({k: copy.deepcopy(v) for k, v in item.items() if not k.startswith("$")})
        else:
            out[at] = _merge_map(out[at], item, meta, item_schema)
    return out


# --- RFC 6902 ----------------------------------------------------------------------------------

def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise OverrideError(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]] if path else []


def _parent(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise OverrideError(f"doc is missing path: {path!r}")
    return node


def _index(node: list[Any], part: str, path: str, *, adding: bool) -> int:
    if adding and part == "-":
        return len(node)
    if not part.isdigit() or int(part) > len(node) - (0 if adding else 1):
        raise OverrideError(f"index out of range for path {path!r}")
    return int(part)


def _get(doc: Any, path: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, path, adding=False)]
    raise OverrideError(f"doc is missing path: {path!r}")


def _add(doc: Any, path: Any, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, path, adding=True), value)
    else:
        raise OverrideError(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        raise OverrideError("cannot remove the whole document")
    parent, last = _parent(doc, parts, path), parts[-1]
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list):
        return parent.pop(_index(parent, last, path, adding=False))
    raise OverrideError(f"doc is missing path: {path!r}")


def json_patch(obj: Obj, ops: list[Any]) -> Any:
    doc: Any = copy.deepcopy(obj)
    for op in ops:
        if not isinstance(op, dict) or "op" not in op:
            raise OverrideError(f"invalid JSON patch operation: {json.dumps(op)}")
        kind, path = op["op"], op.get("path")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise OverrideError(f"missing value in {kind} operation")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            if not _pointer(path):
                doc = copy.deepcopy(op["value"])
            else:
                _remove(doc, path)
                doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            value = _get(doc, op.get("from"))
            if kind == "move":
                _remove(doc, op.get("from"))
            doc = _add(doc, path, copy.deepcopy(value))
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise OverrideError(f"testing value {path} failed")
        else:
            raise OverrideError(f"Unexpected kind: {kind}")
    return doc
