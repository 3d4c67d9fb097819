"""Request bodies to checked objects: JSON/YAML parsing, model decoding, fieldValidation.

Called by the registry on create, update and patch.  Decoding follows the real apiserver:
a value of the wrong type is a 400 ("cannot be handled as a Deployment"), an unknown field is
rejected (Strict), reported in a Warning header and dropped (Warn, the default) or silently
dropped (Ignore); semantic validation (422) happens later, on the decoded model.

Every body, and every patch and patched object (patch.py), is also bounded in nesting depth
(`nesting_problem`): Go's JSON decoder stops at 10000 levels with "exceeded max depth", but this
server's Python parts (deep copies, pydantic, orjson's encoder, which stops at 255) cannot go near
that, so bodies nest at most MAX_DEPTH levels.
"""

from __future__ import annotations

import datetime
import math
import re
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from ..api.errors import BadRequest, UnsupportedMediaType
from ..api.kinds import KindInfo
from ..api.meta import INT_BITS, K8sObject
from . import protobuf

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
MAX_DEPTH = 200  # objects and lists in one body; orjson cannot encode 255, Python's stack overflows near 300
_TYPE_TAG = re.compile(r"^(int|str|float|bool|none|list\[.*\]|dict\[.*\]|function-.*|tagged-union\[.*\]|.*\[.*\])$")

try:  # the C loader is ~10x faster; Debian/PyPI wheels ship it
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader


def nesting_problem(value: Any, *, max_values: int | None = None, limit: int = MAX_DEPTH,
                    json_only: bool = False) -> str | None:
    """Why `value` may not be handled ("exceeded max depth: ..."), or None.  Iterative: deep input
    must not overflow the stack here.  `max_values` bounds the values visited, which stops YAML
    aliases that expand a small document into billions of values; `json_only` also refuses what
    JSON cannot carry and YAML can (.nan, .inf, integers beyond 64 bits, !!binary, non-string keys)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen = 0
    while stack:
        current, depth = stack.pop()
        seen += 1
        if max_values is not None and seen > max_values:
            return "exceeded max values: the document contains excessive aliasing"
        if isinstance(current, dict):
            if json_only and not all(isinstance(k, str) for k in current):
                return _not_json(value)
            children: Any = current.values()
        elif isinstance(current, list):
            children = current
        else:
            if json_only and _not_a_json_scalar(current):
                return _not_json(value)
            continue
        if depth > limit:
            return f"exceeded max depth: objects and lists may nest at most {limit} levels"
        stack.extend((child, depth + 1) for child in children)
    return None


def _not_a_json_scalar(value: Any) -> bool:
    if value is None or isinstance(value, bool | str | datetime.date):  # YAML timestamps encode as strings
        return False
    if isinstance(value, int):
        return not -(2**63) <= value < 2**64
    if isinstance(value, float):
        return not math.isfinite(value)
    return True


def _not_json(value: Any) -> str:
    """The first value JSON cannot carry, with its path (searched again: only on this error)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        current, path = stack.pop()
        if isinstance(current, dict):
            for k, v in current.items():
                if not isinstance(k, str):
                    return f"{path or 'the object'}: the key {str(k)[:40]} is not a string"
                stack.append((v, f"{path}.{k}" if path else k))
        elif isinstance(current, list):
            stack.extend((v, f"{path}[{i}]") for i, v in enumerate(current))
        elif _not_a_json_scalar(current):
            what = ("an integer beyond 64 bits" if isinstance(current, int) else
                    "not a finite number" if isinstance(current, float) else f"a {type(current).__name__}")
            return f"{path or 'the value'}: {str(current)[:40]}: {what} cannot be represented in JSON"
    return "a value cannot be represented in JSON"


def shallow_json(body: bytes, limit: int = MAX_DEPTH) -> bool:
    """True when JSON `body` cannot nest deeper than `limit`: it has no more brackets than that.
    Nearly every request body passes, so the walk of nesting_problem is skipped (counting is C)."""
    return body.count(b"{") + body.count(b"[") <= limit


def parse_body(body: bytes, content_type: str) -> Any:
    """JSON, YAML or Kubernetes protobuf bytes -> Python value; 400 on malformed or too deeply nested
    input, 415 on other types."""
    value = _parse(body, content_type)
    if _is_json(content_type) and shallow_json(body):
        return value  # orjson gives only JSON values, and there are too few brackets to nest too deep
    # a JSON, YAML or protobuf document cannot hold more values than twice its bytes, except by aliases
    problem = nesting_problem(value, max_values=2 * len(body) + 16, json_only=True)
    if problem is not None:
        raise BadRequest(f"the body of the request was not valid: {problem}")
    return value


