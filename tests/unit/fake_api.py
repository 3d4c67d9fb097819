"""An in-memory stand-in for ApiClient, for unit tests of controller and scheduler logic only.

It keeps objects by (plural, namespace, name), assigns uid / resourceVersion / generateName /
creationTimestamp, applies merge patches, records every write, and can replay its state into
informers (`sync`) so a test drives reconcile passes step by step with no sleeps.  Integration
tests use the real apiserver instead.
"""

from __future__ import annotations

import copy
import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

from minikube_py.api.kinds import KindInfo
from minikube_py.client.informer import Informer, InformerFactory
from minikube_py.client.rest import StatusError

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

    def _key(self, info: KindInfo, ns: str | None, name: str) -> tuple[str, str | None, str]:
        return (info.plural, ns if info.namespaced else None, name)

    def _stamp(self, obj: Obj) -> Obj:
        obj.setdefault("metadata", {})["resourceVersion"] = str(next(self._rv))
        return obj

    async def get(self, info: KindInfo, namespace: str | None, name: str, subresource: str | None = None) -> Obj:
        obj = self.objects.get(self._key(info, namespace, name))
        if obj is None:
            raise StatusError(404, {"reason": "NotFound", "message": f'{info.plural} "{name}" not found'})
        return copy.deepcopy(obj)

    async def create(self, info: KindInfo, namespace: str | None, body: Obj, subresource: str | None = None,
                     name: str | None = None) -> Obj:
        if subresource == "binding":
            assert name is not None
            pod = self.objects[self._key(info, namespace, name)]
            if (pod.get("spec") or {}).get("nodeName"):
                raise StatusError(409, {"reason": "Conflict", "message": "already assigned"})
            pod.setdefault("spec", {})["nodeName"] = body["target"]["name"]
            self._stamp(pod)
            self.calls.append(("bind", info.plural, f"{name}->{body['target']['name']}"))
            return {"kind": "Status", "status": "Success"}
        if self.fail_creates > 0:
            self.fail_creates -= 1
            raise StatusError(403, {"reason": "Forbidden", "message": "exceeded quota"})
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name"):
            meta["name"] = f"{meta.get('generateName', 'x-')}{next(self._names):05d}"
        if info.namespaced:
            meta["namespace"] = namespace
        key = self._key(info, namespace, meta["name"])
        if key in self.objects:
            raise StatusError(409, {"reason": "AlreadyExists", "message": f'"{meta["name"]}" already exists'})
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        meta["generation"] = 1
        obj.setdefault("apiVersion", info.api_version)
        obj.setdefault("kind", info.kind)
        self.objects[key] = self._stamp(obj)
        self.calls.append(("create", info.plural, meta["name"]))
        return copy.deepcopy(obj)

    async def update(self, info: KindInfo, namespace: str | None, body: Obj, subresource: str | None = None) -> Obj:
        key = self._key(info, namespace, body["metadata"]["name"])
        cur = self.objects.get(key)
        if cur is None:
            raise StatusError(404, {"reason": "NotFound", "message": "not found"})
        if body["metadata"].get("resourceVersion") not in (None, cur["metadata"]["resourceVersion"]):
            raise StatusError(409, {"reason": "Conflict", "message": "the object has been modified"})
        new = copy.deepcopy(cur)
        if subresource == "status":
            new["status"] = copy.deepcopy(body.get("status"))
        else:
            new = copy.deepcopy(body)
        self.objects[key] = self._stamp(new)
        self.calls.append((f"update{'/' + subresource if subresource else ''}", info.plural, key[2]))
        return copy.deepcopy(new)

    async def patch(self, info: KindInfo, namespace: str | None, name: str, body: Any, *, patch_type: str = "merge",
                    subresource: str | None = None) -> Obj:
        key = self._key(info, namespace, name)
        cur = self.objects.get(key)
        if cur is None:
            raise StatusError(404, {"reason": "NotFound", "message": "not found"})
        new = _merge(cur, body)
        if "spec" in body and new.get("spec") != cur.get("spec"):
            new["metadata"]["generation"] = cur["metadata"].get("generation", 1) + 1
        self.objects[key] = self._stamp(new)
        self.calls.append((f"patch{'/' + subresource if subresource else ''}", info.plural, name))
        return copy.deepcopy(new)

    async def delete(self, info: KindInfo, namespace: str | None, name: str, **kwargs: Any) -> Obj | None:
        key = self._key(info, namespace, name)
        if key not in self.objects:
            raise StatusError(404, {"reason": "NotFound", "message": "not found"})
        self.calls.append(("delete", info.plural, name))
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
