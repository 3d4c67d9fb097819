"""The apiserver's aiohttp application: routes, authentication, errors as Status, metrics.

`make_app(store, tokens=...)` is called by `minikube-py server` (cli/server.py) and by the
tests (in-process, `aiohttp_client(make_app(...))`).  One middleware turns every error into a
Kubernetes Status; nothing escapes as a traceback or an HTML page.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import orjson
from aiohttp import web

from ..api import errors as E
from ..store.base import Expired as StoreExpired
from ..store.base import OutcomeUnknown, Store, StoreError, Unavailable
from . import debug, discovery, eventttl, gnostic, openapi, portforward, streaming, watch
from .auth import User
from .httpserver import HANDLER_ARGS, header_limits
from .metrics import LATENCY, REQUESTS, MeteredStore, exposition
from .registry import Registry, ensure_kubernetes_service, ensure_system_namespaces
from .resources import REGISTRY_KEY, TARGET_KEY, ResourceHandlers, warn_if_deprecated

log = logging.getLogger("minikube_py.apiserver")

MAX_BODY = 3 * 1024 * 1024
TOKENS_KEY: web.AppKey[dict[str, User] | None] = web.AppKey("tokens", dict)
USER_KEY: web.RequestKey[User] = web.RequestKey("user", User)
_PUBLIC = ("/healthz", "/livez", "/readyz", "/version", "/version/")
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _status_response(err: E.ApiError) -> web.Response:
    return web.Response(body=orjson.dumps(err.status()), status=err.code, content_type="application/json")


def _verb(request: web.Request) -> tuple[str, str, str]:
    target = request.get(TARGET_KEY)
    if target is None:
        return request.method, "", ""
    method = request.method
    if method == "GET":
        if request.query.get("watch") in ("1", "true"):
            verb = "WATCH"
        else:
            verb = "LIST" if target.name is None else "GET"
    elif method == "DELETE" and target.name is None:
        verb = "DELETECOLLECTION"
    else:
        verb = method
    return verb, target.info.plural, target.subresource


@web.middleware
async def errors_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    code = 500
    try:
        resp = await handler(request)
        code = resp.status
        return resp
    except E.ApiError as err:
        code = err.code
        return _status_response(err)
    except StoreExpired as err:
        code = 410
        return _status_response(E.Expired(str(err)))
    except OutcomeUnknown as err:  # as kube-apiserver answers a write whose etcd call timed out
        code = 504
        return _status_response(E.Timeout(f"Timeout: request did not complete within requested timeout - {err}; "
                                          "the request may have succeeded: read the object before retrying"))
    except Unavailable as err:
        code = 503
        return _status_response(E.ServiceUnavailable(f"the storage backend is unavailable: {err}"))
    except StoreError as err:
        code = 500
        log.exception("%s %s: store error", request.method, request.path)
        return _status_response(E.InternalError(f"storage error: {err}"))
    except web.HTTPRequestEntityTooLarge:
        code = 413
        return _status_response(E.RequestEntityTooLarge(f"Request entity too large: limit is {MAX_BODY}"))
    except web.HTTPException as exc:
        code = exc.status
        if exc.status == 404:
            return _status_response(E.NotFound("the server could not find the requested resource"))
        if exc.status == 405:
            return _status_response(E.MethodNotAllowed("the server does not allow this method on the requested "
                                                       "resource"))
        generic = type(E.from_status({}, exc.status))(exc.reason or exc.text or str(exc))  # the class for the code
        return web.Response(body=orjson.dumps(dict(generic.status(), code=exc.status)), status=exc.status,
                            content_type="application/json")
    except Exception as exc:  # noqa: BLE001 - last line: never a traceback on the wire
        log.exception("%s %s: unexpected error", request.method, request.path)
        return _status_response(E.InternalError(f"an error on the server ({type(exc).__name__}: {exc}) has "
                                                "prevented the request from succeeding"))
    finally:
        verb, resource, sub = _verb(request)
        if resource:
            REQUESTS.labels(verb, resource, sub, str(code)).inc()
            if verb != "WATCH":
                LATENCY.labels(verb, resource).observe(time.perf_counter() - started)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    tokens = request.app[TOKENS_KEY]
    if tokens is not None and request.path not in _PUBLIC:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        user = tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise E.Unauthorized("Unauthorized")
        request[USER_KEY] = user
    return await handler(request)


def _json(body: object) -> web.Response:
    return web.Response(body=orjson.dumps(body), content_type="application/json")


def _cached(request: web.Request, raw: bytes, content_type: str, *, immutable: bool = False) -> web.Response:
    """An OpenAPI document with kube-openapi's caching headers: ETag (304 on If-None-Match), and for a
    v3 document asked for by its current hash, `Cache-Control: public, immutable`."""
    tag = openapi.etag(raw)
    headers = {"ETag": tag, "Vary": "Accept", "Content-Type": content_type}
    headers["Cache-Control"] = "public, immutable" if immutable else "no-cache, private"
    if tag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        return web.Response(status=304, headers=headers)
    return web.Response(body=raw, headers=headers)


def make_app(store: Store, *, tokens: dict[str, User] | None = None, server_address: str = "127.0.0.1:6443",
             ensure_namespaces: bool = True, default_toleration_seconds: int = 300,
             event_ttl: float = eventttl.DEFAULT_TTL, min_request_timeout: float = 1800.0,
             watch_limits: watch.Limits | None = None, kubelet_client: ssl.SSLContext | None = None) -> web.Application:
    """The apiserver.  `tokens=None` disables authentication (unit tests only).

    `min_request_timeout` is kube-apiserver's --min-request-timeout: a watch without
    timeoutSeconds ends after a random time between it and twice it.  `kubelet_client` is the TLS
    context with which pods/log, exec and attach dial the node agents (apiserver/streaming.py)."""
    app = web.Application(middlewares=[errors_middleware, header_limits, auth_middleware], client_max_size=MAX_BODY,
                          handler_args=HANDLER_ARGS)
    registry = Registry(MeteredStore(store), default_toleration_seconds=default_toleration_seconds)
    app[REGISTRY_KEY] = registry
    app[TOKENS_KEY] = tokens
    hub = watch.WatchHub(registry.store, limits=watch_limits, min_request_timeout=min_request_timeout)
    app[watch.HUB_KEY] = hub

    async def end_watches(_: web.Application) -> None:  # before aiohttp waits for handlers to finish
        await hub.close()

    app.on_shutdown.append(end_watches)
    streaming.install(app, kubelet_client)
    portforward.register()  # SPDY/3.1 exec/attach and every port-forward (apiserver/portforward.py)
    app.on_response_prepare.append(warn_if_deprecated)
    res = ResourceHandlers(registry)
    debug.add_routes(app, debug.ReconcileHub())

    async def healthz(_: web.Request) -> web.Response:
        try:
            await registry.store.current_revision()
        except StoreError as exc:
            return web.Response(text=f"[-]etcd failed: {exc}\nhealthz check failed\n", status=500)
        return web.Response(text="ok")

    async def api(_: web.Request) -> web.Response:
        return _json(discovery.api_versions(server_address))

    async def api_v1(_: web.Request) -> web.Response:
        return _json(discovery.api_resource_list("v1"))

    async def apis(_: web.Request) -> web.Response:
        return _json(discovery.api_group_list())

    async def apis_group(request: web.Request) -> web.Response:
        group = discovery.api_group(request.match_info["group"])
        if group is None:
            raise E.NotFound("the server could not find the requested resource")
        return _json(group)

    async def apis_gv(request: web.Request) -> web.Response:
        doc = discovery.api_resource_list(f"{request.match_info['group']}/{request.match_info['version']}")
        if doc is None:
            raise E.NotFound("the server could not find the requested resource")
        return _json(doc)

    async def version(_: web.Request) -> web.Response:
        return _json(discovery.version_info())

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=exposition(), content_type="text/plain", charset="utf-8")

    async def openapi_v3(request: web.Request) -> web.Response:
        path = request.match_info.get("path", "")
        if not path:
            return _json(openapi.openapi_v3_index())
        raw = openapi.openapi_v3_doc_bytes(path)
        if raw is None:
            raise E.NotFound("the server could not find the requested resource")
        immutable = request.query.get("hash") == openapi.v3_hash(raw)
        return _cached(request, raw, "application/json", immutable=immutable)

    async def openapi_v2(request: web.Request) -> web.Response:
        accept = request.headers.get("Accept", "")
        if request.path == "/swagger-2.0.0.pb-v1" or any(t in accept for t in gnostic.ACCEPTED):
            return _cached(request, gnostic.openapi_v2_protobuf(), gnostic.CONTENT_TYPE)
        return _cached(request, openapi.openapi_v2_bytes(), "application/json")

    r = app.router
    for path in ("/healthz", "/livez", "/readyz"):
        r.add_get(path, healthz)
    r.add_get("/metrics", metrics)
    # kube-apiserver serves its discovery documents and /version with or without a trailing slash
    # (go-restful's routes and the mux's unlisted "/apis/"); the Python client asks for /version/
    for path, handler in (("/version", version), ("/api", api), ("/api/v1", api_v1), ("/apis", apis),
                          ("/apis/{group}", apis_group), ("/apis/{group}/{version}", apis_gv)):
        r.add_get(path, handler)
        r.add_get(path + "/", handler)
    r.add_route("*", "/api/v1/{rest:.+}", res.core)
    r.add_route("*", "/apis/{group}/{version}/{rest:.+}", res.grouped)
    r.add_get("/openapi/v3", openapi_v3)
    r.add_get("/openapi/v3/{path:.+}", openapi_v3)
    r.add_get("/openapi/v2", openapi_v2)
    r.add_get("/swagger-2.0.0.pb-v1", openapi_v2)  # where kubectl <= 1.20's client retries on a 404

    if ensure_namespaces:
        async def startup(_: web.Application) -> None:
            await ensure_system_namespaces(registry)
            await ensure_kubernetes_service(registry, server_address)

        app.on_startup.append(startup)

    async def event_expiry(_: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(eventttl.sweep_forever(store, event_ttl), name="event-ttl")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(event_expiry)

    async def warm_openapi(_: web.Application) -> None:
        # the documents take ~0.3 s of CPU to build: in a thread at start, not in the first request
        # that asks for them (every kubectl apply, create -f and explain does) on the event loop
        asyncio.get_running_loop().run_in_executor(None, _build_openapi)

    app.on_startup.append(warm_openapi)
    return app


def _build_openapi() -> None:
    gnostic.openapi_v2_protobuf()
    openapi.openapi_v2_bytes()
    openapi.openapi_v3_index()
