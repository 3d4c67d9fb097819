"""HTTP handlers of the resource paths: `/api/v1/...` and `/apis/<group>/<version>/...`.

app.py routes every resource URL here.  This module parses the path into (kind, namespace,
name, subresource), reads query parameters and bodies, calls the Registry, and renders the
answer (object, list, Table, watch stream).  Storage semantics live in registry.py.
"""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..api import errors as E
from ..api.kinds import BY_GROUP_VERSION, KindInfo, by_resource
from ..api.selectors import compile_filter, format_label_selector, parse_field_selector, parse_label_selector
from ..store.base import Expired as StoreExpired
from ..store.base import FutureRevision
from . import listing, params, streaming, tables, watch
from .decode import parse_body
from .patch import PatchError, PatchFailed, PatchTooLarge, UnsupportedPatchType, apply_patch, check_patch_type
from .registry import DeleteOptions, Obj, Registry, WriteOptions, decode

REGISTRY_KEY: web.AppKey[Registry] = web.AppKey("registry", Registry)
_STREAM_SUBRESOURCES = {"log", "exec", "attach", "portforward"}  # relayed to the node agent


@dataclass(frozen=True, slots=True)
class Target:
    info: KindInfo
    namespace: str | None
    name: str | None
    subresource: str


TARGET_KEY: web.RequestKey[Target] = web.RequestKey("target", Target)


def resolve(group_version: str, rest: list[str]) -> Target:
    infos = BY_GROUP_VERSION.get(group_version)
    if not infos or not rest:
        raise E.NotFound("the server could not find the requested resource")
    if rest[0] == "namespaces" and len(rest) >= 3:
        info = by_resource(group_version, rest[2])
        if info is not None and info.namespaced:
            if len(rest) > 5:
                raise E.NotFound("the server could not find the requested resource")
            return Target(info, rest[1], rest[3] if len(rest) > 3 else None, rest[4] if len(rest) > 4 else "")
    info = by_resource(group_version, rest[0])
    if info is None or len(rest) > 3:
        raise E.NotFound("the server could not find the requested resource")
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else ""
    if info.namespaced and name is not None:
        raise E.NotFound("the server could not find the requested resource")
    if sub and sub not in info.subresources:
        raise E.NotFound("the server could not find the requested resource")
    return Target(info, None, name, sub)


def _warning_header(text: str) -> str:
    """RFC 7234 warn-text: quoted, escaped, printable ASCII only (user input may hold anything)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '299 - "' + "".join(c if 32 <= ord(c) < 127 else f"\\u{ord(c):04x}" for c in escaped) + '"'


async def warn_if_deprecated(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: kube-apiserver's warning on every answer (errors and watches too) to a
    request for a deprecated kind, such as v1 Endpoints since 1.33."""
    target = request.get(TARGET_KEY)
    text = target.info.deprecation_warning if target is not None else ""
    if text and _warning_header(text) not in response.headers.getall("Warning", ()):
        response.headers.add("Warning", _warning_header(text))


def _json(body: Any, status: int = 200, warnings: list[str] | None = None) -> web.Response:
    resp = web.Response(body=orjson.dumps(body), status=status, content_type="application/json")
    for w in warnings or ():
        resp.headers.add("Warning", _warning_header(w))
    return resp


def _deleted_status(info: KindInfo, obj: Obj) -> Obj:
    """kube's Store.finalizeDelete for a kind without ReturnDeletedObject: a Status naming what went
    (`details.kind` is the plural resource, as kube sets it), so clients can tell it from a pending one."""
    meta = obj.get("metadata") or {}
    details: Obj = {"name": meta.get("name", "")}
    if info.group:
        details["group"] = info.group
    details["kind"] = info.plural
    if meta.get("uid"):
        details["uid"] = meta["uid"]
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


def _bool(value: str | None) -> bool:
    return (value or "").lower() in ("1", "true", "yes")


def _write_options(q: Any) -> WriteOptions:
    dry = q.getall("dryRun", [])
    for d in dry:
        if d != "All":
            raise E.BadRequest(f'dryRun: Unsupported value: "{d}": supported values: "All"')
    return WriteOptions(field_validation=q.get("fieldValidation") or "Warn", dry_run=bool(dry))


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw:
        raise E.BadRequest("the body of the request was empty")
    return parse_body(raw, request.headers.get("Content-Type", "application/json"))


def _encode_continue(revision: int, key: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"rv": revision, "start": key})).decode().rstrip("=")


def _decode_continue(token: str) -> tuple[int, str]:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        revision, start = data["rv"], data["start"]
    except Exception:  # noqa: BLE001 - any malformed token is the client's error
        raise E.BadRequest("continue: Invalid value: the continue token is not valid") from None
    if not isinstance(start, str):
        raise E.BadRequest("continue: Invalid value: the continue token is not valid")
    return params.continue_revision(revision), start


