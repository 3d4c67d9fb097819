"""Decode Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into JSON dicts.

kubectl sends the objects of its generator commands (`create namespace`, `create deployment`,
`run`, ...) as protobuf and does not retry with JSON, so the apiserver must read them.  A body is
the magic `k8s\\x00` followed by a runtime.Unknown message: typeMeta (1: apiVersion, 2: kind),
raw (2: the object's own message), contentEncoding (3), contentType (4).  The object is decoded
with the field tables of `proto_schema` (each kind's entry in the kinds table names its message)
into the same dict the JSON decoder would give, so the rest of the apiserver never sees protobuf.
Responses stay JSON: clients accept it.

Called by `apiserver.decode.parse_body`.
"""

from __future__ import annotations

import base64
import json
import struct
from typing import Any

from ..api.kinds import KINDS
from ..api.times import format_time
from .proto_schema import MESSAGES

MAGIC = b"k8s\x00"
CONTENT_TYPE = "application/vnd.kubernetes.protobuf"

# The message of each kind that can arrive as protobuf, from the kinds table, found by the
# envelope's kind alone: a wrong apiVersion is the registry's 400, as for a JSON body.
_TOP: dict[str, str] = {info.kind: info.proto_message for info in KINDS if info.proto_message}
_TOP["DeleteOptions"] = "DeleteOptions"  # the body of a DELETE, not a kind of the table


# Go encodes every non-pointer field, so an empty string, a 0 or a false on the wire usually means
# "not set" (what JSON's omitempty leaves out).  These fields are pointers in the Go types: for
# them a zero was set on purpose (`--replicas=0`, `--grace-period=0`) and is kept.
_POINTER_FIELDS = frozenset({
    "replicas", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "revisionHistoryLimit",
    "progressDeadlineSeconds", "defaultMode", "mode", "runAsUser", "runAsGroup", "fsGroup",
    "gracePeriodSeconds", "expirationSeconds", "priority", "deletionGracePeriodSeconds", "collisionCount",
    "partition", "timeoutSeconds", "automountServiceAccountToken", "enableServiceLinks", "optional",
    "privileged", "runAsNonRoot", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "immutable",
    "controller", "blockOwnerDeletion", "orphanDependents", "shareProcessNamespace", "hostUsers",
    "setHostnameAsFQDN", "allocateLoadBalancerNodePorts", "storageClassName", "propagationPolicy",
})
_ZERO_TIME = -62135596800  # Go's zero time.Time (0001-01-01), which JSON writes as null


class ProtobufError(ValueError):
    """The body is not a valid Kubernetes protobuf message (the caller answers 400)."""


class _Reader:
    __slots__ = ("data", "pos", "end")

    def __init__(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        self.data, self.pos, self.end = data, start, len(data) if end is None else end

    def varint(self) -> int:
        result = shift = 0
        while True:
            if self.pos >= self.end:
                raise ProtobufError("truncated varint")
            byte = self.data[self.pos]
            self.pos += 1
            result |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return result
            shift += 7
            if shift > 63:
                raise ProtobufError("varint longer than 10 bytes")

    def fields(self) -> Any:
        """Yield (number, wire type, value): an int for varints and fixed, bytes for length-delimited."""
        while self.pos < self.end:
            key = self.varint()
            number, wire = key >> 3, key & 7
            if number == 0:
                raise ProtobufError("field number 0")
            if wire == 0:
                yield number, wire, self.varint()
            elif wire == 1:
                yield number, wire, self._fixed(8)
            elif wire == 2:
                size = self.varint()
                if self.pos + size > self.end:
                    raise ProtobufError("length-delimited field runs past the end of the message")
                value = self.data[self.pos:self.pos + size]
                self.pos += size
                yield number, wire, value
            elif wire == 5:
                yield number, wire, self._fixed(4)
            else:
                raise ProtobufError(f"unsupported wire type {wire}")

    def _fixed(self, size: int) -> int:
        if self.pos + size > self.end:
            raise ProtobufError("truncated fixed-width field")
        value = int.from_bytes(self.data[self.pos:self.pos + size], "little")
        self.pos += size
        return value


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: Any) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError("expected a length-delimited string")
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise ProtobufError("string field is not UTF-8") from None


def _time(raw: bytes) -> str | None:
    seconds: int | None = None
    for number, _, value in _Reader(raw).fields():
        if number == 1:
            seconds = _signed(value)
    if seconds is None or seconds <= _ZERO_TIME:  # an empty message is Go's zero time
        return None
    return format_time(seconds)


