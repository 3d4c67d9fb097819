"""Which tolerations tolerate a taint: Kubernetes' ToleratesTaint rule, in one place.

The scheduler's taint filter, the node lifecycle controller's NoExecute eviction and the node
agent's admission all ask the same question.  A toleration with an empty effect matches every
effect; an empty key with operator Exists matches every taint; operator Equal (the default)
compares values.
"""

from __future__ import annotations

from typing import Any

Obj = dict[str, Any]


def toleration_matches(toleration: Obj, taint: Obj) -> bool:
    effect = toleration.get("effect")
    if effect and effect != taint.get("effect"):
        return False
    operator = toleration.get("operator") or "Equal"
    if not toleration.get("key"):
        return operator == "Exists"
    if toleration.get("key") != taint.get("key"):
        return False
    return operator == "Exists" or (toleration.get("value") or "") == (taint.get("value") or "")


def matching_tolerations(tolerations: list[Obj] | None, taint: Obj) -> list[Obj]:
    return [t for t in tolerations or [] if toleration_matches(t, taint)]


def tolerates(tolerations: list[Obj] | None, taint: Obj) -> bool:
    return any(toleration_matches(t, taint) for t in tolerations or [])
