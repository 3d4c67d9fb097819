"""SPDY/3.1 for the streams of kubectl before 1.30 (exec, attach) and all port-forwards.

Kubernetes' clients (client-go, on moby/spdystream) speak the subset used here: SYN_STREAM,
SYN_REPLY, RST_STREAM, SETTINGS, PING, GOAWAY, HEADERS, WINDOW_UPDATE and DATA with FLAG_FIN; header
blocks are zlib streams primed with the SPDY/3 dictionary, one compression context per direction
for the whole connection.  No maintained Python SPDY library exists (spdy-py's last release is
from 2021), so this module holds a small framer (`Framer`: bytes in any fragmentation -> frames,
frames -> bytes) and an asyncio session (`Session`: the server side of one connection, whose
streams the exec/attach and port-forward handlers in portforward.py read and write).

spdystream does no flow control: it never waits for WINDOW_UPDATE and ignores those it gets, so
neither does this session (a WINDOW_UPDATE or SETTINGS frame is parsed and dropped).  Memory is
bounded instead by pausing the reader while the streams hold more than a high-water mark.

Called by apiserver/portforward.py (over an upgraded HTTP connection or inside a WebSocket).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, cast

from aiohttp import web

from ..api import errors as E

log = logging.getLogger("minikube_py.apiserver.spdy")

VERSION = 3
MAX_LENGTH = (1 << 24) - 1
DATA_CHUNK = 32 * 1024  # what one DATA frame carries at most when we send
FLAG_FIN = 0x01
FLAG_UNIDIRECTIONAL = 0x02

# The SPDY/3 header dictionary (draft 3, section 2.6.10.1): 65 length-prefixed names and values,
# then a run of status codes, reason phrases, dates and common values.
_WORDS = (
    "options head post put delete trace accept accept-charset accept-encoding accept-language "
    "accept-ranges age allow authorization cache-control connection content-base content-encoding "
    "content-language content-length content-location content-md5 content-range content-type date etag "
    "expect expires from host if-match if-modified-since if-none-match if-range if-unmodified-since "
    "last-modified location max-forwards pragma proxy-authenticate proxy-authorization range referer "
    "retry-after server te trailer transfer-encoding upgrade user-agent vary via warning www-authenticate "
    "method get status 200_OK version HTTP/1.1 url public set-cookie keep-alive origin")
_TAIL = (
    "100101201202205206300302303304305306307402405406407408409410411412413414415416417502504505"
    "203 Non-Authoritative Information204 No Content301 Moved Permanently400 Bad Request401 Unauthorized"
    "403 Forbidden404 Not Found500 Internal Server Error501 Not Implemented503 Service Unavailable"
    "Jan Feb Mar Apr May Jun Jul Aug Sept Oct Nov Dec 00:00:00 Mon, Tue, Wed, Thu, Fri, Sat, Sun, GMT"
    "chunked,text/html,image/png,image/jpg,image/gif,application/xml,application/xhtml+xml,text/plain,"
    "text/javascript,publicprivatemax-age=gzip,deflate,sdchcharset=utf-8charset=iso-8859-1,utf-,*,enq=0.")


def _dictionary() -> bytes:
    words = [w.replace("_", " ") for w in _WORDS.split()]  # "200_OK" is the one entry with a space
    out = b"".join(struct.pack(">I", len(w)) + w.encode() for w in words)
    return out + _TAIL.encode()


DICTIONARY = _dictionary()


class FrameType(IntEnum):
    SYN_STREAM = 1
    SYN_REPLY = 2
    RST_STREAM = 3
    SETTINGS = 4
    PING = 6
    GOAWAY = 7
    HEADERS = 8
    WINDOW_UPDATE = 9


class RstStatus(IntEnum):
    PROTOCOL_ERROR = 1
    INVALID_STREAM = 2
    REFUSED_STREAM = 3
    UNSUPPORTED_VERSION = 4
    CANCEL = 5
    INTERNAL_ERROR = 6
    FLOW_CONTROL_ERROR = 7
    STREAM_IN_USE = 8
    STREAM_ALREADY_CLOSED = 9


class ProtocolError(Exception):
    """The peer sent bytes that are not SPDY/3 (the connection cannot go on)."""


Headers = dict[str, list[str]]  # lowercase names, as SPDY/3 requires; values split at NUL


@dataclass
class DataFrame:
    stream_id: int
    data: bytes
    fin: bool = False


@dataclass
class SynStream:
    stream_id: int
    headers: Headers
    associated_to: int = 0
    priority: int = 0
    fin: bool = False
    unidirectional: bool = False


@dataclass
class SynReply:
    stream_id: int
    headers: Headers = field(default_factory=dict)
    fin: bool = False


@dataclass
class RstStream:
    stream_id: int
    status: int


@dataclass
class Settings:
    entries: list[tuple[int, int, int]]  # (flags, id, value)
    clear: bool = False


@dataclass
class Ping:
    ping_id: int


@dataclass
class GoAway:
    last_good_stream_id: int
    status: int = 0


@dataclass
class HeadersFrame:
    stream_id: int
    headers: Headers
    fin: bool = False


@dataclass
class WindowUpdate:
    stream_id: int
    delta: int


@dataclass
class UnknownFrame:
    frame_type: int  # a control frame type this framer does not know: SPDY says ignore it


Frame = (DataFrame | SynStream | SynReply | RstStream | Settings | Ping | GoAway | HeadersFrame | WindowUpdate
         | UnknownFrame)


def header(headers: Headers, name: str) -> str:
    """The first value of a header ("" when absent)."""
    values = headers.get(name.lower()) or [""]
    return values[0]


class Framer:
    """One direction pair of a SPDY/3 connection: `feed` parses what arrives (in any pieces),
    `encode` serialises what we send.  Each direction keeps its own zlib context for header blocks."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._inflate = zlib.decompressobj(zdict=DICTIONARY)
        self._deflate = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, 15, 8,
                                         zlib.Z_DEFAULT_STRATEGY, DICTIONARY)

    # --- reading --------------------------------------------------------------------------------

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= 8:
            first, second = struct.unpack_from(">II", self._buf)
            length = second & 0xFFFFFF
            if len(self._buf) < 8 + length:
                break
            body = bytes(self._buf[8:8 + length])
            flags = second >> 24
            del self._buf[:8 + length]
            if first & 0x80000000:
                version = (first >> 16) & 0x7FFF
                if version != VERSION:
                    raise ProtocolError(f"unsupported SPDY version {version}")
                frames.append(self._parse_control(first & 0xFFFF, flags, body))
            else:
                frames.append(DataFrame(first & 0x7FFFFFFF, body, bool(flags & FLAG_FIN)))
        return frames

    def _parse_control(self, kind: int, flags: int, body: bytes) -> Frame:
        fin = bool(flags & FLAG_FIN)
        try:
            if kind == FrameType.SYN_STREAM:
                sid, assoc, prio = struct.unpack_from(">IIB", body)
                return SynStream(sid & 0x7FFFFFFF, self._headers(body[10:]), assoc & 0x7FFFFFFF, prio >> 5, fin,
                                 bool(flags & FLAG_UNIDIRECTIONAL))
            if kind == FrameType.SYN_REPLY:
                (sid,) = struct.unpack_from(">I", body)
                return SynReply(sid & 0x7FFFFFFF, self._headers(body[4:]), fin)
            if kind == FrameType.HEADERS:
                (sid,) = struct.unpack_from(">I", body)
                return HeadersFrame(sid & 0x7FFFFFFF, self._headers(body[4:]), fin)
            if kind == FrameType.RST_STREAM:
                sid, status = struct.unpack_from(">II", body)
                return RstStream(sid & 0x7FFFFFFF, status)
            if kind == FrameType.SETTINGS:
                (count,) = struct.unpack_from(">I", body)
                entries = []
                for i in range(count):
                    word, value = struct.unpack_from(">II", body, 4 + 8 * i)
                    entries.append((word >> 24, word & 0xFFFFFF, value))
                return Settings(entries, bool(flags & 0x01))
            if kind == FrameType.PING:
                return Ping(struct.unpack_from(">I", body)[0])
            if kind == FrameType.GOAWAY:
                last, status = struct.unpack_from(">II", body) if len(body) >= 8 else (*struct.unpack_from(">I", body),
                                                                                       0)
                return GoAway(last & 0x7FFFFFFF, status)
            if kind == FrameType.WINDOW_UPDATE:
                sid, delta = struct.unpack_from(">II", body)
                return WindowUpdate(sid & 0x7FFFFFFF, delta & 0x7FFFFFFF)
        except struct.error as exc:
            raise ProtocolError(f"invalid control frame of type {kind}: {exc}") from exc
        return UnknownFrame(kind)

    def _headers(self, block: bytes) -> Headers:
        try:
            raw = self._inflate.decompress(block)
        except zlib.error as exc:
            raise ProtocolError(f"cannot decompress a header block: {exc}") from exc
        out: Headers = {}
        try:
            (count,) = struct.unpack_from(">I", raw)
            pos = 4
            for _ in range(count):
                (n,) = struct.unpack_from(">I", raw, pos)
                name = raw[pos + 4:pos + 4 + n].decode("latin-1")
                pos += 4 + n
                (n,) = struct.unpack_from(">I", raw, pos)
                value = raw[pos + 4:pos + 4 + n].decode("latin-1")
                pos += 4 + n
                out.setdefault(name.lower(), []).extend(value.split("\x00"))
        except struct.error as exc:
            raise ProtocolError(f"truncated header block: {exc}") from exc
        return out

    # --- writing --------------------------------------------------------------------------------

    def encode(self, frame: Frame) -> bytes:
        if isinstance(frame, DataFrame):
            if len(frame.data) > MAX_LENGTH:
                raise ValueError("a DATA frame carries at most 16 MiB - 1")
            return struct.pack(">II", frame.stream_id & 0x7FFFFFFF,
                               (FLAG_FIN if frame.fin else 0) << 24 | len(frame.data)) + frame.data
        if isinstance(frame, SynStream):
            flags = (FLAG_FIN if frame.fin else 0) | (FLAG_UNIDIRECTIONAL if frame.unidirectional else 0)
            body = struct.pack(">IIBB", frame.stream_id, frame.associated_to, (frame.priority & 7) << 5, 0)
            return self._control_frame(FrameType.SYN_STREAM, flags, body + self._block(frame.headers))
        if isinstance(frame, SynReply):
            return self._control_frame(FrameType.SYN_REPLY, FLAG_FIN if frame.fin else 0,
                                 struct.pack(">I", frame.stream_id) + self._block(frame.headers))
        if isinstance(frame, HeadersFrame):
            return self._control_frame(FrameType.HEADERS, FLAG_FIN if frame.fin else 0,
                                 struct.pack(">I", frame.stream_id) + self._block(frame.headers))
        if isinstance(frame, RstStream):
            return self._control_frame(FrameType.RST_STREAM, 0, struct.pack(">II", frame.stream_id, frame.status))
        if isinstance(frame, Settings):
            body = struct.pack(">I", len(frame.entries)) + b"".join(
                struct.pack(">II", (f << 24) | i, v) for f, i, v in frame.entries)
            return self._control_frame(FrameType.SETTINGS, 0x01 if frame.clear else 0, body)
        if isinstance(frame, Ping):
            return self._control_frame(FrameType.PING, 0, struct.pack(">I", frame.ping_id))
        if isinstance(frame, GoAway):
            return self._control_frame(FrameType.GOAWAY, 0, struct.pack(">II", frame.last_good_stream_id, frame.status))
        if isinstance(frame, WindowUpdate):
            return self._control_frame(FrameType.WINDOW_UPDATE, 0, struct.pack(">II", frame.stream_id, frame.delta))
        raise TypeError(f"cannot encode {type(frame).__name__}")

    @staticmethod
    def _control_frame(kind: int, flags: int, body: bytes) -> bytes:
        return struct.pack(">HHI", 0x8000 | VERSION, kind, flags << 24 | len(body)) + body

    def _block(self, headers: Headers) -> bytes:
        raw = [struct.pack(">I", len(headers))]
        for name, values in headers.items():
            n, v = name.lower().encode("latin-1"), "\x00".join(values).encode("latin-1")
            raw += [struct.pack(">I", len(n)), n, struct.pack(">I", len(v)), v]
        return self._deflate.compress(b"".join(raw)) + self._deflate.flush(zlib.Z_SYNC_FLUSH)


