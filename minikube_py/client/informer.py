"""Informers: a list + watch cache of one kind, kept current from the apiserver.

`Informer.run()` lists (in pages), replaces its cache and tells its handlers what changed, then
watches from the list's resourceVersion; a watch that ends is resumed from the last version seen,
a 410 Expired (the version left the server's history) or a failure starts over with a list.
Every `resync` seconds the cache is replayed to the handlers as MODIFIED events with the same
object as old and new (client-go's resync), so a key lost to a failed handler or pass heals;
handlers of secondary objects skip those with `is_resync`.  Handlers only enqueue keys (see
controllers/base.py): no business logic runs in them, and one that raises is logged at WARNING
with the object's key and does not stop the others.

Indexes (`add_index`) answer "pods on node X" or "pods owned by Y" without a scan.  Components
that share a kind share one informer through `InformerFactory`.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
import sys
from collections.abc import Callable
from typing import Any

import orjson

from ..api.errors import ApiError, Expired
from ..api.kinds import KindInfo
from .aio import ApiClient
from .clock import SYSTEM, Clock

log = logging.getLogger("minikube_py.informer")
# the event a handler is being called for ("MODIFIED Pod default/web-1"): controllers note it as
# the trigger of the key they enqueue (see controllers/base.py and client/tracing.py)
CURRENT_EVENT: contextvars.ContextVar[str] = contextvars.ContextVar("minikube_py_event", default="")
Obj = dict[str, Any]
Handler = Callable[[str, Obj, Obj | None], None]  # (event type ADDED/MODIFIED/DELETED, object, old object)


_POD_META = ("name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
             "deletionGracePeriodSeconds", "labels", "ownerReferences", "finalizers")
_POD_SPEC = ("nodeName", "schedulerName", "priority", "tolerations", "nodeSelector", "affinity", "overhead",
             "hostNetwork", "hostname", "subdomain")
_SHARED_SPEC = ("schedulerName", "tolerations", "nodeSelector", "affinity", "overhead")
_intern = sys.intern
_shared: dict[bytes, Any] = {}
_SHARED_MAX = 50_000


def _share(value: Any) -> Any:
    """One object for equal values: the 1,000 pods of a ReplicaSet have equal labels, owners,
    containers and tolerations, and holding them once each is most of what a pod costs.  Objects
    in informer caches are read-only (controllers copy before they change anything)."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    key = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    found = _shared.get(key)
    if found is None:
        if len(_shared) >= _SHARED_MAX:
            _shared.clear()
        _shared[key] = found = value
    return found


def slim_pod(pod: Obj) -> Obj:
    """What the control plane reads of a pod, and nothing else, with equal parts shared.

    30,000 pods held as full JSON dicts would cost the master most of its memory (client-go's
    informers strip managedFields for the same reason).  Kept: identity, labels, owners,
    finalizers; scheduling inputs (node, tolerations, selectors, affinity, per-container requests
    and ports, claims); hostname and subdomain (EndpointSlices name a StatefulSet's pods by them);
    status phase, pod IP (the first of podIPs when podIP is unset), condition types/statuses/transition times and restart counts.  Everything
    the controllers write back goes through patches or status updates, so nothing is lost on the
    server."""
    meta, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    m = {k: meta[k] for k in _POD_META if k in meta}
    if "namespace" in m:
        m["namespace"] = _intern(str(m["namespace"]))
    for k in ("labels", "ownerReferences", "finalizers"):
        if k in m:
            m[k] = _share(m[k])
    s: Obj = {k: spec[k] for k in _POD_SPEC if k in spec}
    if "nodeName" in s and isinstance(s["nodeName"], str):
        s["nodeName"] = _intern(s["nodeName"])
    for k in _SHARED_SPEC:
        if k in s:
            s[k] = _share(s[k])
    s["containers"] = _share([{k: c[k] for k in ("name", "image", "ports", "resources") if k in c}
                              for c in spec.get("containers") or []])
    if spec.get("initContainers"):
        s["initContainers"] = _share([{k: c[k] for k in ("name", "resources") if k in c}
                                      for c in spec["initContainers"]])
    claims = [{"name": v.get("name"), "persistentVolumeClaim": v["persistentVolumeClaim"]}
              for v in spec.get("volumes") or [] if v.get("persistentVolumeClaim")]
    if claims:  # the scheduler and the volume binder follow pods to their claims
        s["volumes"] = _share(claims)
    st: Obj = {}
    if "phase" in status:
        st["phase"] = _intern(str(status["phase"]))
    for k in ("podIP", "reason", "nominatedNodeName"):
        if k in status:
            st[k] = status[k]
    if not status.get("podIP") and status.get("podIPs"):  # the endpoint controllers list the first then
        st["podIPs"] = status["podIPs"][:1]
    if status.get("conditions"):
        st["conditions"] = _share([{k: c[k] for k in ("type", "status", "reason", "message", "lastTransitionTime")
                                    if k in c} for c in status["conditions"]])
    if status.get("containerStatuses"):
        st["containerStatuses"] = _share([{"name": c.get("name"), "ready": c.get("ready"),
                                           "restartCount": c.get("restartCount", 0)}
                                          for c in status["containerStatuses"]])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": s, "status": st}


