"""An in-memory stand-in for ApiClient, for unit tests of controller and scheduler logic only.

It keeps objects by (plural, namespace, name), assigns uid / resourceVersion / generateName /
creationTimestamp, applies merge patches, records every write, and can replay its state into
informers (`sync`) so a test drives reconcile passes step by step with no sleeps.  `fail(verb,
plural, error, times)` makes the next writes fail with an api.errors class before anything
changes, as the fault-injecting proxy of the integration tests does.

The registry rules controllers rely on are kept too: a write that pins a stale
metadata.resourceVersion is a Conflict, a delete's uid precondition is checked, a delete with
Foreground/Orphan propagation or finalizers only marks the object (deletionTimestamp), an object
marked for deletion goes when its last finalizer is removed, and `namespaces/<n>/finalize`
changes only spec.finalizers.  Integration tests use the real apiserver instead.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from minikube_py.api.errors import AlreadyExists, ApiError, Conflict, Forbidden, NotFound
from minikube_py.api.kinds import KindInfo
from minikube_py.client.informer import Informer, InformerFactory
from minikube_py.client.tracing import note_write

Obj = dict[str, Any]


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict) or not isinstance(target, dict):
        return copy.deepcopy(patch)
    out = dict(target)
    for k, v in patch.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = _merge(out.get(k), v)
    return out


class FakeApi:
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str | None, str], Obj] = {}
        self.calls: list[tuple[str, str, str]] = []  # (verb, plural, name)
        self._rv = itertools.count(1)
        self._names = itertools.count(1)
        self.server = "fake://"
        self.fail_creates = 0
        self._faults: list[list[Any]] = []  # [verb, plural, error, times left]
        self.deletions: list[tuple[str, str, dict[str, Any]]] = []  # (plural, name, delete options)

    def fail(self, verb: str, plural: str, error: ApiError, times: int = 1) -> None:
        """The next `times` calls of `verb` (create, update, patch, delete, bind, list) on `plural` raise `error`."""
        self._faults.append([verb, plural, error, times])

    def _fault(self, verb: str, info: KindInfo) -> None:
        for fault in self._faults:
            if fault[0] == verb and fault[1] == info.plural and fault[3] > 0:
                fault[3] -= 1
                self.calls.append((f"failed-{verb}", info.plural, type(fault[2]).__name__))
                raise fault[2]

    def _key(self, info: KindInfo, ns: str | None, name: str) -> tuple[str, str | None, str]:
        return (info.plural, ns if info.namespaced else None, name)

    def _stamp(self, obj: Obj) -> Obj:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._rv))
        return obj

    def _check_pinned(self, body: Any, cur: Obj) -> None:
        pinned = (body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None
        if pinned not in (None, "", cur["metadata"]["resourceVersion"]):
            raise Conflict("the object has been modified")

    def _store(self, info: KindInfo, key: tuple[str, str | None, str], new: Obj) -> None:
        """Write `new`, or remove it when it was marked for deletion and no finalizer is left."""
        meta = new["metadata"]
        ns_finalizers = (new.get("spec") or {}).get("finalizers") if info.plural == "namespaces" else None
        if meta.get("deletionTimestamp") and not meta.get("finalizers") and not ns_finalizers:
            self.objects.pop(key, None)
        else:
            self.objects[key] = self._stamp(new)

    async def list(self, info: KindInfo, namespace: str | None = None, **params: Any) -> Obj:
        self._fault("list", info)
        items = [copy.deepcopy(o) for (p, ns, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                 if p == info.plural and (namespace is None or not info.namespaced or ns == namespace)]
        return {"apiVersion": info.api_version, "kind": f"{info.kind}List", "items": items,
                "metadata": {"resourceVersion": str(next(self._rv))}}

    async def get(self, info: KindInfo, namespace: str | None, name: str, subresource: str | None = None) -> Obj:
        obj = self.objects.get(self._key(info, namespace, name))
        if obj is None:
            raise NotFound(f'{info.plural} "{name}" not found')
        return copy.deepcopy(obj)

    async def create(self, info: KindInfo, namespace: str | None, body: Obj, subresource: str | None = None,
                     name: str | None = None) -> Obj:
        if subresource == "binding":
            assert name is not None
            self._fault("bind", info)
            pod = self.objects[self._key(info, namespace, name)]
            if (pod.get("spec") or {}).get("nodeName"):
                raise Conflict("already assigned")
            pod.setdefault("spec", {})["nodeName"] = body["target"]["name"]
            self._stamp(pod)
            self.calls.append(("bind", info.plural, f"{name}->{body['target']['name']}"))
            note_write("POST", f"{info.plural}/{name}/binding", 201)
            return {"kind": "Status", "status": "Success"}
        self._fault("create", info)
        if self.fail_creates > 0:
            self.fail_creates -= 1
            raise Forbidden("exceeded quota")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = f"{meta.get('generateName', 'x-')}{next(self._names):05d}"
        if info.namespaced:
            meta["namespace"] = namespace
        key = self._key(info, namespace, meta["name"])
        if key in self.objects:
            raise AlreadyExists(f'"{meta["name"]}" already exists')
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["generation"] = 1
        obj.setdefault("apiVersion", info.api_version)
        obj.setdefault("kind", info.kind)
        self.objects[key] = self._stamp(obj)
        self.calls.append(("create", info.plural, meta["name"]))
        note_write("POST", info.plural, 201)
        return copy.deepcopy(obj)

    async def update(self, info: KindInfo, namespace: str | None, body: Obj, subresource: str | None = None) -> Obj:
        self._fault("update", info)
        key = self._key(info, namespace, body["metadata"]["name"])
        cur = self.objects.get(key)
        if cur is None:
            raise NotFound("not found")
        self._check_pinned(body, cur)
        new = copy.deepcopy(cur)
        if subresource == "status":
            new["status"] = copy.deepcopy(body.get("status"))
        elif subresource == "finalize":
            new.setdefault("spec", {})["finalizers"] = list((body.get("spec") or {}).get("finalizers") or [])
        else:
            new = copy.deepcopy(body)
        self._store(info, key, new)
        self.calls.append((f"update{'/' + subresource if subresource else ''}", info.plural, key[2]))
        note_write("PUT", f"{info.plural}/{key[2]}" + (f"/{subresource}" if subresource else ""), 200)
        return copy.deepcopy(new)

    async def patch(self, info: KindInfo, namespace: str | None, name: str, body: Any, *, patch_type: str = "merge",
                    subresource: str | None = None) -> Obj:
        self._fault("patch", info)
        key = self._key(info, namespace, name)
        cur = self.objects.get(key)
        if cur is None:
            raise NotFound("not found")
        self._check_pinned(body, cur)
        new = _merge(cur, body)
        if "spec" in body and new.get("spec") != cur.get("spec"):
            new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
        self._store(info, key, new)
        self.calls.append((f"patch{'/' + subresource if subresource else ''}", info.plural, name))
        note_write("PATCH", f"{info.plural}/{name}" + (f"/{subresource}" if subresource else ""), 200)
        return copy.deepcopy(new)

    async def delete(self, info: KindInfo, namespace: str | None, name: str, **kwargs: Any) -> Obj | None:
        self._fault("delete", info)
        key = self._key(info, namespace, name)
        cur = self.objects.get(key)
        if cur is None:
            raise NotFound("not found")
        uid = (kwargs.get("preconditions") or {}).get("uid")
        if uid and uid != cur["metadata"].get("uid"):
            raise Conflict(f"Precondition failed: UID in precondition: {uid}, UID in object meta: "
                           f"{cur['metadata'].get('uid')}")
        self.calls.append(("delete", info.plural, name))
        self.deletions.append((info.plural, name, dict(kwargs)))
        note_write("DELETE", info.plural, 200)
        meta = cur["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        wanted = {"Foreground": "foregroundDeletion", "Orphan": "orphan"}.get(kwargs.get("propagation") or "")
        if wanted and wanted not in finalizers and not meta.get("deletionTimestamp"):
            finalizers.append(wanted)
        if finalizers:  # marked, not removed: whoever owns a finalizer finishes the deletion
            if not meta.get("deletionTimestamp"):
                meta["finalizers"] = finalizers
                meta["deletionTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                self._stamp(cur)
            return copy.deepcopy(cur)
        return self.objects.pop(key)

    # --- helpers for tests ---------------------------------------------------------------------

    def of(self, plural: str) -> list[Obj]:
        return [copy.deepcopy(o) for (p, _, _), o in sorted(self.objects.items(), key=lambda kv: str(kv[0]))
                if p == plural]

    def writes(self, verb: str | None = None, plural: str | None = None) -> list[tuple[str, str, str]]:
        return [c for c in self.calls if (verb is None or c[0] == verb) and (plural is None or c[1] == plural)]

    def sync(self, factory: InformerFactory) -> None:
        """Make every informer's cache equal to the fake's objects (as a watch would)."""
        for informer in factory.informers.values():
            self.sync_one(informer)

    def sync_one(self, informer: Informer) -> None:
        informer.replace(self.of(informer.info.plural), "0")
