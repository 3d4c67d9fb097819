"""Reconcile traces, recorded by the control loops and shipped to the apiserver's
`/debug/reconciles` while somebody watches them (see apiserver/debug.py).

A trace says which controller handled which key, what triggered the pass, what it observed, what
it wanted, what it wrote (every write the pass made through ApiClient, recorded automatically),
conflicts and requeues, and how long it took.  When nobody watches, `begin` returns None and a
pass costs one context-variable lookup: the tracer learns about watchers from the apiserver every
few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .aio import ApiClient

Obj = dict[str, Any]
log = logging.getLogger("minikube_py.tracing")
CURRENT: contextvars.ContextVar[Obj | None] = contextvars.ContextVar("minikube_py_trace", default=None)


class WriteTally:
    """The writes of one pass that the apiserver accepted, status writes aside (the reconcile
    loop's progress measure: a failing pass that still got work done does not escalate its
    backoff; a status write that only reports the failure is no progress)."""

    __slots__ = ("accepted",)

    def __init__(self) -> None:
        self.accepted = 0


TALLY: contextvars.ContextVar[WriteTally | None] = contextvars.ContextVar("minikube_py_tally", default=None)


def note_write(method: str, path: str, status: int | str) -> None:
    """Called by ApiClient for every write: counted for the pass running, and appended to the pass
    being traced, if any."""
    tally = TALLY.get()
    if tally is not None and isinstance(status, int) and status < 400 and not path.endswith("/status"):
        tally.accepted += 1
    trace = CURRENT.get()
    if trace is not None:
        trace["wrote"].append(f"{method} {path} -> {status}")


def note_docker(call: str, result: str) -> None:
    """A node agent's Docker call that changed something, in the pass being traced (if any)."""
    trace = CURRENT.get()
    if trace is not None:
        trace["wrote"].append(f"DOCKER {call} -> {result}")


def observe(**fields: Any) -> None:
    trace = CURRENT.get()
    if trace is not None:
        trace["observed"].update(fields)


def want(**fields: Any) -> None:
    trace = CURRENT.get()
    if trace is not None:
        trace["wanted"].update(fields)


class Tracer:
    def __init__(self, client: ApiClient, component: str, *, poll: float = 3.0) -> None:
        self.client = client
        self.component = component
        self.poll = poll
        self.watchers = 0
        self._batch: list[Obj] = []
        self._task: asyncio.Task[None] | None = None

    def begin(self, controller: str, kind: str, key: str, trigger: str) -> contextvars.Token[Obj | None] | None:
        if not self.watchers:
            return None
        trace: Obj = {"time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"), "component": self.component,
                      "controller": controller, "kind": kind, "key": key, "trigger": trigger, "observed": {},
                      "wanted": {}, "wrote": [], "result": "", "ms": 0.0, "_start": time.perf_counter()}
        return CURRENT.set(trace)

    def end(self, token: contextvars.Token[Obj | None] | None, result: str) -> None:
        if token is None:
            return
        trace = CURRENT.get()
        CURRENT.reset(token)
        if trace is None:
            return
        trace["result"] = result
        trace["ms"] = round((time.perf_counter() - trace.pop("_start")) * 1000, 2)
        self._batch.append(trace)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"tracer-{self.component}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        last_poll = 0.0
        while True:
            await asyncio.sleep(0.3 if self.watchers else 0.5)
            try:
                if self._batch:
                    batch, self._batch = self._batch, []
                    answer = await self.client.request("POST", "/debug/reconciles", body={"traces": batch})
                    self.watchers = int((answer or {}).get("watchers") or 0)
                elif time.monotonic() - last_poll > self.poll:
                    last_poll = time.monotonic()
                    answer = await self.client.request("GET", "/debug/reconciles", params={"limit": 0})
                    self.watchers = int((answer or {}).get("watchers") or 0)
            except Exception as exc:  # noqa: BLE001 - tracing must never disturb the loops
                log.debug("traces not sent: %s", exc)