# --- the session ---------------------------------------------------------------------------------

_HIGH_WATER = 1 << 20  # bytes held for readers before the connection stops reading
_LOW_WATER = 256 << 10
_SEND_HIGH_WATER = 256 << 10
CLOSE_TIMEOUT = 5.0  # how long close() waits for what is queued to go out


class Stream:
    """One SPDY stream opened by the client; we replied to it.  `read()` returns b"" at the peer's FIN."""

    def __init__(self, session: Session, stream_id: int, headers: Headers) -> None:
        self.session = session
        self.id = stream_id
        self.headers = headers
        self._chunks: deque[bytes] = deque()
        self._readable = asyncio.Event()
        self.remote_closed = False
        self.local_closed = False
        self.reset = False

    def header(self, name: str) -> str:
        return header(self.headers, name)

    def _deliver(self, data: bytes, fin: bool) -> None:
        if data and not self.remote_closed:
            self._chunks.append(data)
            self.session._buffered(len(data))
        if fin:
            self.remote_closed = True
        self._readable.set()

    async def read(self) -> bytes:
        while not self._chunks:
            if self.remote_closed:
                return b""
            self._readable.clear()
            await self._readable.wait()
        data = self._chunks.popleft()
        self.session._buffered(-len(data))
        return data

    async def read_all(self) -> bytes:
        parts = []
        while chunk := await self.read():
            parts.append(chunk)
        return b"".join(parts)

    async def write(self, data: bytes) -> None:
        if self.local_closed or self.reset:
            return
        for start in range(0, len(data), DATA_CHUNK):
            self.session.send(DataFrame(self.id, data[start:start + DATA_CHUNK]))
        await self.session.drain()

    def close(self) -> None:
        """Half-close: a DATA frame with FLAG_FIN (what spdystream's Stream.Close sends)."""
        if not self.local_closed and not self.reset:
            self.local_closed = True
            self.session.send(DataFrame(self.id, b"", fin=True))

    def _on_reset(self) -> None:
        self.reset = True
        self._deliver(b"", True)


