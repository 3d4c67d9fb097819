"""Generic storage semantics for every kind: what Kubernetes' generic registry does.

The HTTP handlers call one `Registry` per apiserver.  It turns verbs into guarded store writes:
system metadata (uid, creationTimestamp, generation, resourceVersion), validation, namespace
existence, optimistic concurrency with retries when the client sent no resourceVersion,
status subresource isolation, and deletion through finalizers and graceful pod termination.
Objects cross this module as wire dicts (camelCase JSON shapes).
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ..api import errors as E
from ..api.kinds import KindInfo, by_resource
from ..api.meta import K8sObject, object_meta_errors
from ..store.base import KeyExists, KeyNotFound, KeyValue, RevisionMismatch, Store
from .allocator import AllocationError, ServiceAllocator
from .decode import decode_object

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_MAX_RETRIES = 16
Obj = dict[str, Any]


def now_rfc3339(clock: Callable[[], datetime] | None = None) -> str:
    return (clock() if clock else datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def encode(obj: Obj) -> bytes:
    meta = obj.get("metadata") or {}
    rv = meta.pop("resourceVersion", None)
    try:
        return orjson.dumps(obj)
    finally:
        if rv is not None:
            meta["resourceVersion"] = rv


def decode(kv: KeyValue) -> Obj:
    obj: Obj = orjson.loads(kv.value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(kv.mod_revision)
    return obj


@dataclass(slots=True)
class WriteOptions:
    field_validation: str = "Warn"
    dry_run: bool = False
    warnings: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DeleteOptions:
    grace_period_seconds: int | None = None
    propagation_policy: str | None = None  # Background | Foreground | Orphan
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False


def _spec_of(obj: Obj, model: type[K8sObject]) -> list[Any]:
    return [obj.get(f) for f in model.spec_fields]


def _has_generation(info: KindInfo) -> bool:
    return any(f in info.model.model_fields for f in info.model.spec_fields)


def _is_service(info: KindInfo) -> bool:
    return info.kind == "Service" and info.group == ""


class Registry:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] | None = None,
                 default_toleration_seconds: int = 300) -> None:
        self.store = store
        self.clock = clock
        self.services = ServiceAllocator(store)
        self.default_toleration_seconds = default_toleration_seconds

    async def _service_hook(self, name: str, hook: Awaitable[list[tuple[str, Any]]]) -> list[tuple[str, Any]]:
        try:
            return await hook
        except AllocationError as exc:
            raise E.Invalid.of("Service", "", name, [exc.error]) from None

    # --- helpers -------------------------------------------------------------------------------

    def _now(self) -> str:
        return now_rfc3339(self.clock)

    async def get(self, info: KindInfo, namespace: str | None, name: str) -> Obj:
        kv = await self.store.get(info.key(namespace, name))
        if kv is None:
            raise E.NotFound.of(info.plural, info.group, name)
        return decode(kv)

    async def _default_storage_class(self) -> str | None:
        listing = await self.store.list("/registry/storageclasses/")
        for kv in listing.items:
            sc = decode(kv)
            if ((sc.get("metadata") or {}).get("annotations") or {}).get(
                    "storageclass.kubernetes.io/is-default-class") == "true":
                return str(sc["metadata"]["name"])
        return None

    async def ensure_namespace(self, namespace: str, *, for_create: bool) -> None:
        kv = await self.store.get(f"/registry/namespaces/{namespace}")
        if kv is None:
            raise E.NotFound.of("namespaces", "", namespace)
        if for_create:
            ns = orjson.loads(kv.value)
            if (ns.get("metadata") or {}).get("deletionTimestamp"):
                raise E.Forbidden(
                    f"unable to create new content in namespace {namespace} because it is being terminated",
                    {"name": namespace, "kind": "namespaces", "causes": [{"reason": "NamespaceTerminating"}]},
                )

    def _checked(self, info: KindInfo, data: Obj, opts: WriteOptions, old: Obj | None = None) -> Obj:
        """Decode (defaults, unknown fields), validate, and return the canonical wire dict."""
        model, warnings = decode_object(info, data, opts.field_validation)
        opts.warnings += warnings
        return self._validated(info, model, old)

    @staticmethod
    def _validated(info: KindInfo, model: K8sObject, old: Obj | None = None) -> Obj:
        errs = object_meta_errors(model.metadata, namespaced=info.namespaced, name_is_label=model.name_is_dns_label())
        errs += model.validation_errors()
        if old is not None and type(model).update_errors is not K8sObject.update_errors:
            errs += model.update_errors(info.model.model_validate(old))
        if errs:
            name = model.metadata.name or model.metadata.generate_name or ""
            raise E.Invalid.of(info.kind, info.group, name, errs)
        out = model.dump()
        out["apiVersion"], out["kind"] = info.api_version, info.kind
        return out

    def _check_type(self, info: KindInfo, data: Any) -> Obj:
        if not isinstance(data, dict):
            raise E.BadRequest(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                               "the object must be a JSON/YAML map")
        api_version, kind = data.get("apiVersion"), data.get("kind")
        if (api_version and api_version != info.api_version) or (kind and kind != info.kind):
            raise E.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({info.api_version})" if api_version != info.api_version else
                f"the kind in the data ({kind}) does not match the expected kind ({info.kind})"
            )
        meta = data.get("metadata")
        if meta is None:
            data["metadata"] = {}
        elif not isinstance(meta, dict):
            raise E.BadRequest(f'{info.kind} in version "{info.version}" cannot be handled as a {info.kind}: '
                               "metadata: Input should be an object")
        return data

    # --- create --------------------------------------------------------------------------------

    async def create(self, info: KindInfo, namespace: str | None, data: Any, opts: WriteOptions) -> Obj:
        data = self._check_type(info, data)
        meta = data.setdefault("metadata", {})
        if info.namespaced:
            if meta.get("namespace") and meta["namespace"] != namespace:
                raise E.BadRequest("the namespace of the provided object does not match the namespace sent on "
                                   "the request")
            meta["namespace"] = namespace
        if not meta.get("name") and meta.get("generateName"):
            meta["name"] = str(meta["generateName"]) + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
        for system in ("uid", "resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink",
                       "generation", "creationTimestamp", "managedFields"):
            meta.pop(system, None)
        model, warnings = decode_object(info, data, opts.field_validation)
        opts.warnings += warnings
        model.prepare_for_create()
        model.metadata.uid = str(uuid.uuid4())
        model.metadata.creation_timestamp = self._now()
        if _has_generation(info):
            model.metadata.generation = 1
        obj = self._validated(info, model)
        m = obj["metadata"]
        if info.namespaced:
            await self.ensure_namespace(str(namespace), for_create=True)
        if opts.dry_run:
            return obj
        if info.kind == "Pod" and info.group == "":
            add_default_tolerations(obj, self.default_toleration_seconds)
        if info.kind == "PersistentVolumeClaim" and info.group == "" and \
                (obj.get("spec") or {}).get("storageClassName") is None:
            default = await self._default_storage_class()
            if default:  # DefaultStorageClass admission: a claim that names no class gets the default
                obj.setdefault("spec", {})["storageClassName"] = default
        allocated: list[tuple[str, Any]] = []
        if _is_service(info):  # cluster IP and node ports, as the real apiserver assigns them
            allocated = await self._service_hook(m["name"], self.services.on_create(obj))
        try:
            kv = await self.store.create(info.key(namespace, m["name"]), encode(obj))
        except KeyExists:
            await self.services.rollback(ServiceAllocator.owner(namespace, m["name"]), allocated)
            raise E.AlreadyExists.of(info.plural, info.group, m["name"]) from None
        except BaseException:
            await self.services.rollback(ServiceAllocator.owner(namespace, m["name"]), allocated)
            raise
        obj["metadata"]["resourceVersion"] = str(kv.mod_revision)
        return obj

    # --- update (PUT, PATCH, subresources) -----------------------------------------------------

    async def guaranteed_update(
        self,
        info: KindInfo,
        namespace: str | None,
        name: str,
        mutate: Callable[[Obj], Obj],
        opts: WriteOptions,
        *,
        subresource: str = "",
    ) -> Obj:
        """Read, mutate, check and write, retrying on a lost race unless the client pinned a resourceVersion."""
        key = info.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise E.NotFound.of(info.plural, info.group, name)
            cur = decode(kv)
            new = mutate(copy.deepcopy(cur))
            if not isinstance(new, dict):
                raise E.BadRequest("the patched object must be a map")
            new = self._check_type(info, new)  # a patch may have turned metadata into anything
            pinned = str((new.get("metadata") or {}).get("resourceVersion") or "")
            if pinned and pinned != str(kv.mod_revision):
                raise E.Conflict.modified(info.plural, info.group, name)
            new = self._merge_system_fields(info, cur, new, subresource)
            allocated: list[tuple[str, Any]] = []
            service_spec = _is_service(info) and subresource != "status" and not opts.dry_run
            if service_spec:
                keep_allocated_values(cur, new)
                allocated = await self._service_hook(name, self.services.on_update(cur, new))
            owner = ServiceAllocator.owner(namespace, name)
            try:
                # binding is the apiserver's own write of spec.nodeName: no pod-immutability check for it
                new = self._checked(info, new, opts, None if subresource == "binding" else _without_rv(cur))
                self._bump_generation(info, cur, new)
                if new == _without_rv(cur, copy_=True):
                    await self.services.rollback(owner, allocated)
                    return cur  # no-op: no write, no new resourceVersion
                if opts.dry_run:
                    new["metadata"]["resourceVersion"] = str(kv.mod_revision)
                    return new
                meta = new["metadata"]
                if meta.get("deletionTimestamp") and not meta.get("finalizers") and not _ns_finalizers(info, new):
                    deleted = await self.store.delete(key, expected_revision=kv.mod_revision)
                    new["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                    if _is_service(info):
                        await self.services.on_delete(new)
                    return new
                written = await self.store.update(key, encode(new), expected_revision=kv.mod_revision)
            except RevisionMismatch:
                await self.services.rollback(owner, allocated)
                if pinned:
                    raise E.Conflict.modified(info.plural, info.group, name) from None
                continue
            except KeyNotFound:
                await self.services.rollback(owner, allocated)
                raise E.NotFound.of(info.plural, info.group, name) from None
            except BaseException:
                await self.services.rollback(owner, allocated)
                raise
            if service_spec:
                await self.services.after_update(cur, new)
            new["metadata"]["resourceVersion"] = str(written.mod_revision)
            return new
        raise E.Conflict.modified(info.plural, info.group, name)

    def _merge_system_fields(self, info: KindInfo, cur: Obj, new: Obj, subresource: str) -> Obj:
        cmeta, nmeta = cur["metadata"], new.setdefault("metadata", {})
        if not isinstance(nmeta, dict):
            raise E.BadRequest("metadata must be a map")
        if nmeta.get("name") and nmeta["name"] != cmeta["name"]:
            raise E.BadRequest(f"the name of the object ({nmeta['name']}) does not match the name on the URL "
                               f"({cmeta['name']})")
        if info.namespaced and nmeta.get("namespace") and nmeta["namespace"] != cmeta.get("namespace"):
            raise E.BadRequest("the namespace of the provided object does not match the namespace sent on the "
                               "request")
        has_status = "status" in info.subresources
        if subresource in ("status", "finalize"):
            merged = copy.deepcopy(cur)
            if subresource == "status":
                if "status" in new:
                    merged["status"] = new["status"]
                else:
                    merged.pop("status", None)
            else:  # namespaces/finalize: only spec.finalizers
                merged.setdefault("spec", {})["finalizers"] = (new.get("spec") or {}).get("finalizers") or []
            new = merged
        elif has_status and subresource != "binding":
            if "status" in cur:
                new["status"] = cur["status"]
            else:
                new.pop("status", None)
        nmeta = new["metadata"]
        for system in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation",
                       "namespace", "name"):
            if system in cmeta:
                nmeta[system] = cmeta[system]
            else:
                nmeta.pop(system, None)
        nmeta.pop("resourceVersion", None)
        nmeta.pop("selfLink", None)
        if cmeta.get("deletionTimestamp"):
            added = set(nmeta.get("finalizers") or []) - set(cmeta.get("finalizers") or [])
            if added:
                raise E.Invalid.of(info.kind, info.group, cmeta["name"], [E.FieldError.forbidden(
                    "metadata.finalizers", f"no new finalizers can be added if the object is being deleted, "
                    f"found new finalizers {sorted(added)}")])
        new["apiVersion"], new["kind"] = info.api_version, info.kind
        return new

    def _bump_generation(self, info: KindInfo, cur: Obj, new: Obj) -> None:
        if not _has_generation(info):
            return
        gen = int(cur["metadata"].get("generation") or 1)
        if _spec_of(new, info.model) != _spec_of(cur, info.model):
            gen += 1
        new["metadata"]["generation"] = gen

    async def replace(self, info: KindInfo, namespace: str | None, name: str, data: Any, opts: WriteOptions,
                      *, subresource: str = "") -> Obj:
        data = self._check_type(info, data)
        return await self.guaranteed_update(info, namespace, name, lambda _cur: copy.deepcopy(data), opts,
                                            subresource=subresource)

    # --- delete --------------------------------------------------------------------------------

    async def delete(self, info: KindInfo, namespace: str | None, name: str, opts: DeleteOptions) -> tuple[Obj, bool]:
        """Returns (object, deleted_now).  deleted_now False: deletion pending (finalizers, grace)."""
        if info.kind == "Namespace" and info.group == "" and name in IMMORTAL_NAMESPACES:
            raise E.Forbidden(f'namespaces "{name}" is forbidden: this namespace may not be deleted',
                              {"name": name, "kind": "namespaces"})
        key = info.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise E.NotFound.of(info.plural, info.group, name)
            cur = decode(kv)
            meta = cur["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise E.Conflict(f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object "
                                 f"meta: {meta.get('uid')}", {"name": name, "kind": info.plural})
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise E.Conflict(f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                                 f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                                 {"name": name, "kind": info.plural})
            pending = self._pending_deletion(info, cur, opts)
            if opts.dry_run:
                return (pending or cur), pending is None
            try:
                if pending is not None:
                    if pending == cur:
                        return cur, False
                    written = await self.store.update(key, encode(pending), expected_revision=kv.mod_revision)
                    pending["metadata"]["resourceVersion"] = str(written.mod_revision)
                    return pending, False
                deleted = await self.store.delete(key, expected_revision=kv.mod_revision)
            except RevisionMismatch:
                continue
            except KeyNotFound:
                raise E.NotFound.of(info.plural, info.group, name) from None
            if _is_service(info):
                await self.services.on_delete(cur)
            cur["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return cur, True
        raise E.Conflict.modified(info.plural, info.group, name)

    def _pending_deletion(self, info: KindInfo, cur: Obj, opts: DeleteOptions) -> Obj | None:
        """The object marked for deletion, or None when it can go now."""
        new = copy.deepcopy(cur)
        meta = new["metadata"]
        finalizers: list[str] = list(meta.get("finalizers") or [])
        policy = opts.propagation_policy
        if policy == "Orphan" and "orphan" not in finalizers:
            finalizers.append("orphan")
        elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
            finalizers.append("foregroundDeletion")
        if policy in ("Orphan", "Foreground") and not meta.get("deletionTimestamp"):
            meta["finalizers"] = finalizers
        grace = self._grace_period(info, cur, opts)
        terminating_ns = info.kind == "Namespace" and info.group == "" and bool(_ns_finalizers(info, cur))
        if not finalizers and not grace and not terminating_ns:
            return None
        if info.kind == "Namespace" and info.group == "":
            new.setdefault("status", {})["phase"] = "Terminating"
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = self._deadline(grace)
            meta["deletionGracePeriodSeconds"] = grace
        elif grace < int(meta.get("deletionGracePeriodSeconds") or 0):  # a shorter grace period wins
            meta["deletionTimestamp"] = self._deadline(grace)
            meta["deletionGracePeriodSeconds"] = grace
        elif not finalizers and not terminating_ns and grace == 0:
            return None
        return new

    def _deadline(self, grace: int) -> str:
        base = self.clock() if self.clock else datetime.now(UTC)
        return (base + timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _grace_period(info: KindInfo, cur: Obj, opts: DeleteOptions) -> int:
        """Only pods bound to a node and not finished terminate gracefully (their kubelet confirms)."""
        if info.kind != "Pod" or info.group != "":
            return 0
        spec, status = cur.get("spec") or {}, cur.get("status") or {}
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        if opts.grace_period_seconds is not None:
            return max(0, int(opts.grace_period_seconds))
        return int(spec.get("terminationGracePeriodSeconds", 30) or 0)


def _ns_finalizers(info: KindInfo, obj: Obj) -> list[str]:
    if info.kind != "Namespace" or info.group != "":
        return []
    return list((obj.get("spec") or {}).get("finalizers") or [])


def _without_rv(obj: Obj, *, copy_: bool = False) -> Obj:
    out = copy.deepcopy(obj) if copy_ else dict(obj, metadata=dict(obj.get("metadata") or {}))
    out["metadata"].pop("resourceVersion", None)
    return out


def add_default_tolerations(pod: Obj, seconds: int) -> None:
    """Kubernetes' DefaultTolerationSeconds admission: a pod tolerates a not-ready or unreachable
    node for `seconds` (300 by default) before the node lifecycle controller evicts it."""
    spec = pod.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    for key in ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"):
        if any(t.get("key") == key and t.get("effect") in ("NoExecute", None, "") for t in tolerations) or any(
                t.get("operator") == "Exists" and not t.get("key") and t.get("effect") in ("NoExecute", None, "")
                for t in tolerations):
            continue
        tolerations.append({"key": key, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": seconds})
    spec["tolerations"] = tolerations


def keep_allocated_values(cur: Obj, new: Obj) -> None:
    """An update that leaves out clusterIP or nodePorts keeps the allocated ones (Kubernetes does
    this, so `kubectl apply` of a file without them works)."""
    ospec, nspec = cur.get("spec") or {}, new.get("spec")
    if not isinstance(nspec, dict):
        return
    if nspec.get("type", ospec.get("type")) == "ExternalName":
        return
    if not nspec.get("clusterIP") and ospec.get("clusterIP"):
        nspec["clusterIP"] = ospec["clusterIP"]
    if not nspec.get("clusterIPs") and ospec.get("clusterIPs"):
        nspec["clusterIPs"] = list(ospec["clusterIPs"])
    for family in ("ipFamilies", "ipFamilyPolicy"):
        if family not in nspec and family in ospec:
            nspec[family] = ospec[family]
    if nspec.get("type") in ("NodePort", "LoadBalancer"):
        old_ports = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort") for p in ospec.get("ports") or []}
        for p in nspec.get("ports") or []:
            if isinstance(p, dict) and not p.get("nodePort"):
                held = old_ports.get((p.get("port"), p.get("protocol", "TCP")))
                if held:
                    p["nodePort"] = held


async def ensure_kubernetes_service(registry: Registry, server_address: str) -> None:
    """`default/kubernetes`: the apiserver's own service at 10.96.0.1:443, with its endpoints."""
    import ipaddress

    svc_info, ep_info = by_resource("v1", "services"), by_resource("v1", "endpoints")
    assert svc_info is not None and ep_info is not None
    host, _, port = server_address.rpartition(":")
    svc = {"metadata": {"name": "kubernetes", "labels": {"component": "apiserver", "provider": "kubernetes"}},
           "spec": {"clusterIP": "10.96.0.1", "type": "ClusterIP", "sessionAffinity": "None",
                    "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": int(port or 6443)}]}}
    try:
        await registry.create(svc_info, "default", svc, WriteOptions())
    except E.AlreadyExists:
        pass
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a host name cannot be an endpoint address
    endpoints = {"metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                 "subsets": [{"addresses": [{"ip": host}],
                              "ports": [{"name": "https", "port": int(port or 6443), "protocol": "TCP"}]}]}
    try:
        await registry.create(ep_info, "default", endpoints, WriteOptions())
    except E.AlreadyExists:
        current = await registry.get(ep_info, "default", "kubernetes")
        if current.get("subsets") != endpoints["subsets"]:
            current["subsets"] = endpoints["subsets"]
            await registry.replace(ep_info, "default", "kubernetes", current, WriteOptions())


async def ensure_system_namespaces(registry: Registry) -> None:
    info = by_resource("v1", "namespaces")
    assert info is not None
    for ns in SYSTEM_NAMESPACES:
        try:
            await registry.create(info, None, {"metadata": {"name": ns}}, WriteOptions())
        except E.AlreadyExists:
            pass