def strip_heavy_metadata(obj: Obj) -> Obj:
    """managedFields and kubectl's last-applied copy: never read by a controller, often large."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and (meta.get("managedFields") or
                                   "kubectl.kubernetes.io/last-applied-configuration" in (meta.get("annotations") or {})):
        meta = dict(meta)
        meta.pop("managedFields", None)
        if meta.get("annotations"):
            meta["annotations"] = {k: v for k, v in meta["annotations"].items()
                                   if k != "kubectl.kubernetes.io/last-applied-configuration"}
        obj = {**obj, "metadata": meta}
    return obj


def is_resync(kind: str, obj: Obj, old: Obj | None) -> bool:
    """A periodic resync: a MODIFIED event with the same version as before (never a DELETED one,
    whose old object is the last version too)."""
    return kind == "MODIFIED" and old is not None and (old.get("metadata") or {}).get("resourceVersion") == \
        (obj.get("metadata") or {}).get("resourceVersion")


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


def split_key(key: str) -> tuple[str | None, str]:
    ns, sep, name = key.partition("/")
    return (ns, name) if sep else (None, ns)


class Informer:
    def __init__(self, client: ApiClient, info: KindInfo, *, namespace: str | None = None,
                 label_selector: str = "", field_selector: str = "", page_size: int = 1000,
                 resync: float | None = None, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.resync = resync
        self.clock = clock
        self.info = info
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.page_size = page_size
        # what the cache keeps of each object (pods are slimmed: see slim_pod)
        self.transform: Callable[[Obj], Obj] = slim_pod if (info.group, info.kind) == ("", "Pod") \
            else strip_heavy_metadata
        self.cache: dict[str, Obj] = {}
        self.handlers: list[Handler] = []
        self.synced = asyncio.Event()
        self.resource_version = ""
        self._indexers: dict[str, Callable[[Obj], list[str]]] = {}
        self._indexes: dict[str, dict[str, set[str]]] = {}
        self.relists = 0
        self.resyncs = 0
        self.handler_errors = 0

    # --- reading the cache -------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self.cache.get(key)

    def objects(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self.cache.values())
        return [o for o in self.cache.values() if (o.get("metadata") or {}).get("namespace") == namespace]

    def has_index(self, name: str) -> bool:
        return name in self._indexers

    def add_index(self, name: str, fn: Callable[[Obj], list[str]]) -> None:
        self._indexers[name] = fn
        index: dict[str, set[str]] = {}
        for key, obj in self.cache.items():
            for value in fn(obj):
                index.setdefault(value, set()).add(key)
        self._indexes[name] = index

    def by_index(self, name: str, value: str) -> list[Obj]:
        """Objects whose index `name` has `value` (in no particular order)."""
        cache = self.cache
        return [cache[k] for k in self._indexes.get(name, {}).get(value, ()) if k in cache]

    def add_handler(self, handler: Handler) -> None:
        self.handlers.append(handler)
        for obj in list(self.cache.values()):  # a late handler hears about what is already there
            handler("ADDED", obj, None)

    # --- keeping the cache (also used by tests to preload it) ---------------------------------

    def apply(self, kind: str, obj: Obj) -> None:
        obj = self.transform(obj)
        key = key_of(obj)
        old = self.cache.get(key)
        if old is not None:
            self._unindex(key, old)
        if kind == "DELETED":
            self.cache.pop(key, None)
        else:
            self.cache[key] = obj
            self._index(key, obj)
            if kind == "ADDED" and old is not None:
                kind = "MODIFIED"
        self._notify(kind, key, obj, old)

    def _notify(self, kind: str, key: str, obj: Obj, old: Obj | None) -> None:
        token = CURRENT_EVENT.set(f"{kind} {self.info.kind} {key}")
        try:
            for handler in self.handlers:
                try:
                    handler(kind, obj, old)
                except Exception as exc:  # noqa: BLE001 - one bad handler must not stop the informer
                    self.handler_errors += 1
                    log.warning("%s: %s handler %s failed on %s: %s: %s (the next resync retries it)", key,
                                self.info.plural, getattr(handler, "__qualname__", handler), kind,
                                type(exc).__name__, exc, exc_info=True)
        finally:
            CURRENT_EVENT.reset(token)

    def resync_now(self) -> None:
        """Replay the cache to the handlers (MODIFIED, old is new), as client-go's resync does."""
        self.resyncs += 1
        for key, obj in list(self.cache.items()):
            self._notify("MODIFIED", key, obj, obj)

    async def _resync_loop(self) -> None:
        assert self.resync
        while True:
            await self.clock.sleep(self.resync)
            if self.synced.is_set():
                self.resync_now()

    def _index(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            for value in fn(obj):
                self._indexes[name].setdefault(value, set()).add(key)

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, fn in self._indexers.items():
            for value in fn(obj):
                keys = self._indexes[name].get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indexes[name][value]

    def replace(self, items: list[Obj], resource_version: str) -> None:
        fresh = {key_of(o): o for o in items}  # apply() transforms them
        for key in [k for k in self.cache if k not in fresh]:
            self.apply("DELETED", self.cache[key])
        for key, obj in fresh.items():
            old = self.cache.get(key)
            if old is None:
                self.apply("ADDED", obj)
            elif (old.get("metadata") or {}).get("resourceVersion") != (obj.get("metadata") or {}).get(
                    "resourceVersion"):
                self.apply("MODIFIED", obj)
        self.resource_version = resource_version
        self.synced.set()

    # --- the loop ----------------------------------------------------------------------------

    async def _list(self) -> None:
        items: list[Obj] = []
        token = ""
        rv = ""
        while True:
            page = await self.client.list(self.info, self.namespace, labelSelector=self.label_selector,
                                          fieldSelector=self.field_selector, limit=self.page_size,
                                          **{"continue": token or None})
            for item in page.get("items") or []:
                item.setdefault("apiVersion", self.info.api_version)
                item.setdefault("kind", self.info.kind)
                items.append(item)
            meta = page.get("metadata") or {}
            rv = rv or str(meta.get("resourceVersion") or "")
            token = meta.get("continue") or ""
            if not token:
                break
        self.relists += 1
        self.replace(items, rv)

    async def run(self) -> None:
        resyncer = asyncio.create_task(self._resync_loop()) if self.resync else None
        try:
            await self._run()
        finally:
            if resyncer is not None:
                resyncer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await resyncer

    async def _run(self) -> None:
        backoff = 0.2
        need_list = True
        opened = self.clock.monotonic()
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                    backoff = 0.2
                opened = self.clock.monotonic()
                async for kind, obj in self.client.watch(self.info, self.namespace,
                                                         resource_version=self.resource_version,
                                                         labelSelector=self.label_selector,
                                                         fieldSelector=self.field_selector,
                                                         timeout_seconds=300 + random.randint(0, 60)):
                    rv = str((obj.get("metadata") or {}).get("resourceVersion") or "")
                    if kind == "ERROR":
                        code = obj.get("code")
                        log.info("%s: watch ended with %s (%s); relisting in %.1fs", self.info.plural, code,
                                 obj.get("message"), backoff)
                        need_list = True
                        await self.clock.sleep(backoff)  # a server that keeps ending watches is not hammered
                        backoff = min(backoff * 2, 10.0)
                        break
                    if kind == "BOOKMARK":
                        self.resource_version = rv or self.resource_version
                        continue
                    obj.setdefault("apiVersion", self.info.api_version)
                    obj.setdefault("kind", self.info.kind)
                    self.apply(kind, obj)
                    self.resource_version = rv or self.resource_version
                backoff = 0.2
            except asyncio.CancelledError:
                raise
            except ApiError as exc:
                need_list = need_list or isinstance(exc, Expired)
                if not need_list and self.clock.monotonic() - opened >= 1.0:
                    backoff = 0.2  # a watch that was up and then broke: resume at once, not after a long backoff
                delay = max(backoff, exc.retry_after or 0.0)
                log.warning("%s: %s failed (%s %s: %s); retrying in %.1fs", self.info.plural,
                            "list" if need_list else "watch", exc.code, exc.reason, exc, delay)
                await self.clock.sleep(delay)
                backoff = min(backoff * 2, 10.0)
            except Exception as exc:  # noqa: BLE001 - a bad answer (not JSON...): back off and relist
                need_list = True
                log.warning("%s: watch broke (%s: %s); relisting in %.1fs", self.info.plural, type(exc).__name__,
                            exc, backoff)
                await self.clock.sleep(backoff)
                backoff = min(backoff * 2, 10.0)


class InformerFactory:
    """One informer per kind for all the components of a process."""

    def __init__(self, client: ApiClient, *, resync: float | None = None, clock: Clock = SYSTEM) -> None:
        self.client = client
        self.resync = resync
        self.clock = clock
        self.informers: dict[str, Informer] = {}
        self._tasks: list[asyncio.Task[None]] = []

    def get(self, info: KindInfo) -> Informer:
        key = info.qualified_plural
        if key not in self.informers:
            self.informers[key] = Informer(self.client, info, resync=self.resync, clock=self.clock)
        return self.informers[key]

    def start(self) -> None:
        for inf in self.informers.values():
            if not any(t.get_name() == inf.info.qualified_plural for t in self._tasks):
                self._tasks.append(asyncio.create_task(inf.run(), name=inf.info.qualified_plural))

    async def wait_synced(self) -> None:
        await asyncio.gather(*(inf.synced.wait() for inf in self.informers.values()))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        self._tasks.clear()
