"""API errors as Kubernetes reports them.

Every failure the apiserver returns is one of these; the apiserver's error middleware turns it
into a `meta/v1 Status` body with the same code, reason and message the real apiserver uses, and
the REST clients (client/aio.py, client/rest.py) turn a Status back into the same class, so
callers catch classes (`except NotFound`), never numbers.  One flat tree, one class per status,
plus the two ways a request can fail without an answer: `Unreachable` (it never reached the
server: nothing happened) and `ConnectionLost` (it was sent and no answer came: it may have
happened).  `temporary` marks what is worth retrying as it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field, as in `details.causes[]` of an Invalid Status."""

    reason: str  # FieldValueRequired, FieldValueInvalid, FieldValueNotSupported, ...
    field: str  # "spec.template.spec.containers[0].name"
    detail: str = ""
    value: Any = None
    has_value: bool = False

    @classmethod
    def required(cls, path: str, detail: str = "") -> FieldError:
        return cls("FieldValueRequired", path, detail)

    @classmethod
    def invalid(cls, path: str, value: Any, detail: str) -> FieldError:
        return cls("FieldValueInvalid", path, detail, value, True)

    @classmethod
    def not_supported(cls, path: str, value: Any, supported: list[str]) -> FieldError:
        detail = "supported values: " + ", ".join(f'"{s}"' for s in supported)
        return cls("FieldValueNotSupported", path, detail, value, True)

    @classmethod
    def duplicate(cls, path: str, value: Any) -> FieldError:
        return cls("FieldValueDuplicate", path, "", value, True)

    @classmethod
    def forbidden(cls, path: str, detail: str) -> FieldError:
        return cls("FieldValueForbidden", path, detail)

    @classmethod
    def too_long(cls, path: str, value: Any, limit: int) -> FieldError:
        return cls("FieldValueTooLong", path, f"must have at most {limit} bytes", value, True)

    @classmethod
    def too_many(cls, path: str, count: int, limit: int) -> FieldError:
        return cls("FieldValueTooMany", path, f"must have at most {limit} items", count, True)

    @property
    def message(self) -> str:
        """The text after the field path, as Kubernetes' field.Error.ErrorBody() prints it."""
        label = {
            "FieldValueRequired": "Required value",
            "FieldValueInvalid": "Invalid value",
            "FieldValueNotSupported": "Unsupported value",
            "FieldValueDuplicate": "Duplicate value",
            "FieldValueForbidden": "Forbidden",
            "FieldValueTooLong": "Too long",
            "FieldValueTooMany": "Too many",
            "FieldValueTypeInvalid": "Invalid value",
            "FieldValueNotFound": "Not found",
        }.get(self.reason, "Invalid value")
        text = label
        if self.has_value:
            text += ": " + _quote(self.value)
        if self.detail:
            text += ": " + self.detail
        return text

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def _quote(value: Any) -> str:
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return str(value)
    import json

    return json.dumps(value, separators=(",", ":"), default=str)


def qualified(resource: str, group: str) -> str:
    """`pods` or `deployments.apps`: how Kubernetes names a resource in messages."""
    return f"{resource}.{group}" if group else resource


@dataclass
class ApiError(Exception):
    """Base: carries what a Status body needs."""

    message: str
    details: dict[str, Any] | None = field(default=None)
    # on the client side: the Status body as the server sent it, and its Retry-After in seconds
    received: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    retry_after: float | None = field(default=None, compare=False)
    code: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"
    temporary: ClassVar[bool] = False  # the same request may succeed later (after a backoff)

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
        if self.received is not None:
            return self.received
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"


class NotFound(ApiError):
    code, reason = 404, "NotFound"

    @classmethod
    def of(cls, resource: str, group: str, name: str) -> NotFound:
        return cls(
            f'{qualified(resource, group)} "{name}" not found',
            {"name": name, "group": group, "kind": resource} if group else {"name": name, "kind": resource},
        )


class MethodNotAllowed(ApiError):
    code, reason = 405, "MethodNotAllowed"


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"

    @classmethod
    def of(cls, resource: str, group: str, name: str) -> AlreadyExists:
        details: dict[str, Any] = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(f'{qualified(resource, group)} "{name}" already exists', details)


class Conflict(ApiError):
    code, reason = 409, "Conflict"
    temporary = True

    @classmethod
    def modified(cls, resource: str, group: str, name: str) -> Conflict:
        details: dict[str, Any] = {"name": name, "kind": resource}
        if group:
            details["group"] = group
        return cls(
            f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": the object has been '
            "modified; please apply your changes to the latest version and try again",
            details,
        )


class Expired(ApiError):
    code, reason = 410, "Expired"
    temporary = True


class RequestEntityTooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class RequestHeaderFieldsTooLarge(ApiError):
    """Go's net/http answers this (with no Status body) past 1 MiB of request line and headers."""

    code, reason = 431, "RequestHeaderFieldsTooLarge"


class Invalid(ApiError):
    code, reason = 422, "Invalid"

    @classmethod
    def of(cls, kind: str, group: str, name: str, errors: list[FieldError]) -> Invalid:
        """`Deployment.apps "web" is invalid: spec.replicas: Invalid value: -1: ...`"""
        if len(errors) == 1:
            summary = str(errors[0])
        else:
            summary = "[" + ", ".join(str(e) for e in errors) + "]"
        details: dict[str, Any] = {
            "name": name,
            "kind": kind,
            "causes": [{"reason": e.reason, "message": e.message, "field": e.field} for e in errors],
        }
        if group:
            details["group"] = group
        return cls(f'{qualified(kind, group)} "{name}" is invalid: {summary}', details)


class TooManyRequests(ApiError):
    code, reason = 429, "TooManyRequests"
    temporary = True


class InternalError(ApiError):
    code, reason = 500, "InternalError"
    temporary = True


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"
    temporary = True


class Timeout(ApiError):
    code, reason = 504, "Timeout"
    temporary = True


class Unreachable(ServiceUnavailable):
    """The request never reached the apiserver (refused, reset before sending, DNS, TLS):
    nothing happened on the server, so it is safe to send again."""


class ConnectionLost(Timeout):
    """The request was sent and no answer came (the connection broke, the client timed out):
    like a 504, it may have happened.  A create must not be repeated blindly."""


_BY_REASON: dict[str, type[ApiError]] = {
    c.reason: c
    for c in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, AlreadyExists,
        Conflict, Expired, RequestEntityTooLarge, UnsupportedMediaType, RequestHeaderFieldsTooLarge, Invalid,
        TooManyRequests, InternalError, ServiceUnavailable, Timeout,
    )
}
_BY_CODE: dict[int, type[ApiError]] = {}
for _cls in _BY_REASON.values():
    _BY_CODE.setdefault(_cls.code, _cls)


def from_status(body: dict[str, Any], http_code: int, *, retry_after: float | None = None) -> ApiError:
    """The client side: a Status body (or its absence) back to the matching class.  `code` stays the
    HTTP code the server answered (a 502 is an InternalError with code 502), `received` the body."""
    reason = str(body.get("reason") or "")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(http_code) or (
        InternalError if http_code >= 500 else BadRequest)
    message = str(body.get("message") or f"the server responded with status {http_code}")
    if retry_after is None:
        seconds = (body.get("details") or {}).get("retryAfterSeconds")
        retry_after = float(seconds) if isinstance(seconds, int | float) and seconds > 0 else None
    err = cls(message, body.get("details"), body, retry_after)
    if http_code != cls.code:
        object.__setattr__(err, "code", http_code)
    return err
