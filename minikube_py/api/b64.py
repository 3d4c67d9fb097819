"""`[]byte` fields on the wire: base64 strings, checked as kube-apiserver decodes them.

Go's encoding/json (under sigs.k8s.io/json, which kube-apiserver decodes with) turns a JSON string
into a `[]byte` with `base64.StdEncoding`: padding required, `\\r` and `\\n` ignored anywhere, and on
bad input the error `illegal base64 data at input byte N` (N a byte offset into the string).  The
apiserver answers that with a 400 ("Secret in version "v1" cannot be handled as a Secret: ...").
Every model field that is `[]byte` in Kubernetes (Secret.data, ConfigMap.binaryData) is typed
`dict[str, Base64Bytes]`, so decoding rejects bad values the same way for every kind.
"""

from __future__ import annotations

import binascii
import re
from typing import Annotated

from pydantic import AfterValidator, WithJsonSchema
from pydantic_core import PydanticCustomError

_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VALID = re.compile(rb"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_QUANTA = re.compile(rb"(?:[A-Za-z0-9+/]{4})*")
_NEWLINES = re.compile(rb"[\r\n]")


def _quantum_error(src: bytes, si: int) -> tuple[int, int | None]:
    """One step of Go's decodeQuantum from offset si: (next offset, error offset or None)."""
    n = len(src)
    j = 0
    while j < 4:
        if si == n:
            if j == 0:
                return si, None
            return si, si - j  # a short final quantum: padding was required
        c = src[si]
        si += 1
        if c in _ALPHABET:
            j += 1
            continue
        if c in (0x0A, 0x0D):
            continue
        if c != 0x3D or j < 2:  # not '=', or '=' too early
            return si, si - 1
        if j == 2:  # "xx=": a second '=' must follow (newlines may come between)
            while si < n and src[si] in (0x0A, 0x0D):
                si += 1
            if si == n:
                return si, n
            if src[si] != 0x3D:
                return si, si - 1
            si += 1
        while si < n and src[si] in (0x0A, 0x0D):
            si += 1
        return si, (si if si < n else None)  # anything after the padding is trailing garbage
    return si, None


def base64_error_offset(value: str) -> int | None:
    """The offset Go's base64.StdEncoding reports for `value`, or None when it decodes."""
    src = value.encode()
    if _VALID.fullmatch(_NEWLINES.sub(b"", src)):
        return None
    si = 0
    while True:
        si = _QUANTA.match(src, si).end()  # type: ignore[union-attr]  # always matches
        si, err = _quantum_error(src, si)
        if err is not None:
            return err
        if si >= len(src):
            return None


def decoded_size(value: str) -> int:
    """Bytes that a valid base64 value decodes to."""
    try:
        return len(binascii.a2b_base64(_NEWLINES.sub(b"", value.encode())))
    except binascii.Error:
        return len(value) * 3 // 4


def _check(value: str) -> str:
    offset = base64_error_offset(value)
    if offset is not None:
        raise PydanticCustomError("base64", "illegal base64 data at input byte {offset}", {"offset": offset})
    return value


Base64Bytes = Annotated[str, AfterValidator(_check), WithJsonSchema({"type": "string", "format": "byte"})]
