"""`/debug/reconciles`: the reconcile traces of the control loops, for people who study them.

Controllers and the scheduler (in this process or elsewhere) POST batches of traces here; anyone
can read the recent ones or watch them live (`?watch=true`, newline-delimited JSON, filtered by
`controller=` and `key=`), which is what `mkctl trace` does.  Components only send traces while
somebody watches (the answer to every POST and GET says how many watchers there are), so the
loops pay nothing when nobody looks.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
from typing import Any

import orjson
from aiohttp import web

from ..api import errors as E

Obj = dict[str, Any]
RECENT = 2000


class ReconcileHub:
    def __init__(self) -> None:
        self.recent: collections.deque[Obj] = collections.deque(maxlen=RECENT)
        self.watchers: set[asyncio.Queue[Obj]] = set()
        self.received = 0

    def publish(self, traces: list[Obj]) -> None:
        for trace in traces:
            self.received += 1
            self.recent.append(trace)
            for q in list(self.watchers):
                if q.qsize() < 10000:  # a stalled reader loses traces, not the server's memory
                    q.put_nowait(trace)


def _matches(trace: Obj, controller: str, key: str) -> bool:
    """`controller`: part of the controller's name; `key`: a key prefix, so `default/web` also
    matches the ReplicaSet `default/web-7c5d` and its pods, which is what people ask about."""
    if controller and controller not in str(trace.get("controller", "")):
        return False
    return not key or str(trace.get("key", "")).startswith(key)


def add_routes(app: web.Application, hub: ReconcileHub) -> None:
    async def post(request: web.Request) -> web.Response:
        try:
            body = orjson.loads(await request.read())
            traces = body["traces"]
            if not isinstance(traces, list) or not all(isinstance(t, dict) for t in traces):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            raise E.BadRequest('the body must be {"traces": [{...}, ...]}') from None
        hub.publish(traces)
        return web.json_response({"watchers": len(hub.watchers)}, dumps=lambda o: orjson.dumps(o).decode())

    async def get(request: web.Request) -> web.StreamResponse:
        q = request.query
        controller, key = q.get("controller", ""), q.get("key", "")
        if q.get("watch") not in ("true", "1"):
            try:
                limit = int(q.get("limit", "200"))
            except ValueError:
                raise E.BadRequest(f"limit: Invalid value: {q.get('limit')!r}: must be an integer") from None
            items = [t for t in hub.recent if _matches(t, controller, key)][-limit:] if limit > 0 else []
            return web.json_response({"items": items, "watchers": len(hub.watchers)},
                                     dumps=lambda o: orjson.dumps(o).decode())
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        queue: asyncio.Queue[Obj] = asyncio.Queue()
        hub.watchers.add(queue)
        try:
            await resp.write(b"")
            while True:
                try:
                    trace = await asyncio.wait_for(queue.get(), timeout=30)
                except TimeoutError:
                    await resp.write(b"\n")  # keep the connection (and proxies) alive
                    continue
                if _matches(trace, controller, key):
                    await resp.write(orjson.dumps(trace) + b"\n")
        except ConnectionResetError:
            pass
        finally:
            hub.watchers.discard(queue)
            with contextlib.suppress(Exception):
                await resp.write_eof()
        return resp

    app.router.add_post("/debug/reconciles", post)
    app.router.add_get("/debug/reconciles", get)
