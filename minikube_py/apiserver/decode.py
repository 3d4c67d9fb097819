"""Request bodies to checked objects: JSON/YAML parsing, model decoding, fieldValidation.

Called by the registry on create, update and patch.  Decoding follows the real apiserver:
a value of the wrong type is a 400 ("cannot be handled as a Deployment"), an unknown field is
rejected (Strict), reported in a Warning header and dropped (Warn, the default) or silently
dropped (Ignore); semantic validation (422) happens later, on the decoded model.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from ..api.errors import BadRequest, UnsupportedMediaType
from ..api.kinds import KindInfo
from ..api.meta import K8sObject
from . import protobuf

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
_TYPE_TAG = re.compile(r"^(int|str|float|bool|none|list\[.*\]|dict\[.*\]|function-.*|tagged-union\[.*\]|.*\[.*\])$")

try:  # the C loader is ~10x faster; Debian/PyPI wheels ship it
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover
    _YamlLoader = yaml.SafeLoader


def parse_body(body: bytes, content_type: str) -> Any:
    """JSON, YAML or Kubernetes protobuf bytes -> Python value; 400 on malformed input, 415 on other types."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media in ("", "application/json", "*/*") or media.endswith("+json"):
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise BadRequest(f"the body of the request was not valid JSON: {e}") from None
    if media in ("application/yaml", "application/x-yaml", "text/yaml") or media.endswith("+yaml"):
        try:
            return yaml.load(body, Loader=_YamlLoader)  # noqa: S506 - safe loader
        except yaml.YAMLError as e:
            raise BadRequest(f"the body of the request was not valid YAML: {str(e).splitlines()[0]}") from None
    if media == protobuf.CONTENT_TYPE:
        try:
            return protobuf.decode(body)
        except protobuf.ProtobufError as e:
            raise BadRequest(f"the body of the request was not a valid protobuf object: {e}") from None
    raise UnsupportedMediaType(
        f'the body of the request was in an unknown format - accepted media types include: '
        f'application/json, application/yaml, {protobuf.CONTENT_TYPE} (got "{media}")'
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
                raise BadRequest(
                    f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                    f"{path + ': ' if path else ''}{first['msg']}"
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
