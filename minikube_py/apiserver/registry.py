"""Generic storage semantics for every kind: what Kubernetes' generic registry does.

The HTTP handlers call one `Registry` per apiserver.  It turns verbs into guarded store writes:
system metadata (uid, creationTimestamp, generation, resourceVersion), validation, namespace
existence, optimistic concurrency with retries when the client sent no resourceVersion,
status subresource isolation, and deletion through finalizers and grace periods.  What one kind
does differently (a Service's addresses, a Pod's graceful delete, ...) is its strategy's
(strategies.py).  Objects cross this module as wire dicts (camelCase JSON shapes).
"""

from __future__ import annotations

import copy
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from pydantic import ValidationError

from ..api import errors as E
from ..api import kinds
from ..api.kinds import KindInfo
from ..api.meta import K8sObject, object_meta_errors
from ..store.base import KeyExists, KeyNotFound, KeyValue, OutcomeUnknown, RevisionMismatch, Store
from .decode import decode_object
from .strategies import NOTHING, PLAIN, Strategy, strategies

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
MAX_GENERATED_BASE = 58  # 63 - 5 random characters (apiserver/pkg/storage/names)
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


def decode_as(info: KindInfo, kv: KeyValue) -> Obj:
    """A stored object as `info` shows it (kinds stored as another kind are converted)."""
    return info.from_storage(decode(kv))


def encode_as(info: KindInfo, obj: Obj) -> bytes:
    return encode(info.to_storage(obj))


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
    orphan_dependents: bool | None = None  # the deprecated field, as sent: kube answers 202 only on False


def _spec_of(obj: Obj, model: type[K8sObject]) -> list[Any]:
    return [obj.get(f) for f in model.spec_fields]


def _has_generation(info: KindInfo) -> bool:
    return any(f in info.model.model_fields for f in info.model.spec_fields)