def _int_or_string(raw: bytes) -> int | str:
    kind, int_val, str_val = 0, 0, ""
    for number, _, value in _Reader(raw).fields():
        if number == 1:
            kind = value
        elif number == 2:
            int_val = _signed(value)
        elif number == 3:
            str_val = _text(value)
    return str_val if kind == 1 else int_val


def _scalar(kind: str, wire: int, value: Any) -> Any:
    if kind == "string":
        return _text(value)
    if kind == "bytes":
        if not isinstance(value, bytes):
            raise ProtobufError("expected bytes")
        return base64.b64encode(value).decode()
    if kind == "bool":
        return bool(value)
    if kind == "int":
        return _signed(value)
    if kind in ("double", "float"):
        return struct.unpack("<d" if wire == 1 else "<f", value.to_bytes(8 if wire == 1 else 4, "little"))[0]
    if not isinstance(value, bytes):
        raise ProtobufError(f"expected an embedded message for {kind}")
    if kind == "Time":
        return _time(value)
    if kind == "Quantity":
        return next((_text(v) for n, _, v in _Reader(value).fields() if n == 1), "0")
    if kind == "IntOrString":
        return _int_or_string(value)
    if kind == "Raw":
        raw = next((v for n, _, v in _Reader(value).fields() if n == 1), b"")
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            raise ProtobufError("embedded raw object is not JSON") from None
    if kind == "Duration":
        nanos = next((_signed(v) for n, _, v in _Reader(value).fields() if n == 1), 0)
        return f"{nanos / 1e9:g}s"
    return decode_message(kind, value)


def _packed(kind: str, raw: bytes) -> list[Any]:
    reader = _Reader(raw)
    values: list[Any] = []
    while reader.pos < reader.end:
        if kind in ("int", "bool"):
            values.append(_scalar(kind, 0, reader.varint()))
        else:
            raise ProtobufError(f"packed repeated {kind} is not supported")
    return values


def decode_message(message: str, raw: bytes) -> dict[str, Any]:
    """Decode one message of `proto_schema.MESSAGES` into its JSON shape."""
    table = MESSAGES[message]
    out: dict[str, Any] = {}
    for number, wire, value in _Reader(raw).fields():
        spec = table.get(number)
        if spec is None:
            continue  # a field newer than our tables: skipped, as protobuf decoders do
        name, kind = spec[0], spec[1]
        repeated = len(spec) > 2 and bool(spec[2])
        if kind.startswith("map:"):
            key, item = "", None
            for n, w, v in _Reader(value).fields():
                if n == 1:
                    key = _text(v)
                elif n == 2:
                    item = _scalar(kind[4:], w, v)
            out.setdefault(name, {})[key] = item if item is not None else ""
        elif name == "":
            out.update(_scalar(kind, wire, value))
        elif repeated:
            if wire == 2 and kind in ("int", "bool"):
                out.setdefault(name, []).extend(_packed(kind, value))
            else:
                out.setdefault(name, []).append(_scalar(kind, wire, value))
        else:
            decoded = _scalar(kind, wire, value)
            if decoded is None or (decoded in ("", 0, False) and not isinstance(decoded, dict)
                                   and name not in _POINTER_FIELDS):
                continue
            out[name] = decoded
    return out


def decode(body: bytes) -> dict[str, Any]:
    """Decode a whole protobuf request body (magic + runtime.Unknown) into a JSON-shaped dict."""
    if not body.startswith(MAGIC):
        raise ProtobufError("missing the k8s protobuf magic prefix")
    api_version = kind = ""
    raw = b""
    encoding = ""
    for number, _, value in _Reader(body, len(MAGIC)).fields():
        if number == 1:
            for n, _, v in _Reader(value).fields():
                if n == 1:
                    api_version = _text(v)
                elif n == 2:
                    kind = _text(v)
        elif number == 2:
            raw = value
        elif number == 3:
            encoding = _text(value)
    if encoding:
        raise ProtobufError(f"content encoding {encoding!r} is not supported")
    message = _TOP.get(kind)
    if message is None:
        raise ProtobufError(f"kind {kind!r} cannot be sent as protobuf to this server; send it as JSON")
    try:
        obj = decode_message(message, raw)
    except RecursionError:
        raise ProtobufError("message nested too deeply") from None
    return {"apiVersion": api_version, "kind": kind, **obj}
