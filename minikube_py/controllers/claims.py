"""Who owns what: the controller-reference rules the workload controllers share (Kubernetes'
ControllerRefManager), in one place.

- `owned(informer, owner)`: the objects whose controller reference is `owner`, from one shared
  index on the informer (pods by ReplicaSet or StatefulSet, ReplicaSets by Deployment).
- `claim(...)`: a controller's view of its objects after adopting matching orphans and releasing
  owned objects that stopped matching its selector; both are uid-preconditioned patches, so an
  object replaced meanwhile is left alone (the next pass sees it).
- `delete_owned(...)`: delete one object with a uid precondition; gone already is fine.

Used by controllers/replicaset.py, deployment.py and statefulset.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from ..api.errors import Invalid, NotFound
from ..api.kinds import KindInfo
from ..client.aio import ApiClient
from ..client.informer import Informer

Obj = dict[str, Any]
CONTROLLER_INDEX = "controller"


def controller_of(obj: Obj) -> Obj | None:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_ref(owner: Obj, *, block: bool = True) -> Obj:
    meta = owner.get("metadata") or {}
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"), "name": meta.get("name"),
            "uid": meta.get("uid"), "controller": True, "blockOwnerDeletion": block}


def _by_controller(obj: Obj) -> list[str]:
    meta = obj.get("metadata") or {}
    return [f"{meta.get('namespace')}/{r.get('uid')}" for r in meta.get("ownerReferences") or [] if r.get("controller")]


def index_by_controller(informer: Informer) -> None:
    """Index `informer` by controller reference (once, however many controllers ask)."""
    if not informer.has_index(CONTROLLER_INDEX):
        informer.add_index(CONTROLLER_INDEX, _by_controller)


def owned(informer: Informer, owner: Obj) -> list[Obj]:
    """Objects of `informer` whose controller reference points at `owner` (by uid)."""
    meta = owner.get("metadata") or {}
    return informer.by_index(CONTROLLER_INDEX, f"{meta.get('namespace')}/{meta.get('uid')}")


async def _set_owner(client: ApiClient, info: KindInfo, obj: Obj, *, adopt: Obj | None = None,
                     release: str | None = None) -> Obj | None:
    meta = obj["metadata"]
    refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != release]
    if adopt is not None:
        refs.append(owner_ref(adopt))
    try:  # the uid in the patch is a precondition: a replaced object is 422 (uid is immutable)
        patched: Obj = await client.patch(info, meta.get("namespace"), meta["name"],
                                          {"metadata": {"ownerReferences": refs, "uid": meta.get("uid")}})
        return patched
    except (NotFound, Invalid):
        return None  # gone, or replaced: the next pass sees what is there


async def claim(client: ApiClient, info: KindInfo, owner: Obj, *, matches: Callable[[Obj], bool],
                owned_now: Iterable[Obj], orphans: Iterable[Obj],
                adoptable: Callable[[Obj], bool] = lambda o: True) -> list[Obj]:
    """The objects `owner` controls after this pass: owned ones that match; matching orphans adopted
    (not while the owner is being deleted); owned ones that stopped matching released."""
    result: list[Obj] = []
    for obj in owned_now:
        if matches(obj):
            result.append(obj)
        elif not (obj.get("metadata") or {}).get("deletionTimestamp"):
            await _set_owner(client, info, obj, release=(owner.get("metadata") or {}).get("uid"))
    if (owner.get("metadata") or {}).get("deletionTimestamp"):
        return result
    for obj in orphans:
        if controller_of(obj) is not None or (obj.get("metadata") or {}).get("deletionTimestamp"):
            continue
        if adoptable(obj) and matches(obj):
            adopted = await _set_owner(client, info, obj, adopt=owner)
            if adopted is not None:
                result.append(adopted)
    return result


async def delete_owned(client: ApiClient, info: KindInfo, obj: Obj) -> bool:
    """Delete `obj` if it is still the same object (uid precondition).  False if it was gone; a
    Conflict (replaced, or a stale cache) is raised, so the pass is retried."""
    meta = obj["metadata"]
    try:
        await client.delete(info, meta.get("namespace"), meta["name"], preconditions={"uid": meta.get("uid")})
    except NotFound:
        return False
    return True