class Registry:
    def __init__(self, store: Store, *, clock: Callable[[], datetime] | None = None,
                 default_toleration_seconds: int = 300) -> None:
        self.store = store
        self.clock = clock
        self.strategies = strategies(store, default_toleration_seconds=default_toleration_seconds)

    # --- helpers -------------------------------------------------------------------------------

    def strategy(self, info: KindInfo) -> Strategy:
        return self.strategies.get(info, PLAIN)

    def _now(self) -> str:
        return now_rfc3339(self.clock)

    async def get(self, info: KindInfo, namespace: str | None, name: str) -> Obj:
        kv = await self.store.get(info.key(namespace, name))
        if kv is None:
            raise E.NotFound.of(info.plural, info.group, name)
        return decode_as(info, kv)

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
    def _validated(info: KindInfo, model: K8sObject, old: Obj | None = None, *, creating: bool = False) -> Obj:
        errs = object_meta_errors(model.metadata, namespaced=info.namespaced, name_is_label=model.name_is_dns_label())
        errs += model.validation_errors()
        if creating:
            errs += model.create_errors()
        if old is not None and type(model).update_errors is not K8sObject.update_errors:
            try:
                old_model = info.model.model_validate(old)
            except ValidationError:  # stored before today's decoding rules (e.g. bad base64): nothing to compare
                old_model = None
            if old_model is not None:
                errs += model.update_errors(old_model)
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
            # Kubernetes' SimpleNameGenerator: the base cut to 58 characters, so the name fits 63
            base = str(meta["generateName"])[:MAX_GENERATED_BASE]
            meta["name"] = base + "".join(secrets.choice(_NAME_CHARS) for _ in range(5))
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
        obj = self._validated(info, model, creating=True)
        m = obj["metadata"]
        if info.namespaced:
            await self.ensure_namespace(str(namespace), for_create=True)
        strategy = self.strategy(info)
        await strategy.admit(obj)  # kube admits a dry run too: its refusals and defaults show in the preview
        if opts.dry_run:
            return obj
        held = await strategy.reserve(obj)
        try:
            kv = await self.store.create(info.key(namespace, m["name"]), encode_as(info, obj))
        except KeyExists:
            await held.undo()
            raise E.AlreadyExists.of(info.plural, info.group, m["name"]) from None
        except OutcomeUnknown:
            raise  # the object may exist with what it reserved (a ClusterIP): keep it, never hand it out twice
        except BaseException:
            await held.undo()
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
        strategy = self.strategy(info)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise E.NotFound.of(info.plural, info.group, name)
            cur = decode_as(info, kv)
            new = mutate(copy.deepcopy(cur))
            if not isinstance(new, dict):
                raise E.BadRequest("the patched object must be a map")
            new = self._check_type(info, new)  # a patch may have turned metadata into anything
            pinned = str((new.get("metadata") or {}).get("resourceVersion") or "")
            if pinned and pinned != str(kv.mod_revision):
                raise E.Conflict.modified(info.plural, info.group, name)
            new = self._merge_system_fields(info, cur, new, subresource)
            held = NOTHING if opts.dry_run else await strategy.reserve_update(cur, new, subresource=subresource)
            try:
                # binding is the apiserver's own write of spec.nodeName: no pod-immutability check for it
                new = self._checked(info, new, opts, None if subresource == "binding" else _without_rv(cur))
                self._bump_generation(info, cur, new)
                if new == _without_rv(cur, copy_=True):
                    await held.undo()
                    return cur  # no-op: no write, no new resourceVersion
                if opts.dry_run:
                    new["metadata"]["resourceVersion"] = str(kv.mod_revision)
                    return new
                meta = new["metadata"]
                # kube's ShouldDeleteDuringUpdate: the last finalizer gone, and no grace period running
                if meta.get("deletionTimestamp") and not meta.get("finalizers") and not strategy.holds_deletion(new) \
                        and not cur["metadata"].get("deletionGracePeriodSeconds"):
                    deleted = await self.store.delete(key, expected_revision=kv.mod_revision)
                    new["metadata"]["resourceVersion"] = str(deleted.mod_revision)
                    await strategy.after_delete(new)
                    return new
                written = await self.store.update(key, encode_as(info, new), expected_revision=kv.mod_revision)
            except RevisionMismatch:
                await held.undo()
                if pinned:
                    raise E.Conflict.modified(info.plural, info.group, name) from None
                continue
            except KeyNotFound:
                await held.undo()
                raise E.NotFound.of(info.plural, info.group, name) from None
            except OutcomeUnknown:
                raise  # the update may have been applied: keep what it reserved
            except BaseException:
                await held.undo()
                raise
            await held.commit(new)
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
        errs = immutable_metadata_errors(cmeta, nmeta)
        if errs:
            raise E.Invalid.of(info.kind, info.group, cmeta["name"], errs)
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
        strategy = self.strategy(info)
        strategy.check_delete(name)
        key = info.key(namespace, name)
        for _ in range(_MAX_RETRIES):
            kv = await self.store.get(key)
            if kv is None:
                raise E.NotFound.of(info.plural, info.group, name)
            cur = decode_as(info, kv)
            meta = cur["metadata"]
            if opts.precondition_uid and opts.precondition_uid != meta.get("uid"):
                raise E.Conflict(f"Precondition failed: UID in precondition: {opts.precondition_uid}, UID in object "
                                 f"meta: {meta.get('uid')}", {"name": name, "kind": info.plural})
            if opts.precondition_rv and opts.precondition_rv != meta.get("resourceVersion"):
                raise E.Conflict(f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                                 f"ResourceVersion in object meta: {meta.get('resourceVersion')}",
                                 {"name": name, "kind": info.plural})
            pending = self._pending_deletion(strategy, cur, opts)
            if opts.dry_run:
                return (pending or cur), pending is None
            try:
                if pending is not None:
                    if pending == cur:
                        return cur, False
                    written = await self.store.update(key, encode_as(info, pending), expected_revision=kv.mod_revision)
                    pending["metadata"]["resourceVersion"] = str(written.mod_revision)
                    return pending, False
                deleted = await self.store.delete(key, expected_revision=kv.mod_revision)
            except RevisionMismatch:
                continue
            except KeyNotFound:
                raise E.NotFound.of(info.plural, info.group, name) from None
            await strategy.after_delete(cur)
            cur["metadata"]["resourceVersion"] = str(deleted.mod_revision)
            return cur, True
        raise E.Conflict.modified(info.plural, info.group, name)

    def _pending_deletion(self, strategy: Strategy, cur: Obj, opts: DeleteOptions) -> Obj | None:
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
        grace = strategy.grace_period(cur, opts.grace_period_seconds)
        held = strategy.holds_deletion(cur)
        if not finalizers and not grace and not held:
            return None
        strategy.mark_deleting(new)
        if not meta.get("deletionTimestamp"):
            meta["deletionTimestamp"] = self._deadline(grace)
            meta["deletionGracePeriodSeconds"] = grace
        elif grace < int(meta.get("deletionGracePeriodSeconds") or 0):  # a shorter grace period wins
            meta["deletionTimestamp"] = self._deadline(grace)
            meta["deletionGracePeriodSeconds"] = grace
        elif not finalizers and not held and grace == 0:
            return None
        return new

    def _deadline(self, grace: int) -> str:
        base = self.clock() if self.clock else datetime.now(UTC)
        try:
            return (base + timedelta(seconds=grace)).strftime("%Y-%m-%dT%H:%M:%SZ")
        except OverflowError:  # any int64 grace period is valid; past year 9999 is "never"
            return "9999-12-31T23:59:59Z"


