"""The HTTP server under the apiserver: Go's request-size limits, and a Status for what cannot be parsed.

kube-apiserver serves with Go's net/http, which reads a request line and headers of up to 1 MiB
(`http.DefaultMaxHeaderBytes`, plus 4096 bytes of slack) and answers beyond that with
431 Request Header Fields Too Large.  aiohttp stops at 8 KiB per line, so long label selectors
failed here.  make_app raises aiohttp's per-line limits to 1 MiB (HANDLER_ARGS) and checks the
total in `header_limits`; `minikube-py server` runs the app with ApiRunner, whose connections
answer a request that aiohttp cannot parse (too long, malformed) with a Kubernetes Status
instead of aiohttp's plain text.  aiohttp builds its protocol objects itself, so ApiRunner swaps
their class for one that differs only in `handle_error` (written against aiohttp 3.14, pinned <4).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, LineTooLong

from ..api import errors as E

log = logging.getLogger("minikube_py.apiserver")

MAX_HEADER_BYTES = 1 << 20  # Go's http.DefaultMaxHeaderBytes, which kube-apiserver keeps
_SLACK = 4096  # Go reads MaxHeaderBytes + 4096 before it gives up
HANDLER_ARGS = {"max_line_size": MAX_HEADER_BYTES, "max_field_size": MAX_HEADER_BYTES}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _too_large(detail: str) -> E.RequestHeaderFieldsTooLarge:
    return E.RequestHeaderFieldsTooLarge(f"Request Header Fields Too Large: {detail}; the request line and headers "
                                         f"may have at most {MAX_HEADER_BYTES} bytes")


@web.middleware
async def header_limits(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Go's limit is on the request line and all headers together; aiohttp's are per line."""
    size = len(request.method) + len(request.raw_path) + 11  # "GET <path> HTTP/1.1\r\n"
    size += sum(len(name) + len(value) + 4 for name, value in request.raw_headers)
    if size > MAX_HEADER_BYTES + _SLACK:
        raise _too_large(f"the request line and headers have {size} bytes")
    return await handler(request)


def _status_for(status: int, exc: BaseException | None, message: str | None) -> E.ApiError:
    if isinstance(exc, LineTooLong):
        preview = exc.args[0] if exc.args else b""
        text = bytes(preview).decode("utf-8", "replace") if isinstance(preview, bytes | bytearray) else str(preview)
        part = "the request URL" if text.startswith(("/", "http:", "https:")) else "a header field"
        return _too_large(f'{part} is longer than {MAX_HEADER_BYTES} bytes (it starts "{text[:60]}")')
    if isinstance(exc, BadHttpMessage) and "Too many headers" in str(exc.message):
        return _too_large(str(exc.message))
    if status < 500:  # aiohttp's parse errors are all 400s
        return E.BadRequest(f"the request could not be parsed: {message or exc or 'Bad Request'}")
    return E.InternalError("an error on the server has prevented the request from succeeding")


class StatusRequestHandler(web.RequestHandler):
    """aiohttp's protocol, answering what never reaches the app with a Status, not plain text."""

    __slots__ = ()

    def handle_error(self, request: web.BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        if status >= 500:
            self.log_exception("Error handling request from %s", request.remote, exc_info=exc)
        else:
            log.info("rejected a request from %s that could not be parsed: %s", request.remote,
                     str(message or exc)[:200])
        if request.writer.output_size > 0:
            raise ConnectionError("Response is sent already, cannot send another response with the error message")
        err = _status_for(status, exc, message)
        resp = web.Response(body=orjson.dumps(err.status()), status=err.code, content_type="application/json")
        resp.force_close()
        return resp


class _StatusServer(web.Server):
    def __call__(self) -> web.RequestHandler:
        handler = super().__call__()
        handler.__class__ = StatusRequestHandler  # the same slots: only handle_error differs
        return handler


class ApiRunner(web.AppRunner):
    """web.AppRunner for the apiserver app: same app, connections answering parse errors with a Status."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        server.__class__ = _StatusServer
        return server
