"""Query parameters and DeleteOptions, checked as kube-apiserver decodes them.

Called by the resource handlers (resources.py) before anything reaches the Registry or a store.
Kubernetes' option structs hold int64 values: a value that is not an integer, or out of int64
range, is a 400 BadRequest naming the parameter; any int64 is accepted.  Values a store cannot
hold (sqlite and etcd take signed 64-bit revisions and limits) are clamped here, so that no
store ever sees them: a list limit above MAX_LIMIT is simply no smaller than any real list.
"""

from __future__ import annotations

import re
from typing import Any

from ..api import errors as E
from .registry import DeleteOptions

INT64_MAX = 2**63 - 1
UINT64_MAX = 2**64 - 1
MAX_LIMIT = 2**31 - 1  # more objects than any store here holds: "no limit", in a size every store takes
# A resourceVersion larger than any revision: its watch waits for revisions that never come.  Kept
# below int64 so that the store's own arithmetic (start + 1) stays in range.
MAX_REVISION = 2**62
_GO_INT = re.compile(r"[+-]?[0-9]+")  # strconv.ParseInt's syntax (Python's int() also takes " 1_0 ")


def int64(name: str, value: str | None) -> int | None:
    """A query parameter of type int64: None when absent or empty, 400 when it is not an int64."""
    if value is None or value == "":
        return None
    if not _GO_INT.fullmatch(value):
        raise E.BadRequest(f'{name}: Invalid value: "{_short(value)}": must be an integer')
    number = int(value)
    if not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise E.BadRequest(f'{name}: Invalid value: "{_short(value)}": must be a 64-bit integer (at most '
                           f"{INT64_MAX})")
    return number


def list_limit(value: str | None) -> int:
    """`limit`: 0 (no limit) for absent, zero or negative values, as kube-apiserver pages only when > 0."""
    limit = int64("limit", value) or 0
    return 0 if limit <= 0 else min(limit, MAX_LIMIT)


def timeout_seconds(value: str | None) -> str | None:
    """`timeoutSeconds` of a watch, checked; the watch code turns it into its deadline."""
    seconds = int64("timeoutSeconds", value)
    return None if seconds is None else str(seconds)


def resource_version(value: str | None) -> str:
    """`resourceVersion` of a get, list or watch: "" or a uint64 (kube-apiserver's ParseResourceVersion),
    else 400 as its ValidateListOptions answers.  Huge values are clamped to MAX_REVISION."""
    if not value or value == "0":
        return value or ""
    if not value.isascii() or not value.isdigit():
        raise E.BadRequest(f'invalid resource version: resourceVersion: Invalid value: "{_short(value)}": '
                           f'strconv.ParseUint: parsing "{_short(value)}": invalid syntax')
    number = int(value)
    if number > UINT64_MAX:
        raise E.BadRequest(f'invalid resource version: resourceVersion: Invalid value: "{_short(value)}": '
                           f'strconv.ParseUint: parsing "{_short(value)}": value out of range')
    return str(min(number, MAX_REVISION))


def continue_revision(revision: Any) -> int:
    """The revision inside a continue token: an int64; negative means "the latest", as in Kubernetes."""
    if not isinstance(revision, int) or isinstance(revision, bool) or revision > INT64_MAX:
        raise E.BadRequest("continue: Invalid value: the continue token is not valid")
    return max(0, min(revision, MAX_REVISION))


def delete_options(query: Any, body: Any) -> DeleteOptions:
    """DeleteOptions from the body (a meta/v1 DeleteOptions) and the query, the body winning."""
    if not isinstance(body, dict):
        raise E.BadRequest("DeleteOptions in version \"v1\" cannot be handled as a DeleteOptions: the object must "
                           "be a JSON/YAML map")
    grace_raw = body.get("gracePeriodSeconds")
    if grace_raw is None:
        grace = int64("gracePeriodSeconds", query.get("gracePeriodSeconds"))
    elif isinstance(grace_raw, int) and not isinstance(grace_raw, bool) and -INT64_MAX - 1 <= grace_raw <= INT64_MAX:
        grace = grace_raw
    else:
        raise _bad_field("gracePeriodSeconds", "must be a 64-bit integer")
    policy = body.get("propagationPolicy", query.get("propagationPolicy"))
    orphan = body.get("orphanDependents", query.get("orphanDependents"))
    if orphan is not None and not isinstance(orphan, bool | str):
        raise _bad_field("orphanDependents", "must be a boolean")
    if policy is None and orphan is not None:
        policy = "Orphan" if str(orphan).lower() in ("1", "true", "yes") else "Background"
    if policy not in (None, "Background", "Foreground", "Orphan"):
        shown = policy if isinstance(policy, str) else repr(policy)
        raise E.BadRequest(f'propagationPolicy: Unsupported value: "{_short(shown)}": supported values: '
                           '"Background", "Foreground", "Orphan"')
    pre = body.get("preconditions")
    if pre is None:
        pre = {}
    if not isinstance(pre, dict):
        raise _bad_field("preconditions", "must be an object")
    for key in ("uid", "resourceVersion"):
        if pre.get(key) is not None and not isinstance(pre[key], str):
            raise _bad_field(f"preconditions.{key}", "must be a string")
    body_dry = body.get("dryRun")
    if body_dry is None:
        body_dry = []
    if not isinstance(body_dry, list) or not all(isinstance(d, str) for d in body_dry):
        raise _bad_field("dryRun", "must be a list of strings")
    dry = body_dry + list(query.getall("dryRun", []))
    for d in dry:
        if d != "All":
            raise E.BadRequest(f'dryRun: Unsupported value: "{_short(d)}": supported values: "All"')
    return DeleteOptions(grace_period_seconds=grace, propagation_policy=policy,
                         precondition_uid=pre.get("uid"), precondition_rv=pre.get("resourceVersion"),
                         dry_run=bool(dry),
                         orphan_dependents=None if orphan is None else str(orphan).lower() in ("1", "true", "yes"))


def _bad_field(path: str, problem: str) -> E.BadRequest:
    return E.BadRequest(f'DeleteOptions in version "v1" cannot be handled as a DeleteOptions: {path}: {problem}')


def _short(value: str, limit: int = 256) -> str:
    """User input quoted in a message, cut so that a huge value never makes a huge answer."""
    return value if len(value) <= limit else value[:limit] + "..."