class Session:
    """The server side of one SPDY/3 connection.

    `feed(bytes)` with what arrives (sync, from a protocol's data_received or a WebSocket loop);
    frames go out through `sender` (a coroutine function) in order, from one writer task.  Each
    SYN_STREAM is answered with SYN_REPLY at once (as the kubelet's spdy handler does) and the
    new `Stream` is handed to `accept()`."""

    def __init__(self, sender: Callable[[bytes], Awaitable[None]], *, name: str = "spdy",
                 pause: Callable[[], None] | None = None, resume: Callable[[], None] | None = None) -> None:
        self.name = name
        self.framer = Framer()
        self.streams: dict[int, Stream] = {}
        self._sender = sender
        self._out: deque[bytes] = deque()
        self._out_bytes = 0
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()  # the queue is under the high-water mark
        self._drained.set()
        self._idle = asyncio.Event()  # nothing queued or being written
        self._idle.set()
        self._roomy = asyncio.Event()  # the streams hold less than the high-water mark
        self._roomy.set()
        self._new: asyncio.Queue[Stream | None] = asyncio.Queue()
        self._held = 0
        self._paused = False
        self._pause, self._resume = pause, resume
        self.closed = asyncio.Event()  # GOAWAY, EOF, or a protocol error
        self._last_client_stream = 0
        self._writer = asyncio.create_task(self._write_loop(), name=f"{name}-writer")

    # --- input ----------------------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self.closed.is_set():
            return
        try:
            frames = self.framer.feed(data)
        except ProtocolError as exc:
            log.info("%s: closing the connection: %s", self.name, exc)
            self.send(GoAway(self._last_client_stream, 1))
            self.eof()
            return
        for frame in frames:
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, DataFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                stream._deliver(frame.data, frame.fin)
                self._forget_if_done(stream)
        elif isinstance(frame, SynStream):
            sid = frame.stream_id
            if sid % 2 == 0 or sid <= self._last_client_stream:
                self.send(RstStream(sid, RstStatus.PROTOCOL_ERROR))
                return
            self._last_client_stream = sid
            stream = Stream(self, sid, frame.headers)
            self.streams[sid] = stream
            self.send(SynReply(sid))
            if frame.fin:
                stream._deliver(b"", True)
            self._new.put_nowait(stream)
        elif isinstance(frame, HeadersFrame):
            stream = self.streams.get(frame.stream_id)
            if stream is not None and frame.fin:
                stream._deliver(b"", True)
        elif isinstance(frame, RstStream):
            stream = self.streams.pop(frame.stream_id, None)
            if stream is not None:
                stream._on_reset()
        elif isinstance(frame, Ping):
            if frame.ping_id % 2 == 1:  # the client's (odd): echo it; ours would be even, and we send none
                self.send(frame)
        elif isinstance(frame, GoAway):
            self.eof()
        # SETTINGS, WINDOW_UPDATE, SYN_REPLY (we open no streams), unknown types: nothing to do

    def _forget_if_done(self, stream: Stream) -> None:
        if stream.remote_closed and stream.local_closed:
            self.streams.pop(stream.id, None)

    def eof(self) -> None:
        """The connection ended (EOF, GOAWAY or an error): every stream is reset (reads EOF, `reset` set),
        accept() returns None."""
        if self.closed.is_set():
            return
        self.closed.set()
        for stream in list(self.streams.values()):
            stream._on_reset()  # not a FIN: e.g. stdin was not closed by the client, its connection went away
        self._new.put_nowait(None)

    def _buffered(self, delta: int) -> None:
        self._held += delta
        if self._held > _HIGH_WATER:
            self._roomy.clear()
        else:
            self._roomy.set()
        if not self._paused and self._held > _HIGH_WATER and self._pause is not None:
            self._paused = True
            self._pause()
        elif self._paused and self._held < _LOW_WATER and self._resume is not None:
            self._paused = False
            self._resume()

    async def room(self) -> None:
        """For readers without pause/resume (a WebSocket loop): wait while the streams hold too much."""
        if not self._roomy.is_set():
            await self._until(self._roomy, self.closed)

    async def accept(self) -> Stream | None:
        return await self._new.get()

    # --- output ---------------------------------------------------------------------------------

    def send(self, frame: Frame) -> None:
        """Queue a frame (encoded now, so header compression follows the sending order); dropped once
        the connection failed."""
        if self._writer.done():
            return
        if isinstance(frame, DataFrame) and frame.fin:
            stream = self.streams.get(frame.stream_id)
            if stream is not None:
                self._forget_if_done(stream)
        raw = self.framer.encode(frame)
        self._out.append(raw)
        self._out_bytes += len(raw)
        self._idle.clear()
        if self._out_bytes > _SEND_HIGH_WATER:
            self._drained.clear()
        self._wake.set()

    async def drain(self) -> None:
        """Wait while more than the high-water mark is queued for the peer."""
        if not self._drained.is_set():
            await self._until(self._drained)

    async def flush(self) -> None:
        """Wait until everything queued so far went out (or the connection failed)."""
        if not self._idle.is_set():
            await self._until(self._idle)

    async def _until(self, *events: asyncio.Event) -> None:
        """Wait for any of the events, or for the writer to stop (the connection failed)."""
        waiters = [asyncio.ensure_future(e.wait()) for e in events]
        try:
            await asyncio.wait([*waiters, self._writer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    async def _write_loop(self) -> None:
        try:
            while True:
                if not self._out:
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                raw = self._out.popleft()
                self._out_bytes -= len(raw)
                if self._out_bytes <= _SEND_HIGH_WATER:
                    self._drained.set()
                await self._sender(raw)
                if not self._out:
                    self._idle.set()
        except (ConnectionError, RuntimeError) as exc:
            log.debug("%s: the peer went away while we wrote: %s", self.name, exc)
            self._drained.set()
            self._idle.set()
            self.eof()

    async def close(self) -> None:
        """GOAWAY (as spdystream's Close), what is queued goes out, the writer stops.  Idempotent."""
        if not self._writer.done():
            self.send(GoAway(self._last_client_stream))
            with contextlib.suppress(TimeoutError):  # a client that stopped reading does not hold us
                await asyncio.wait_for(self.flush(), CLOSE_TIMEOUT)
        self.eof()
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer


# --- the HTTP upgrade (aiohttp) ------------------------------------------------------------------


class _Feeder:
    """What aiohttp's protocol feeds once `set_parser` handed it the connection: the shape of its
    WebSocketReader (feed_data -> (eof, tail), feed_eof), here into a Session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.session.feed(data)
        return False, b""

    def feed_eof(self) -> None:
        self.session.eof()


def is_upgrade(request: web.Request) -> bool:
    connection = [t.strip().lower() for t in request.headers.get("Connection", "").split(",")]
    return "upgrade" in connection and request.headers.get("Upgrade", "").lower().startswith("spdy/3")


def offered_protocols(request: web.Request) -> list[str]:
    """X-Stream-Protocol-Version, one header per protocol (client-go) or comma-separated."""
    return [p.strip() for value in request.headers.getall("X-Stream-Protocol-Version", [])
            for p in value.split(",") if p.strip()]


def negotiate(offered: list[str], supported: tuple[str, ...]) -> str:
    """The client's first protocol that we speak ("" when it named none, as the oldest clients)."""
    if not offered:
        return ""
    for protocol in offered:
        if protocol in supported:
            return protocol
    raise E.Forbidden(f"unable to upgrade: unable to negotiate protocol: client supports {offered}, server "
                      f"accepts {list(supported)}")


async def accept_upgrade(request: web.Request, protocol: str, *, name: str) -> tuple[web.StreamResponse, Session]:
    """Answer `101 Switching Protocols` (Upgrade: SPDY/3.1) and take the connection's bytes.

    aiohttp's parser treats only `websocket` (and `tcp`) as upgrades; a SPDY upgrade request is an
    ordinary request without a body to it.  After the 101 went out we do what WebSocketResponse
    does: `protocol.set_parser(...)` makes aiohttp hand every later byte to us instead of parsing
    HTTP (client-go sends nothing between its request and our 101, so nothing was parsed as HTTP),
    and we write to the transport directly.  The connection is not kept alive afterwards."""
    if request.body_exists:
        raise E.BadRequest("unable to upgrade: a SPDY upgrade request has no body")
    proto, transport = request.protocol, request.transport
    if proto is None or transport is None:
        raise ConnectionResetError("the client went away before the upgrade")
    headers = {"Connection": "Upgrade", "Upgrade": "SPDY/3.1"}
    if protocol:
        headers["X-Stream-Protocol-Version"] = protocol
    resp = web.StreamResponse(status=101, headers=headers)
    resp.force_close()
    await resp.prepare(request)
    writer = request.writer

    async def send(raw: bytes) -> None:
        if transport.is_closing():
            raise ConnectionResetError("the client closed the connection")
        transport.write(raw)
        await writer.drain()

    session = Session(send, name=name, pause=transport.pause_reading, resume=transport.resume_reading)
    proto.set_parser(cast(Any, _Feeder(session)))
    return resp, session
