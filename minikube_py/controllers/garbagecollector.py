"""Garbage collector: ownerReferences with background, foreground and orphan deletion.

It keeps an owner graph (uid -> dependents) over informers of every kind that can own or be owned,
and acts on three situations, as Kubernetes' collector does:

- a dependent whose owners are all gone (checked against the apiserver, not only the cache) is
  deleted in the background; owner references to vanished owners are removed when other owners
  remain;
- an owner being deleted with the `foregroundDeletion` finalizer has its dependents deleted (in the
  foreground too) and loses the finalizer once no dependent with blockOwnerDeletion is left;
- an owner being deleted with the `orphan` finalizer has its references removed from every
  dependent, then loses the finalizer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ..api import kinds
from ..api.errors import ApiError, NotFound
from ..client.informer import Informer, key_of
from .base import Controller, ControllerContext

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.controllers.gc")

# kinds that never take part (no owners, very many objects)
_SKIP = {("", "Event"), ("events.k8s.io", "Event"), ("coordination.k8s.io", "Lease")}


class GarbageCollector(Controller):
    name = "garbage-collector"
    kind = "Object"
    workers = 4

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.informers: dict[str, Informer] = {}
        self.by_uid: dict[str, tuple[Informer, str]] = {}  # uid -> (informer, key)
        self.dependents: dict[str, set[tuple[str, str]]] = {}  # owner uid -> {(plural, key)}
        for info in kinds.KINDS:
            if (info.group, info.kind) in _SKIP:
                continue
            inf = ctx.informers.get(info)
            self.informers[info.qualified_plural] = inf
            inf.add_handler(self._handler_for(inf))

    # --- the graph -----------------------------------------------------------------------------

    def _handler_for(self, inf: Informer) -> Callable[[str, Obj, Obj | None], None]:
        def handle(kind: str, obj: Obj, old: Obj | None) -> None:
            self._on_event(inf, kind, obj, old)
        return handle

    def _on_event(self, inf: Informer, kind: str, obj: Obj, old: Obj | None) -> None:
        meta = obj.get("metadata") or {}
        uid = str(meta.get("uid") or "")
        key = key_of(obj)
        item = (inf.info.qualified_plural, key)
        for ref in ((old or {}).get("metadata") or {}).get("ownerReferences") or []:
            self.dependents.get(str(ref.get("uid")), set()).discard(item)
        if kind == "DELETED":
            self.by_uid.pop(uid, None)
            for dep in list(self.dependents.get(uid, ())):  # dependents of a vanished owner: check them
                self.add(dep)
            # a dependent gone may unblock an owner waiting in the foreground (as the graph builder
            # does): without this the owner only noticed on its next poll
            for ref in meta.get("ownerReferences") or []:
                owner = self.by_uid.get(str(ref.get("uid")))
                if owner is not None and self._owner_waiting(ref):
                    self.add((owner[0].info.qualified_plural, owner[1]))
            return
        self.by_uid[uid] = (inf, key)
        refs = meta.get("ownerReferences") or []
        for ref in refs:
            self.dependents.setdefault(str(ref.get("uid")), set()).add(item)
        finalizers = meta.get("finalizers") or []
        if refs and (old is None or refs != ((old.get("metadata") or {}).get("ownerReferences") or [])):
            self.add(item)
        if meta.get("deletionTimestamp") and ("orphan" in finalizers or "foregroundDeletion" in finalizers):
            self.add(item)
        if old is not None and meta.get("deletionTimestamp"):
            # a dependent going away may unblock an owner waiting in the foreground
            for ref in refs:
                owner = self.by_uid.get(str(ref.get("uid")))
                if owner is not None:
                    self.add((owner[0].info.qualified_plural, owner[1]))

    def trace_subject(self, key: Any) -> tuple[str, str]:
        plural, obj_key = key
        inf = self.informers.get(plural)
        return (inf.info.kind if inf is not None else plural), str(obj_key)

    # --- reconcile -------------------------------------------------------------------------------

    async def reconcile(self, item: Any) -> float | None:
        """`item` is (qualified plural, key): the graph spans every kind."""
        plural, key = item
        inf = self.informers.get(plural)
        if inf is None:
            return None
        obj = inf.get(key)
        if obj is None:
            return None
        meta = obj.get("metadata") or {}
        finalizers = meta.get("finalizers") or []
        if meta.get("deletionTimestamp"):
            if "orphan" in finalizers:
                await self._orphan(inf, obj)
                return None
            if "foregroundDeletion" in finalizers:
                return await self._foreground(inf, obj)
        if meta.get("ownerReferences"):
            await self._check_owners(inf, obj)
        return None

    async def _owner_exists(self, ref: Obj, namespace: str | None) -> bool:
        uid = str(ref.get("uid"))
        if uid in self.by_uid:
            return True
        info = kinds.by_kind(str(ref.get("apiVersion", "")), str(ref.get("kind", "")))
        if info is None:
            return True  # a kind this server does not know: never collect on a guess
        try:
            live = await self.client.get(info, namespace if info.namespaced else None, str(ref.get("name")))
        except ApiError as exc:
            if isinstance(exc, NotFound):
                return False
            raise
        return str((live.get("metadata") or {}).get("uid")) == uid

    async def _check_owners(self, inf: Informer, obj: Obj) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace")
        refs = meta.get("ownerReferences") or []
        alive = [r for r in refs if await self._owner_exists(r, ns)]
        if len(alive) == len(refs):
            return
        name = meta["name"]
        if alive:
            log.info("%s %s: removing references to vanished owners", inf.info.plural, key_of(obj))
            await self._patch(inf, obj, {"metadata": {"ownerReferences": alive, "uid": meta.get("uid")}})
            return
        waiting = any(self._owner_waiting(r) for r in refs)
        policy = "Foreground" if waiting else "Background"
        log.info("%s %s: all owners gone; deleting (%s)", inf.info.plural, key_of(obj), policy)
        try:
            await self.client.delete(inf.info, ns, name, propagation=policy, preconditions={"uid": meta.get("uid")})
        except ApiError as exc:
            if not isinstance(exc, NotFound):  # a Conflict is retried: the next pass reads again
                raise

    def _owner_waiting(self, ref: Obj) -> bool:
        owner = self.by_uid.get(str(ref.get("uid")))
        if owner is None:
            return False
        obj = owner[0].get(owner[1]) or {}
        return "foregroundDeletion" in ((obj.get("metadata") or {}).get("finalizers") or [])

    def _dependents_of(self, uid: str) -> list[tuple[Informer, Obj]]:
        out = []
        for plural, key in sorted(self.dependents.get(uid, ())):
            inf = self.informers.get(plural)
            dep = inf.get(key) if inf else None
            if inf is not None and dep is not None and any(
                    str(r.get("uid")) == uid for r in (dep.get("metadata") or {}).get("ownerReferences") or []):
                out.append((inf, dep))
        return out

    async def _orphan(self, inf: Informer, obj: Obj) -> None:
        uid = str(obj["metadata"].get("uid"))
        for dinf, dep in self._dependents_of(uid):
            refs = [r for r in dep["metadata"].get("ownerReferences") or [] if str(r.get("uid")) != uid]
            await self._patch(dinf, dep, {"metadata": {"ownerReferences": refs or None,
                                                       "uid": dep["metadata"].get("uid")}})
        await self._remove_finalizer(inf, obj, "orphan")

    async def _foreground(self, inf: Informer, obj: Obj) -> float | None:
        uid = str(obj["metadata"].get("uid"))
        blocking = 0
        for dinf, dep in self._dependents_of(uid):
            dmeta = dep["metadata"]
            ref = next(r for r in dmeta.get("ownerReferences") or [] if str(r.get("uid")) == uid)
            if ref.get("blockOwnerDeletion"):
                blocking += 1
            if not dmeta.get("deletionTimestamp"):
                try:
                    await self.client.delete(dinf.info, dmeta.get("namespace"), dmeta["name"],
                                             propagation="Foreground", preconditions={"uid": dmeta.get("uid")})
                except ApiError as exc:
                    if not isinstance(exc, NotFound):  # a Conflict is retried: the next pass reads again
                        raise
        if blocking:
            return 2.0  # look again (dependents' deletion events also wake us)
        await self._remove_finalizer(inf, obj, "foregroundDeletion")
        return None

    async def _remove_finalizer(self, inf: Informer, obj: Obj, finalizer: str) -> None:
        meta = obj["metadata"]
        rest = [f for f in meta.get("finalizers") or [] if f != finalizer]
        await self._patch(inf, obj, {"metadata": {"finalizers": rest or None,
                                                  "resourceVersion": meta.get("resourceVersion")}})

    async def _patch(self, inf: Informer, obj: Obj, patch: Obj) -> None:
        meta = obj["metadata"]
        try:
            await self.client.patch(inf.info, meta.get("namespace") if inf.info.namespaced else None, meta["name"],
                                    patch)
        except ApiError as exc:
            if not isinstance(exc, NotFound):
                raise
