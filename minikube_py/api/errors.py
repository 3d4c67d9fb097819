"""API errors as Kubernetes reports them.

Every failure the apiserver returns is one of these; the apiserver's error middleware turns it
into a `meta/v1 Status` body with the same code, reason and message the real apiserver uses, and
the client turns a Status back into the same class.  One flat tree, one class per status.
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
    code: ClassVar[int] = 500
    reason: ClassVar[str] = "InternalError"

    def __post_init__(self) -> None:
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        return self.message

    def status(self) -> dict[str, Any]:
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


class RequestEntityTooLarge(ApiError):
    code, reason = 413, "RequestEntityTooLarge"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


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


class InternalError(ApiError):
    code, reason = 500, "InternalError"


class ServiceUnavailable(ApiError):
    code, reason = 503, "ServiceUnavailable"


class Timeout(ApiError):
    code, reason = 504, "Timeout"


_BY_REASON: dict[str, type[ApiError]] = {
    c.reason: c
    for c in (
        BadRequest, Unauthorized, Forbidden, NotFound, MethodNotAllowed, NotAcceptable, AlreadyExists,
        Conflict, Expired, RequestEntityTooLarge, UnsupportedMediaType, Invalid, TooManyRequests,
        InternalError, ServiceUnavailable, Timeout,
    )
}
_BY_CODE: dict[int, type[ApiError]] = {}
for _cls in _BY_REASON.values():
    _BY_CODE.setdefault(_cls.code, _cls)


def from_status(body: dict[str, Any], http_code: int) -> ApiError:
    """The client side: a Status body (or its absence) back to the matching class."""
    reason = str(body.get("reason") or "")
    cls = _BY_REASON.get(reason) or _BY_CODE.get(http_code) or InternalError
    message = str(body.get("message") or f"the server responded with status {http_code}")
    err = cls(message, body.get("details"))
    return err