def immutable_metadata_errors(cmeta: Obj, nmeta: Obj) -> list[E.FieldError]:
    """kube-apiserver's BeforeUpdate then ValidateObjectMetaUpdate, on the metadata an update sent:
    a missing uid or deletionGracePeriodSeconds takes the stored one, creationTimestamp (and a
    deletionTimestamp already set) is silently kept, and any other change to uid, deletionTimestamp
    or deletionGracePeriodSeconds is a 422 "field is immutable" (only DELETE sets the last two).
    name and namespace are checked against the URL (400) and generation is the server's, before."""
    fields = ["uid", "deletionGracePeriodSeconds"]
    if not cmeta.get("deletionTimestamp"):
        fields.append("deletionTimestamp")
    return [E.FieldError.invalid(f"metadata.{f}", nmeta[f], "field is immutable") for f in fields
            if nmeta.get(f) not in (None, "") and nmeta[f] != cmeta.get(f)]


def _without_rv(obj: Obj, *, copy_: bool = False) -> Obj:
    out = copy.deepcopy(obj) if copy_ else dict(obj, metadata=dict(obj.get("metadata") or {}))
    out["metadata"].pop("resourceVersion", None)
    return out


async def ensure_kubernetes_service(registry: Registry, server_address: str) -> None:
    """`default/kubernetes`: the apiserver's own service at 10.96.0.1:443, with its endpoints."""
    import ipaddress

    svc_info, ep_info = kinds.require("v1", "Service"), kinds.require("v1", "Endpoints")
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
    endpoints: Obj = {"metadata": {"name": "kubernetes", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
                      "subsets": [{"addresses": [{"ip": host}],
                                   "ports": [{"name": "https", "port": int(port or 6443), "protocol": "TCP"}]}]}
    try:
        await registry.create(ep_info, "default", endpoints, WriteOptions())
    except E.AlreadyExists:
        current = await registry.get(ep_info, "default", "kubernetes")
        if current.get("subsets") != endpoints["subsets"]:
            current["subsets"] = endpoints["subsets"]
            await registry.replace(ep_info, "default", "kubernetes", current, WriteOptions())
    await ensure_kubernetes_endpointslice(registry, endpoints["subsets"][0])


async def ensure_kubernetes_endpointslice(registry: Registry, subset: Obj) -> None:
    """The `kubernetes` EndpointSlice, which kube-apiserver writes next to its Endpoints (they are
    skip-mirror, so no controller makes it): readers of slices find the apiserver too."""
    info = kinds.require("discovery.k8s.io/v1", "EndpointSlice")
    body: Obj = {"metadata": {"name": "kubernetes", "labels": {"kubernetes.io/service-name": "kubernetes"}},
                 "addressType": "IPv4",
                 "endpoints": [{"addresses": [a["ip"]], "conditions": {"ready": True}} for a in subset["addresses"]],
                 "ports": [dict(p) for p in subset["ports"]]}
    try:
        await registry.create(info, "default", body, WriteOptions())
    except E.AlreadyExists:
        current = await registry.get(info, "default", "kubernetes")
        if (current.get("endpoints"), current.get("ports")) != (body["endpoints"], body["ports"]):
            current["endpoints"], current["ports"] = body["endpoints"], body["ports"]
            await registry.replace(info, "default", "kubernetes", current, WriteOptions())


async def ensure_system_namespaces(registry: Registry) -> None:
    info = kinds.require("v1", "Namespace")
    for ns in SYSTEM_NAMESPACES:
        try:
            await registry.create(info, None, {"metadata": {"name": ns}}, WriteOptions())
        except E.AlreadyExists:
            pass
