"""A WebSocket dial that keeps the body of a refused upgrade (the server's Status says why).

aiohttp's ws_connect raises WSServerHandshakeError on a non-101 answer without reading its body,
yet Kubernetes servers explain a refused exec/attach there (`container not found`, `pod ... does not
have a host assigned`).  A session made with `session_trace()` reads that body in its
on_request_end hook into the current call's holder (a ContextVar: the hook runs in the task that
dials).  Used by the apiserver's dial_agent and by mkctl's exec/attach.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

import aiohttp

_REFUSED: ContextVar[list[tuple[int, bytes]] | None] = ContextVar("ws_refused_upgrade", default=None)


class UpgradeRefused(Exception):
    """The server answered the upgrade with `status` and `body` instead of 101."""

    def __init__(self, status: int, body: bytes, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.body = body


async def _on_request_end(session: aiohttp.ClientSession, ctx: Any, params: aiohttp.TraceRequestEndParams) -> None:
    holder = _REFUSED.get()
    if holder is not None and params.response.status != 101:
        try:
            holder.append((params.response.status, await params.response.read()))
        except (aiohttp.ClientError, OSError):
            holder.append((params.response.status, b""))


def session_trace() -> aiohttp.TraceConfig:
    """The trace config to give every ClientSession that dials with `ws_connect` below."""
    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(_on_request_end)
    return trace


async def ws_connect(session: aiohttp.ClientSession, url: str, **kwargs: Any) -> aiohttp.ClientWebSocketResponse:
    """session.ws_connect; a refused upgrade raises UpgradeRefused with the answer's body."""
    holder: list[tuple[int, bytes]] = []
    token = _REFUSED.set(holder)
    try:
        return await session.ws_connect(url, **kwargs)
    except aiohttp.WSServerHandshakeError as exc:
        status, body = holder[0] if holder else (exc.status, b"")
        raise UpgradeRefused(status, body, exc.message) from None
    finally:
        _REFUSED.reset(token)
