"""Watch streams: `?watch=true` turned into newline-delimited `{"type","object"}` events.

Called by the resource handlers.  Translates store events into Kubernetes watch events:
ADDED/MODIFIED/DELETED with selector transitions (an object that stops matching is DELETED for
this watcher), synthetic ADDED events for the initial state (resourceVersion unset or "0", or
`sendInitialEvents=true` followed by the `k8s.io/initial-events-end` BOOKMARK), periodic
BOOKMARKs when asked, and an ERROR event with a 410 Status when the start revision is too old.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from ..api import errors as E
from ..api.kinds import KindInfo
from ..store.base import Expired, WatchEvent
from . import tables
from .metrics import WATCH_EVENTS, WATCHERS
from .registry import Registry, decode

Obj = dict[str, Any]
log = logging.getLogger(__name__)
BOOKMARK_INTERVAL = 15.0
LIVENESS_CHECK = 5.0  # how often an idle watch checks that its client is still there


@dataclass(slots=True)
class WatchRequest:
    info: KindInfo
    namespace: str | None
    match: Callable[[Obj], bool] | None
    resource_version: str
    send_initial_events: bool
    allow_bookmarks: bool
    timeout: float
    rep: tables.Representation
    include_object: str


async def _initial(registry: Registry, req: WatchRequest) -> tuple[list[Obj], int]:
    result = await registry.store.list(req.info.prefix(req.namespace))
    items = [decode(kv) for kv in result.items]
    if req.match is not None:
        items = [o for o in items if req.match(o)]
    return items, result.revision


def _translate(ev: WatchEvent, match: Callable[[Obj], bool] | None) -> tuple[str, Obj] | None:
    obj = decode(ev.kv)
    if ev.type == "DELETE":
        return ("DELETED", obj) if match is None or match(obj) else None
    if match is None:
        return ("ADDED" if ev.is_create else "MODIFIED"), obj
    now_ok = match(obj)
    before_ok = ev.prev is not None and match(decode(ev.prev))
    if now_ok and before_ok:
        return "MODIFIED", obj
    if now_ok:
        return "ADDED", obj
    if before_ok:
        return "DELETED", obj
    return None


class _Encoder:
    def __init__(self, req: WatchRequest) -> None:
        self.req = req
        self.columns_sent = False

    def event(self, type_: str, obj: Obj) -> bytes:
        rep = self.req.rep
        if type_ in ("BOOKMARK", "ERROR") or rep.kind == "":
            out = obj
        elif rep.kind == "Table":
            out = tables.table(self.req.info, [obj], rep, include_object=self.req.include_object,
                               with_columns=not self.columns_sent,
                               list_meta={"resourceVersion": obj["metadata"].get("resourceVersion")})
            self.columns_sent = True
        else:
            out = tables.partial(obj, rep)
        return orjson.dumps({"type": type_, "object": out}) + b"\n"

    def bookmark(self, revision: int, *, initial_end: bool = False) -> bytes:
        meta: Obj = {"resourceVersion": str(revision)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.req.info.kind, "apiVersion": self.req.info.api_version, "metadata": meta}
        return self.event("BOOKMARK", obj)


def parse_start(rv: str) -> int:
    if rv in ("", "0"):
        return 0
    try:
        value = int(rv)
    except ValueError:
        raise E.BadRequest(f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer') from None
    if value < 0:
        raise E.BadRequest(f'resourceVersion: Invalid value: "{rv}": must be a non-negative integer')
    return value


async def serve(request: web.Request, registry: Registry, req: WatchRequest) -> web.StreamResponse:
    start = parse_start(req.resource_version)
    if req.send_initial_events and not req.allow_bookmarks:
        raise E.Invalid("sendInitialEvents: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                        {"causes": [{"reason": "FieldValueForbidden", "field": "sendInitialEvents"}]})
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                   "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    enc = _Encoder(req)
    resource = req.info.plural
    WATCHERS.labels(resource).inc()
    deadline = time.monotonic() + req.timeout
    try:
        initial: list[Obj] = []
        synthetic = req.send_initial_events or start == 0
        if synthetic:
            initial, revision = await _initial(registry, req)
            start = revision + 1
            for obj in initial:
                await resp.write(enc.event("ADDED", obj))
            if req.send_initial_events:
                await resp.write(enc.bookmark(revision, initial_end=True))
        else:
            start += 1
        await _stream(resp, registry, req, enc, start, deadline, request)
    except (ConnectionResetError, asyncio.CancelledError):
        pass
    except Exception as exc:  # noqa: BLE001 - the 200 is sent: end the stream with an ERROR event, not a 500
        log.exception("%s: watch failed", req.info.qualified_plural)
        status = E.InternalError(f"watch of {req.info.qualified_plural} ended: {exc}").status()
        with contextlib.suppress(ConnectionResetError, RuntimeError):
            await resp.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
    finally:
        WATCHERS.labels(resource).dec()
    with contextlib.suppress(ConnectionResetError, RuntimeError):
        await resp.write_eof()
    return resp


async def _stream(resp: web.StreamResponse, registry: Registry, req: WatchRequest, enc: _Encoder,
                  start: int, deadline: float, request: web.Request) -> None:
    """Pump store events through a queue so that timeouts never cancel the store iterator.

    The queue is small: a client that reads slowly holds the pump back, so its backlog stays in the
    store's bounded per-watcher queue, which tells it to relist when it overflows, instead of
    growing here without limit."""
    last_seen = start - 1
    queue: asyncio.Queue[WatchEvent | BaseException | None] = asyncio.Queue(maxsize=1024)

    async def pump() -> None:
        try:
            async for ev in registry.store.watch(req.info.prefix(req.namespace), start_revision=start):
                await queue.put(ev)
            await queue.put(None)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            await queue.put(exc)

    pump_task = asyncio.create_task(pump())
    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL * (0.8 + 0.4 * random.random())
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                return
            wait = min(deadline - now, LIVENESS_CHECK)
            if req.allow_bookmarks:
                wait = min(wait, max(0.0, next_bookmark - now))
            try:
                item = await asyncio.wait_for(queue.get(), timeout=wait)
            except TimeoutError:
                transport = request.transport
                if transport is None or transport.is_closing():
                    return
                if req.allow_bookmarks and time.monotonic() >= next_bookmark:
                    await resp.write(enc.bookmark(last_seen))
                    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL
                continue
            if item is None:
                return
            if isinstance(item, Expired):
                status = E.Expired(f"too old resource version: {item.requested} ({item.oldest})").status()
                await resp.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
                return
            if isinstance(item, BaseException):
                status = E.InternalError(f"watch of {req.info.qualified_plural} ended: {item}").status()
                await resp.write(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
                return
            last_seen = item.revision
            out = _translate(item, req.match)
            if out is not None:
                WATCH_EVENTS.labels(req.info.plural).inc()
                await resp.write(enc.event(*out))
    finally:
        pump_task.cancel()
        with contextlib.suppress(BaseException):
            await pump_task


def default_timeout(timeout_seconds: str | None) -> float:
    if timeout_seconds:
        try:
            return max(0.0, float(int(timeout_seconds)))
        except ValueError:
            raise E.BadRequest(f'timeoutSeconds: Invalid value: "{timeout_seconds}": must be an integer') from None
    return 1800.0 * (1 + random.random())