def _check_yaml_depth(body: bytes) -> None:
    """libyaml's composer recurses in C: a document nested ~100000 levels deep crashes the process,
    so the (iterative, lazy) event stream is measured first."""
    depth = 0
    for event in yaml.parse(body, Loader=_YamlLoader):
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_DEPTH:
                raise BadRequest("the body of the request was not valid YAML: exceeded max depth: objects and "
                                 f"lists may nest at most {MAX_DEPTH} levels")
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media in ("", "application/json", "*/*") or media.endswith("+json")


def _parse(body: bytes, content_type: str) -> Any:
    media = content_type.split(";", 1)[0].strip().lower()
    if _is_json(media):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"the body of the request was not valid JSON: {e}") from None
    if media in ("application/yaml", "application/x-yaml", "text/yaml") or media.endswith("+yaml"):
        try:
            _check_yaml_depth(body)
            return yaml.load(body, Loader=_YamlLoader)  # noqa: S506 - safe loader
        except yaml.YAMLError as e:
            raise BadRequest(f"the body of the request was not valid YAML: {str(e).splitlines()[0]}") from None
    if media == protobuf.CONTENT_TYPE:
        try:
            return protobuf.decode(body)
        except RecursionError:
            raise BadRequest("the body of the request was not a valid protobuf object: exceeded max depth") from None
        except protobuf.ProtobufError as e:
            raise BadRequest(f"the body of the request was not a valid protobuf object: {e}") from None
    raise UnsupportedMediaType(
        f'the body of the request was in an unknown format - accepted media types include: '
        f'application/json, application/yaml, {protobuf.CONTENT_TYPE}'
    )


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _TYPE_TAG.match(part):
            continue
        else:
            out += ("." if out else "") + part
    return out


def _drop(data: Any, loc: tuple[int | str, ...]) -> None:
    cur = data
    for part in loc[:-1]:
        if isinstance(part, str) and _TYPE_TAG.match(part) and not (isinstance(cur, dict) and part in cur):
            continue
        try:
            cur = cur[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(cur, dict):
        cur.pop(loc[-1], None)


def _message(error: Any) -> str:
    """pydantic's message, except for an Int32/Int64 out of range: Go's decoder's words for it."""
    bound = (error.get("ctx") or {}).get("ge" if error["type"] == "greater_than_equal" else "le")
    if error["type"] in ("greater_than_equal", "less_than_equal") and isinstance(bound, int):
        bits = INT_BITS.get(bound if error["type"] == "greater_than_equal" else -bound - 1)
        if bits is not None:
            return f"cannot unmarshal number {error['input']} into a value of type int{bits}"
    return str(error["msg"])


def decode_object(info: KindInfo, data: Any, field_validation: str = "Warn") -> tuple[K8sObject, list[str]]:
    """A wire dict -> (model, warnings).  Raises BadRequest for type errors and Strict unknowns."""
    if not isinstance(data, dict):
        raise BadRequest(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                         "the object must be a JSON/YAML map")
    if field_validation not in FIELD_VALIDATION:
        raise BadRequest(f'fieldValidation: Unsupported value: "{field_validation}": supported values: '
                         '"Ignore", "Strict", "Warn"')
    warnings: list[str] = []
    for _ in range(3):
        try:
            return info.model.model_validate(data), warnings
        except ValidationError as exc:
            errors = exc.errors(include_url=False)
            unknown = [e for e in errors if e["type"] == "extra_forbidden"]
            others = [e for e in errors if e["type"] != "extra_forbidden"]
            if others:
                first = others[0]
                path = field_path(first["loc"])
                if first["type"] == "base64":  # a value of a []byte map: name it by its key
                    path = f"{field_path(first['loc'][:-1])}[{first['loc'][-1]}]"
                raise BadRequest(
                    f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                    f"{path + ': ' if path else ''}{_message(first)}"
                ) from None
            paths = [field_path(e["loc"]) for e in unknown]
            if field_validation == "Strict":
                detail = ", ".join(f'unknown field "{p}"' for p in paths)
                raise BadRequest(
                    f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                    f"strict decoding error: {detail}"
                ) from None
            if field_validation == "Warn":
                warnings += [f'unknown field "{p}"' for p in paths]
            for e in unknown:
                _drop(data, e["loc"])
    raise BadRequest(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}')
