"""Which state a list reads: resourceVersion, resourceVersionMatch and continue, as kube-apiserver.

Called by the resource handlers (resources.py) before a list reads the store, and to turn a
failed read into kube-apiserver's answer.  The rules (apimachinery's ValidateListOptions and
storage/etcd3's GetList):
- resourceVersion unset or "0": the latest state.
- resourceVersion N without resourceVersionMatch: not older than N; with `limit`, exactly N.
- N with NotOlderThan: the latest state, which must be at N or newer; with Exact: the state at N,
  410 Expired if N was compacted.
- A state newer than the store: 504 "Too large resource version", which clients retry.
- continue: the state at the first page's revision; once that is compacted, 410 with a token in
  the Status that goes on at the latest state.
- resourceVersionMatch needs resourceVersion, is forbidden with continue, and Exact is forbidden
  for "0": 422 on ListOptions.meta.k8s.io.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..api import errors as E

EXACT, NOT_OLDER_THAN = "Exact", "NotOlderThan"
_EXPIRED_LIST = "The resourceVersion for the provided list is too old."
_EXPIRED_CONTINUE = ("The provided continue parameter is too old to display a consistent list result. You can "
                     "start a new list without the continue parameter, or use the continue token in this response "
                     "to retrieve the remainder of the results. Continuing with the provided token results in an "
                     "inconsistent list - objects that were created, modified, or deleted between the time the first "
                     "chunk was returned and now may show up in the list.")


@dataclass(frozen=True, slots=True)
class ListPlan:
    revision: int  # read the state at exactly this revision; 0: the latest
    minimum: int = 0  # the latest state read must be at least this revision
    continuing: bool = False


@dataclass
class ExpiredContinue(E.Expired):
    """410 for a compacted continue token; the Status carries a token that continues at the latest state."""

    continue_token: str = ""

    def status(self) -> dict[str, Any]:
        body = super().status()
        if self.continue_token:
            body["metadata"] = {"continue": self.continue_token}
        return body


def plan(resource_version: str, match: str, *, continue_revision: int | None, limit: int) -> ListPlan:
    """`resource_version` as checked by params.resource_version; `continue_revision` from the token
    (None without one, 0 for a token that continues at the latest state)."""
    errors: list[E.FieldError] = []
    if match:
        if not resource_version:
            errors.append(E.FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden unless "
                                                                         "resourceVersion is provided"))
        if continue_revision is not None:
            errors.append(E.FieldError.forbidden("resourceVersionMatch", "resourceVersionMatch is forbidden when "
                                                                         "continue is provided"))
        if match not in (EXACT, NOT_OLDER_THAN):
            errors.append(E.FieldError.not_supported("resourceVersionMatch", match, [EXACT, NOT_OLDER_THAN, ""]))
        if match == EXACT and resource_version == "0":
            errors.append(E.FieldError.forbidden("resourceVersionMatch", 'resourceVersionMatch "exact" is forbidden '
                                                                         'for resourceVersion "0"'))
    if errors:
        raise E.Invalid.of("ListOptions", "meta.k8s.io", "", errors)
    if continue_revision is not None:
        return ListPlan(continue_revision, continuing=True)
    revision = int(resource_version) if resource_version not in ("", "0") else 0
    if not revision:
        return ListPlan(0)
    if match == EXACT or (not match and limit > 0):
        return ListPlan(revision)
    return ListPlan(0, minimum=revision)


def too_large(requested: int, current: int) -> E.Timeout:
    """kube-apiserver's answer for a state the store has not reached yet (clients retry it)."""
    return E.Timeout(f"Timeout: Too large resource version: {requested}, current: {current}",
                     {"causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                      "retryAfterSeconds": 1})


def check_minimum(list_plan: ListPlan, revision: int) -> None:
    if list_plan.minimum > revision:
        raise too_large(list_plan.minimum, revision)


def expired(list_plan: ListPlan, latest_continue_token: str) -> E.Expired:
    """The 410 for a read at a compacted revision; `latest_continue_token` resumes a paginated list
    at the latest state (the "inconsistent continue" kube-apiserver offers)."""
    if list_plan.continuing:
        return ExpiredContinue(_EXPIRED_CONTINUE, continue_token=latest_continue_token)
    return E.Expired(_EXPIRED_LIST)
