"""Watch streams: `?watch=true` turned into newline-delimited `{"type","object"}` events.

Called by the resource handlers.  Translates store events into Kubernetes watch events:
ADDED/MODIFIED/DELETED with selector transitions (an object that stops matching is DELETED for
this watcher), synthetic ADDED events for the initial state (resourceVersion unset or "0", or
`sendInitialEvents=true` followed by the `k8s.io/initial-events-end` BOOKMARK), periodic
BOOKMARKs when asked, and an ERROR event with a 410 Status when the start revision is too old.

The fan-out (one store watch per resource shared by every watcher, bounded queues, cutting the
watchers that fall behind) is broadcast.py; this module is one request's life: the initial state,
joining the broadcaster (after replaying the store's history when the client resumes from
further back than the broadcaster remembers), bookmarks, the timeout and the end of the stream.
Timeouts are kube-apiserver's: `timeoutSeconds` when given, else a random time between the
server's min request timeout (1800 s by default) and twice that; they end a stream whether or not
its client reads.
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
from ..store.base import Expired
from . import tables
from .broadcast import Broadcaster, Limits, Watcher, WatchHub
from .metrics import WATCHERS
from .registry import Registry, decode
from .watchevent import CachedEvent, Encoder

Obj = dict[str, Any]
log = logging.getLogger(__name__)
BOOKMARK_INTERVAL = 15.0
LIVENESS_CHECK = 5.0  # how often an idle watch checks that its client is still there
FINISH_GRACE = 1.0  # seconds a stream gets to end cleanly before its connection is dropped
HUB_KEY: web.AppKey[WatchHub] = web.AppKey("watch_hub", WatchHub)

__all__ = ["HUB_KEY", "Limits", "WatchHub", "WatchRequest", "default_timeout", "parse_start", "serve"]


@dataclass(slots=True)
class WatchRequest:
    info: KindInfo
    namespace: str | None
    match: Callable[[Obj], bool] | None
    resource_version: str
    send_initial_events: bool
    allow_bookmarks: bool
    timeout: float  # seconds; 0: the server's default (see default_timeout)
    rep: tables.Representation
    include_object: str


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


def default_timeout(timeout_seconds: str | None) -> float:
    """`timeoutSeconds` as seconds; 0 when absent or 0 (the server then picks its randomised default)."""
    if timeout_seconds:
        try:
            return float(int(timeout_seconds))
        except ValueError:
            raise E.BadRequest(f'timeoutSeconds: Invalid value: "{timeout_seconds}": must be an integer') from None
    return 0.0


def _deadline(req: WatchRequest, hub: WatchHub) -> float:
    timeout = req.timeout
    if timeout == 0 and hub.min_request_timeout > 0:
        timeout = hub.min_request_timeout * (1 + random.random())
    return time.monotonic() + max(0.0, timeout)


def _who(request: web.Request) -> str:
    from .app import USER_KEY  # app.py imports this module

    user = request.get(USER_KEY)
    name = user.name if user is not None else "anonymous"
    return f"{name} from {request.remote} ({request.headers.get('User-Agent', '-')})"


def _on_view(info: KindInfo, match: Callable[[Obj], bool] | None) -> Callable[[Obj], bool] | None:
    """A selector written for `info`'s view, over stored objects (the store holds another kind's shape
    for kinds stored as another kind; the encoder converts what is sent)."""
    if match is None or info.stored_as is None:
        return match
    return lambda obj: match(info.from_storage(obj))


async def serve(request: web.Request, registry: Registry, req: WatchRequest) -> web.StreamResponse:
    start = parse_start(req.resource_version)
    req.match = _on_view(req.info, req.match)
    if req.send_initial_events and not req.allow_bookmarks:
        raise E.Invalid("sendInitialEvents: Forbidden: sendInitialEvents requires setting allowWatchBookmarks to true",
                        {"causes": [{"reason": "FieldValueForbidden", "field": "sendInitialEvents"}]})
    hub = request.app[HUB_KEY]
    deadline = _deadline(req, hub)
    bc = await hub.broadcaster(req.info.prefix(None), req.info.plural)  # a store that is down: a 503 Status
    resp = web.StreamResponse(status=200, headers={"Content-Type": "application/json",
                                                   "Cache-Control": "no-cache, private"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    transport = request.transport
    if transport is None or transport.is_closing():
        return resp
    watcher = Watcher(hub, resource=req.info.plural, key_prefix=req.info.prefix(req.namespace), match=req.match,
                      encoder=Encoder(req.info, req.rep, req.include_object), transport=transport,
                      who=_who(request), limits=hub.limits)
    hub.register(watcher)
    WATCHERS.labels(req.info.plural).inc()
    feed = asyncio.create_task(_feed(registry, bc, watcher, req, start), name=f"watch {req.info.plural}")
    try:
        await _supervise(watcher, req, feed, deadline)
    finally:
        WATCHERS.labels(req.info.plural).dec()
        feed.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await feed
        watcher.finish("the watch ended")
    await _end_stream(resp, watcher)
    return resp


async def _initial(registry: Registry, req: WatchRequest) -> tuple[list[Obj], int]:
    result = await registry.store.list(req.info.prefix(req.namespace))
    items = [decode(kv) for kv in result.items]
    if req.match is not None:
        items = [o for o in items if req.match(o)]
    return items, result.revision


async def _feed(registry: Registry, bc: Broadcaster, watcher: Watcher, req: WatchRequest, start: int) -> None:
    """Everything the watcher needs before it runs on the broadcaster alone."""
    enc = watcher.encoder
    try:
        if req.send_initial_events or start == 0:
            items, revision = await _initial(registry, req)
            for obj in items:
                watcher.push(enc.event("ADDED", obj))
                await watcher.wait_writable()
            if req.send_initial_events:
                watcher.push(enc.bookmark(revision, initial_end=True))
            start = revision
        if bc.covers(start + 1):
            bc.attach(watcher, after=start)
            return
        await _catch_up(registry, bc, watcher, req, start + 1)
    except asyncio.CancelledError:
        raise
    except Expired as exc:
        status = E.Expired(f"too old resource version: {exc.requested} ({exc.oldest})").status()
        watcher.push(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
        watcher.finish("expired")
    except Exception as exc:  # noqa: BLE001 - the 200 is sent: end the stream with an ERROR event, not a 500
        log.exception("%s: watch failed", req.info.qualified_plural)
        status = E.InternalError(f"watch of {req.info.qualified_plural} ended: {exc}").status()
        watcher.push(orjson.dumps({"type": "ERROR", "object": status}) + b"\n")
        watcher.finish("failed")


async def _catch_up(registry: Registry, bc: Broadcaster, watcher: Watcher, req: WatchRequest, start: int) -> None:
    """Replay the store's history from `start` on a private store watch until the broadcaster's ring
    overlaps it, then join the broadcaster (events are deduplicated by revision)."""
    events = registry.store.watch(req.info.prefix(req.namespace), start_revision=start)
    try:
        async for ev in events:
            watcher.offer(CachedEvent(ev))
            if watcher.done.done():
                return
            if bc.covers(watcher.last_revision + 1):
                bc.attach(watcher, after=watcher.last_revision)
                return
            await watcher.wait_writable()
    finally:
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]


async def _supervise(watcher: Watcher, req: WatchRequest, feed: asyncio.Task[None], deadline: float) -> None:
    """Until the watch ends: its deadline, its client's liveness, its bookmarks."""
    next_bookmark = time.monotonic() + BOOKMARK_INTERVAL * (0.8 + 0.4 * random.random())
    while not watcher.done.done():
        now = time.monotonic()
        if now >= deadline:
            watcher.finish("timeout")
            return
        wait = min(deadline - now, LIVENESS_CHECK)
        if req.allow_bookmarks:
            wait = min(wait, max(0.0, next_bookmark - now))
        await asyncio.wait([watcher.done], timeout=wait)
        if watcher.done.done():
            return
        if watcher.transport.is_closing():
            watcher.finish("the client closed the connection")
            return
        if req.allow_bookmarks and time.monotonic() >= next_bookmark:
            if feed.done() and watcher.last_revision:
                watcher.push(watcher.encoder.bookmark(watcher.last_revision))
            next_bookmark = time.monotonic() + BOOKMARK_INTERVAL


async def _end_stream(resp: web.StreamResponse, watcher: Watcher) -> None:
    """Send what is queued and the last chunk; drop the connection of a client that does not read."""
    transport = watcher.transport
    if transport.is_closing():
        return
    if not watcher.cut_reason:
        watcher.flush_remaining()
    if watcher.cut_reason and transport.get_write_buffer_size() >= watcher.limits.write_high:
        transport.abort()
        return
    try:
        async with asyncio.timeout(FINISH_GRACE):
            await resp.write_eof()
    except (TimeoutError, ConnectionError):
        transport.abort()
