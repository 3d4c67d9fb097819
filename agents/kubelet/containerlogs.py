"""Container logs as the kubelet serves them, from Docker's timestamped log stream.

Docker prefixes each line with RFC 3339 (trailing zeros cut); the kubelet prints nine fraction
digits always, and filters sinceSeconds/sinceTime itself, to the nanosecond.  The reader runs
Docker's blocking log stream in a thread of its own (a follow may last hours) and hands lines
to the loop.  Used by agents/kubelet/streaming.py (`/containerLogs`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import docker

from minikube_py.api import errors as E

log = logging.getLogger("minikube_py.agent.streaming")
CLIENT_CHECK = 5.0  # how often a quiet followed log checks that its client is still there


_DOCKER_STAMP = re.compile(rb"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d) ")


def split_docker_stamp(line: bytes) -> tuple[dt.datetime | None, int, bytes]:
    """Docker's `timestamps` prefix (RFC 3339 with trailing zeros cut) -> (time, nanoseconds, rest)."""
    m = _DOCKER_STAMP.match(line)
    if m is None:
        return None, 0, line
    base = dt.datetime.strptime(m.group(1).decode(), "%Y-%m-%dT%H:%M:%S")
    zone = m.group(3).decode()
    offset = dt.timedelta(0) if zone == "Z" else (1 if zone[0] == "+" else -1) * dt.timedelta(
        hours=int(zone[1:3]), minutes=int(zone[4:6]))
    when = (base - offset).replace(tzinfo=dt.UTC)
    nanos = int((m.group(2) or b"0").decode().ljust(9, "0")[:9])
    return when, nanos, line[m.end():]


def kubelet_stamp(when: dt.datetime, nanos: int) -> bytes:
    """The kubelet's timestamp: RFC 3339 with nine fraction digits always (2006-01-02T15:04:05.000000000Z)."""
    return f"{when.strftime('%Y-%m-%dT%H:%M:%S')}.{nanos:09d}Z".encode()


def _epoch_ns(when: dt.datetime, nanos: int) -> int:
    return int(when.timestamp()) * 1_000_000_000 + nanos


def parse_rfc3339(value: str) -> int | None:
    """sinceTime (RFC 3339, optional fraction) -> epoch nanoseconds (a float cannot hold them)."""
    when, nanos, rest = split_docker_stamp(value.encode() + b" ")
    if when is None or rest:
        return None
    return _epoch_ns(when, nanos)


class LogOptions:
    """The kubelet's container log options from the query."""

    def __init__(self, q: Any, now: float) -> None:
        def flag(key: str) -> bool:
            return (q.get(key) or "").lower() in ("1", "true", "yes", "t")

        def number(key: str) -> int | None:
            raw = q.get(key)
            if raw in (None, ""):
                return None
            try:
                return int(raw)
            except ValueError:
                raise E.BadRequest(f'{key}: Invalid value: "{raw}": not an integer') from None

        self.follow, self.previous, self.timestamps = flag("follow"), flag("previous"), flag("timestamps")
        self.tail = number("tailLines")
        self.limit = number("limitBytes")
        since = number("sinceSeconds")
        self.since: int | None = int((now - since) * 1e9) if since else None  # epoch nanoseconds
        if q.get("sinceTime"):
            self.since = parse_rfc3339(str(q["sinceTime"]))
            if self.since is None:
                raise E.BadRequest(f'sinceTime: Invalid value: "{q["sinceTime"]}": not an RFC 3339 time')


def format_line(line: bytes, timestamps: bool, since: int | None) -> bytes | None:
    """One line of Docker's timestamped log as the kubelet prints it (None when before `since`, in
    epoch nanoseconds)."""
    when, nanos, rest = split_docker_stamp(line)
    if when is None:
        return line
    if since is not None and _epoch_ns(when, nanos) < since:
        return None
    return kubelet_stamp(when, nanos) + b" " + rest if timestamps else rest


async def docker_log_lines(api: Any, key: str, container_id: str, follow: bool, tail: int | None,
                           gone: Callable[[], bool]) -> AsyncIterator[bytes]:
    """Docker's log frames (`api`: the SDK's APIClient; one line each, stdout and stderr in the order
    Docker got them) through a thread; the client `gone` (checked while the log is quiet) ends it."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue(maxsize=256)
    holder: list[Any] = []
    stop = threading.Event()

    def put(item: bytes | BaseException | None) -> None:
        fut = asyncio.run_coroutine_threadsafe(queue.put(item), loop)
        with contextlib.suppress(Exception):
            fut.result()

    def read() -> None:
        try:
            stream = api.logs(container_id, stdout=True, stderr=True, stream=True, follow=follow, timestamps=True,
                          tail="all" if tail is None else tail)
            holder.append(stream)
            for chunk in stream:
                if stop.is_set():
                    break
                put(chunk)
            put(None)
        except Exception as exc:  # noqa: BLE001 - handed to the loop
            if not stop.is_set():
                put(exc)
            else:
                put(None)

    # a thread of its own, not the runtime pool: a follow may last for hours
    threading.Thread(target=read, name=f"logs-{container_id[:12]}", daemon=True).start()
    try:
        pending = b""
        while True:
            try:
                item = await asyncio.wait_for(queue.get(), CLIENT_CHECK)
            except TimeoutError:
                if gone():
                    log.info("%s: the followed log of %s ended: its client left", key, container_id[:12])
                    break
                continue
            if item is None:
                break
            if isinstance(item, BaseException):
                if isinstance(item, docker.errors.NotFound):
                    break
                raise item
            pending += item
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line + b"\n"
        if pending:
            yield pending
    finally:
        stop.set()
        for stream in holder:
            with contextlib.suppress(Exception):
                stream.close()
        while not queue.empty():
            queue.get_nowait()