class ResourceHandlers:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def core(self, request: web.Request) -> web.StreamResponse:
        return await self.dispatch(request, "v1", request.match_info["rest"])

    async def grouped(self, request: web.Request) -> web.StreamResponse:
        gv = f"{request.match_info['group']}/{request.match_info['version']}"
        return await self.dispatch(request, gv, request.match_info["rest"])

    async def dispatch(self, request: web.Request, gv: str, rest: str) -> web.StreamResponse:
        target = resolve(gv, [p for p in rest.split("/") if p])
        request[TARGET_KEY] = target
        method = request.method
        sub = target.subresource
        if sub in _STREAM_SUBRESOURCES and target.info.plural == "pods" and target.name is not None:
            return await streaming.handle(request, str(target.namespace), target.name, sub)
        if target.name is None:
            if method == "GET":
                return await self.list_or_watch(request, target)
            if method == "POST":
                return await self.create(request, target)
            if method == "DELETE":
                return await self.delete_collection(request, target)
        elif sub == "scale":
            if method == "GET":
                return _json(self._scale_of(target, await self._get(target)))
            if method in ("PUT", "PATCH"):
                return await self.update_scale(request, target)
        elif sub == "binding":
            if method == "POST":
                return await self.bind(request, target)
        else:
            if method == "GET":
                if _bool(request.query.get("watch")):
                    return await self.list_or_watch(request, target)
                params.resource_version(request.query.get("resourceVersion"))
                obj = await self._get(target)
                rep = tables.negotiate(request.headers.get("Accept", ""))
                return _json(tables.render_object(target.info, obj, rep, tables.include_object_mode(
                    request.query.get("includeObject"))))
            if method == "PUT":
                return await self.replace(request, target)
            if method == "PATCH":
                return await self.patch(request, target)
            if method == "DELETE" and not sub:
                return await self.delete(request, target)
        raise E.MethodNotAllowed("the server does not allow this method on the requested resource")

    async def _get(self, t: Target) -> Obj:
        if t.info.namespaced:
            await self.registry.ensure_namespace(str(t.namespace), for_create=False)
        return await self.registry.get(t.info, t.namespace, str(t.name))

    # --- reads ---------------------------------------------------------------------------------

    async def list_or_watch(self, request: web.Request, t: Target) -> web.StreamResponse:
        q = request.query
        label = parse_label_selector(q.get("labelSelector"))
        field = parse_field_selector(q.get("fieldSelector"), t.info.kind, t.info.group)
        if t.name is not None:  # legacy watch of a single object
            field = parse_field_selector(",".join(filter(None, [q.get("fieldSelector"), f"metadata.name={t.name}"])),
                                         t.info.kind, t.info.group)
        match = compile_filter(label, field)
        rep = tables.negotiate(request.headers.get("Accept", ""))
        include = tables.include_object_mode(q.get("includeObject"))
        resource_version = params.resource_version(q.get("resourceVersion"))
        if _bool(q.get("watch")):
            req = watch.WatchRequest(
                info=t.info, namespace=t.namespace, match=match, resource_version=resource_version,
                send_initial_events=_bool(q.get("sendInitialEvents")),
                allow_bookmarks=_bool(q.get("allowWatchBookmarks")),
                timeout=watch.default_timeout(params.timeout_seconds(q.get("timeoutSeconds"))), rep=rep,
                include_object=include)
            return await watch.serve(request, self.registry, req)
        if _bool(q.get("sendInitialEvents")):
            raise E.Invalid("sendInitialEvents: Forbidden: sendInitialEvents is forbidden for list",
                            {"causes": [{"reason": "FieldValueForbidden", "field": "sendInitialEvents"}]})
        limit = params.list_limit(q.get("limit"))
        continue_revision, start_after = None, ""
        if q.get("continue"):
            if resource_version not in ("", "0"):
                raise E.BadRequest("specifying resource version is not allowed when using continue")
            continue_revision, start_after = _decode_continue(q["continue"])
        list_plan = listing.plan(resource_version, q.get("resourceVersionMatch", ""),
                                 continue_revision=continue_revision, limit=limit)
        if t.info.namespaced and t.namespace:
            await self.registry.ensure_namespace(t.namespace, for_create=False)
        try:
            items, revision, next_key = await self._list(t, match, limit, start_after, list_plan.revision)
        except StoreExpired:
            raise listing.expired(list_plan, _encode_continue(-1, start_after)) from None
        except FutureRevision as exc:
            raise listing.too_large(exc.requested, exc.current) from None
        listing.check_minimum(list_plan, revision)
        list_meta: Obj = {"resourceVersion": str(revision)}
        if next_key:
            list_meta["continue"] = _encode_continue(revision, next_key)
        return _json(tables.render_list(t.info, items, list_meta, rep, include))

    async def _list(self, t: Target, match: Any, limit: int, start_after: str,
                    revision: int) -> tuple[list[Obj], int, str]:
        prefix = t.info.prefix(t.namespace)
        store = self.registry.store
        if limit <= 0:
            res = await store.list(prefix, start_after=start_after, revision=revision)
            objs = [t.info.from_storage(decode(kv)) for kv in res.items]
            return ([o for o in objs if match(o)] if match else objs), res.revision, ""
        out: list[Obj] = []
        cursor = start_after
        while True:
            res = await store.list(prefix, limit=limit, start_after=cursor, revision=revision)
            revision = res.revision
            for kv in res.items:
                obj = t.info.from_storage(decode(kv))
                if match is None or match(obj):
                    out.append(obj)
                    if len(out) == limit:
                        more = res.more or kv is not res.items[-1]
                        return out, revision, kv.key if more else ""
            if not res.more or not res.items:
                return out, revision, ""
            cursor = res.items[-1].key

    # --- writes --------------------------------------------------------------------------------

    async def create(self, request: web.Request, t: Target) -> web.Response:
        if t.info.namespaced and not t.namespace:
            raise E.MethodNotAllowed("the server does not allow this method on the requested resource")
        opts = _write_options(request.query)
        obj = await self.registry.create(t.info, t.namespace, await _body(request), opts)
        return _json(obj, 201, opts.warnings)

    async def replace(self, request: web.Request, t: Target) -> web.Response:
        opts = _write_options(request.query)
        data = await _body(request)
        if t.info.namespaced:
            await self.registry.ensure_namespace(str(t.namespace), for_create=False)
        obj = await self.registry.replace(t.info, t.namespace, str(t.name), data, opts, subresource=t.subresource)
        return _json(obj, 200, opts.warnings)

    async def patch(self, request: web.Request, t: Target) -> web.Response:
        opts = _write_options(request.query)
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "").split(";", 1)[0].strip()
        model = t.info.model
        try:
            check_patch_type(ctype)
        except UnsupportedPatchType as exc:
            raise E.UnsupportedMediaType(str(exc)) from None

        def mutate(cur: Obj) -> Obj:
            try:
                return apply_patch(ctype, cur, raw, model)
            except UnsupportedPatchType as exc:
                raise E.UnsupportedMediaType(str(exc)) from None
            except PatchTooLarge as exc:
                raise E.RequestEntityTooLarge(str(exc)) from None
            except PatchFailed as exc:
                raise E.Invalid(str(exc)) from None
            except PatchError as exc:
                raise E.BadRequest(str(exc)) from None

        if t.info.namespaced:
            await self.registry.ensure_namespace(str(t.namespace), for_create=False)
        obj = await self.registry.guaranteed_update(t.info, t.namespace, str(t.name), mutate, opts,
                                                    subresource=t.subresource)
        return _json(obj, 200, opts.warnings)

    async def delete(self, request: web.Request, t: Target) -> web.Response:
        opts = await self._delete_options(request)
        if t.info.namespaced:
            await self.registry.ensure_namespace(str(t.namespace), for_create=False)
        obj, deleted_now = await self.registry.delete(t.info, t.namespace, str(t.name), opts)
        # kube's DELETE handler: 202 only for a deletion left pending after orphanDependents=false
        code = 202 if not deleted_now and opts.orphan_dependents is False else 200
        return _json(obj if not deleted_now or t.info.return_deleted_object else _deleted_status(t.info, obj), code)

    async def delete_collection(self, request: web.Request, t: Target) -> web.Response:
        opts = await self._delete_options(request)
        q = request.query
        match = compile_filter(parse_label_selector(q.get("labelSelector")),
                               parse_field_selector(q.get("fieldSelector"), t.info.kind, t.info.group))
        items, revision, _ = await self._list(t, match, 0, "", 0)
        for obj in items:
            meta = obj["metadata"]
            try:
                await self.registry.delete(t.info, meta.get("namespace"), meta["name"], opts)
            except E.NotFound:
                continue
        # kube's Store.DeleteCollection answers with the list it read, as it read it
        return _json(tables.render_list(t.info, items, {"resourceVersion": str(revision)}, tables.PLAIN, "Object"))

    async def _delete_options(self, request: web.Request) -> DeleteOptions:
        raw = await request.read()
        body = parse_body(raw, request.headers.get("Content-Type", "application/json")) if raw.strip() else {}
        return params.delete_options(request.query, body)

    # --- subresources --------------------------------------------------------------------------

    def _scale_of(self, t: Target, obj: Obj) -> Obj:
        meta = obj["metadata"]
        sel = (obj.get("spec") or {}).get("selector") or {}
        return {
            "kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: meta[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in meta},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": format_label_selector(sel.get("matchLabels"), sel.get("matchExpressions"))},
        }

    async def update_scale(self, request: web.Request, t: Target) -> web.Response:
        opts = _write_options(request.query)
        raw = await request.read()
        ctype = request.headers.get("Content-Type", "application/json").split(";", 1)[0].strip()
        if request.method == "PATCH":
            try:
                check_patch_type(ctype)
            except UnsupportedPatchType as exc:
                raise E.UnsupportedMediaType(str(exc)) from None

        def mutate(cur: Obj) -> Obj:
            scale = self._scale_of(t, cur)
            try:
                if request.method == "PUT":
                    new_scale = parse_body(raw, ctype)
                else:
                    new_scale = apply_patch(ctype, scale, raw, None)
            except UnsupportedPatchType as exc:
                raise E.UnsupportedMediaType(str(exc)) from None
            except PatchTooLarge as exc:
                raise E.RequestEntityTooLarge(str(exc)) from None
            except PatchFailed as exc:
                raise E.Invalid(str(exc)) from None
            except PatchError as exc:
                raise E.BadRequest(str(exc)) from None
            if not isinstance(new_scale, dict):
                raise E.BadRequest("the Scale must be a map")
            spec, scale_meta = new_scale.get("spec") or {}, new_scale.get("metadata") or {}
            for part, value in (("spec", spec), ("metadata", scale_meta)):
                if not isinstance(value, dict):
                    raise E.BadRequest(f'Scale in version "v1" cannot be handled as a Scale: {part}: must be an object')
            replicas = spec.get("replicas")
            if not isinstance(replicas, int) or isinstance(replicas, bool) or not -(2**31) <= replicas < 2**31:
                raise E.BadRequest("Scale in version \"v1\" cannot be handled as a Scale: spec.replicas: must be a "
                                   "32-bit integer")
            if replicas < 0:
                raise E.Invalid.of("Scale", "autoscaling", str(t.name), [E.FieldError.invalid(
                    "spec.replicas", replicas, "must be greater than or equal to 0")])
            new = copy.deepcopy(cur)
            new.setdefault("spec", {})["replicas"] = replicas
            rv = scale_meta.get("resourceVersion")
            if rv is not None and not isinstance(rv, str):
                raise E.BadRequest('Scale in version "v1" cannot be handled as a Scale: metadata.resourceVersion: '
                                   "must be a string")
            if rv:
                new["metadata"]["resourceVersion"] = rv
            return new

        obj = await self.registry.guaranteed_update(t.info, t.namespace, str(t.name), mutate, opts)
        return _json(self._scale_of(t, obj))

    async def bind(self, request: web.Request, t: Target) -> web.Response:
        body = await _body(request)
        target = (body.get("target") or {}) if isinstance(body, dict) else {}
        if not isinstance(target, dict):
            raise E.BadRequest('Binding in version "v1" cannot be handled as a Binding: target: must be an object')
        node = target.get("name")
        if not node:
            raise E.Invalid.of("Binding", "", str(t.name), [E.FieldError.required("target.name")])
        if not isinstance(node, str):
            raise E.BadRequest('Binding in version "v1" cannot be handled as a Binding: target.name: must be a string')

        def mutate(cur: Obj) -> Obj:
            spec = cur.setdefault("spec", {})
            if spec.get("nodeName"):
                raise E.Conflict(f'Operation cannot be fulfilled on pods/binding "{t.name}": pod {t.name} is already '
                                 f'assigned to node "{spec["nodeName"]}"', {"name": str(t.name), "kind": "pods/binding"})
            if cur["metadata"].get("deletionTimestamp"):
                raise E.Conflict(f'Operation cannot be fulfilled on pods/binding "{t.name}": pod {t.name} is being '
                                 "deleted, cannot be assigned to a host", {"name": str(t.name), "kind": "pods/binding"})
            spec["nodeName"] = node
            conds = [c for c in (cur.get("status") or {}).get("conditions") or [] if c.get("type") != "PodScheduled"]
            conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                          "lastTransitionTime": self.registry._now()})
            cur.setdefault("status", {})["conditions"] = conds
            return cur

        opts = WriteOptions()
        await self.registry.guaranteed_update(t.info, t.namespace, str(t.name), mutate, opts,
                                              subresource="binding")
        return _json({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}, 201)
