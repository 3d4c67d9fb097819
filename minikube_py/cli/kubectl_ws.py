"""mkctl's exec/attach session: WebSocket `v5.channel.k8s.io` to pods/NAME/exec|attach, as kubectl >= 1.30.

stdin (a pipe, a file or the terminal) goes out on channel 0 and its end as the v5 close frame
`[255, 0]`; channels 1 and 2 are written to stdout and stderr; channel 3's Status carries the
remote exit code, which becomes mkctl's (with kubectl's `command terminated with exit code N`).
With -t on a local terminal, the terminal is put in raw mode for the session and its size is sent
on channel 4 at the start and on every SIGWINCH.  aiohttp runs the socket; the blocking reads of
stdin happen in a daemon thread.  Called by minikube_py/cli/kubectl_stream.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
import termios
import threading
import tty as ttymod
from typing import Any

import aiohttp

from ..api import channels
from ..api.errors import from_status
from ..client import wsdial
from ..client.rest import RestClient, status_of


class SessionError(Exception):
    """The stream could not be opened or broke (printed as `error: ...`)."""


def _terminal_size() -> tuple[int, int]:
    """The terminal's own size, as kubectl reads it (COLUMNS/LINES only when there is no terminal)."""
    for stream in (sys.stdout, sys.stdin):
        try:
            size = os.get_terminal_size(stream.fileno())
            return size.columns, size.lines
        except (OSError, ValueError):
            continue
    fallback = shutil.get_terminal_size()
    return fallback.columns, fallback.lines


async def _session(client: RestClient, path: str, params: dict[str, Any], *, stdin: bool, tty: bool) -> int:
    url = f"{client.scheme}://{client.hostport}{client.url(path, params)}"
    ssl_ctx = client._context() if client.scheme == "https" else False  # noqa: SLF001 - the same client's TLS
    headers = client._headers("*/*", None)  # noqa: SLF001 - and its credentials
    loop = asyncio.get_running_loop()
    async with aiohttp.ClientSession(trace_configs=[wsdial.session_trace()]) as session:
        try:
            ws = await wsdial.ws_connect(session, url, protocols=(channels.V5, channels.V4), headers=headers,
                                         ssl=ssl_ctx, max_msg_size=0, autoping=True)
        except wsdial.UpgradeRefused as exc:
            raise from_status(status_of(exc.status, exc.body), exc.status) from None
        except (aiohttp.ClientError, OSError) as exc:
            raise SessionError(f"unable to upgrade connection: {exc}") from None
        protocol = ws.protocol or channels.V4
        status: dict[str, Any] | None = None

        async def send(channel: int, data: bytes) -> None:
            await ws.send_bytes(bytes([channel]) + data)

        def read_stdin() -> None:
            fd = sys.stdin.fileno()
            while True:
                try:
                    data = os.read(fd, 32 * 1024)
                except OSError:
                    data = b""
                fut = asyncio.run_coroutine_threadsafe(_stdin_frame(data), loop)
                with contextlib.suppress(Exception):
                    fut.result()
                if not data:
                    return

        async def _stdin_frame(data: bytes) -> None:
            if ws.closed:
                return
            if data:
                await send(channels.STDIN, data)
            elif protocol == channels.V5:
                await ws.send_bytes(bytes([channels.CLOSE, channels.STDIN]))

        async def resize() -> None:
            if not ws.closed:
                await send(channels.RESIZE, channels.resize_payload(*_terminal_size()))

        if tty:
            await resize()
            loop.add_signal_handler(signal.SIGWINCH, lambda: asyncio.ensure_future(resize()))
        if stdin:
            threading.Thread(target=read_stdin, name="mkctl-stdin", daemon=True).start()
        out, err = sys.stdout.buffer, sys.stderr.buffer
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.BINARY or not msg.data:
                continue
            frame = channels.decode(msg.data, protocol)
            if frame.channel == channels.STDOUT:
                out.write(frame.data)
                out.flush()
            elif frame.channel == channels.STDERR:
                err.write(frame.data)
                err.flush()
            elif frame.channel == channels.ERROR:
                status = channels.parse_status(frame.data)
        if tty:
            loop.remove_signal_handler(signal.SIGWINCH)
    if status is None:
        return 0
    code = channels.exit_code(status)
    if code is None:
        raise SessionError(str(status.get("message") or "the stream failed"))
    return code


def run_session(client: RestClient, path: str, params: dict[str, Any], *, stdin: bool, tty: bool) -> int:
    """Run one exec/attach session; the remote exit code (0 when it has none to tell)."""
    raw = tty and stdin and os.isatty(sys.stdin.fileno())
    saved = termios.tcgetattr(sys.stdin.fileno()) if raw else None
    try:
        if raw:
            ttymod.setraw(sys.stdin.fileno())
        return asyncio.run(_session(client, path, params, stdin=stdin, tty=tty))
    finally:
        if saved is not None:
            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, saved)
