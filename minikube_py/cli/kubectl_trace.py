"""`mkctl trace [TYPE/NAME]`: a live timeline of the control loops at work (minikube-py's own
command; kubectl has no equivalent).  Reads the apiserver's `/debug/reconciles` stream: which
controller handled which `Kind namespace/name`, why, what it saw, what it wanted, what it wrote,
how it ended; for the scheduler also each filter's rejections (by plugin and reason, with the
first nodes of each) and the scores of the feasible nodes it compared.

Passes arrive in batches from several components, so entries are printed in the order they
began: the recent ones sorted, the live ones held back a moment (`HOLD`) and released in order.

Called by minikube_py.cli.mkctl.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import json
import queue
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any

from .kubectl_resources import resolve_one
from .mkctl import CommandError, Context

HOLD = 1.0  # seconds a live entry waits for earlier ones still in another component's batch
_DETAIL = ("filtered", "scores")  # the scheduler's per-node verdicts, printed on lines of their own


def _value(v: Any) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{k}: {_value(x)}" for k, x in v.items()) + "}"
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    return str(v)


def _fields(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in values.items() if k not in _DETAIL) or "-"


def _nodes(names: list[str], count: int) -> str:
    more = count - len(names)
    return ", ".join(names) + (f", ... (+{more} more)" if more > 0 else "")


def _verdict_lines(observed: dict[str, Any]) -> list[str]:
    lines = []
    for i, entry in enumerate(observed.get("filtered") or []):
        count = int(entry.get("count") or 0)
        label = "filtered: " if i == 0 else "          "
        lines.append(f"    {label}{count} node{'s' if count != 1 else ''} {entry.get('plugin') or '?'}: "
                     f"{entry.get('reason')}: {_nodes(list(entry.get('nodes') or []), count)}")
    scores = observed.get("scores")
    if scores is not None:
        shown = " ".join(f"{s.get('node')}={s.get('score')}" for s in scores) or "none"
        feasible = observed.get("feasible")
        of = f" (best {len(scores)} of {feasible} feasible)" if feasible is not None else ""
        lines.append(f"    scores:   {shown}{of}")
    return lines


def format_trace(t: dict[str, Any]) -> str:
    stamp = str(t.get("time", ""))[11:23]
    observed = t.get("observed") or {}
    lines = [f"{stamp}  {t.get('controller', '')}  {t.get('kind', '')} {t.get('key', '')}  "
             f"(trigger: {t.get('trigger', '')})",
             f"    observed: {_fields(observed)}",
             *_verdict_lines(observed),
             f"    wanted:   {_fields(t.get('wanted') or {})}"]
    for w in t.get("wrote") or []:
        lines.append(f"    wrote:    {w}")
    lines.append(f"    result:   {t.get('result', '')} ({t.get('ms', 0)} ms)")
    return "\n".join(lines) + "\n"


def in_time_order(traces: Iterable[dict[str, Any]], *, hold: float = HOLD,
                  clock: Any = time.monotonic) -> Iterator[dict[str, Any]]:
    """Live traces re-ordered by their start time: each is held until it has waited `hold`
    seconds, then released with every earlier one (the stream's end releases the rest)."""
    inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()  # None: the stream ended
    failure: list[BaseException] = []

    def read() -> None:
        try:
            for t in traces:
                inbox.put(t)
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread below
            failure.append(exc)
        finally:
            inbox.put(None)

    threading.Thread(target=read, name="trace-reader", daemon=True).start()
    held: list[tuple[str, int, float, dict[str, Any]]] = []
    seq = itertools.count()
    while True:
        wait = 0.5 if not held else max(0.0, min(0.5, held[0][2] + hold - clock()))
        try:
            trace = inbox.get(timeout=wait)
        except queue.Empty:  # nothing new: release what has waited long enough
            pass
        else:
            if trace is None:
                while held:
                    yield heapq.heappop(held)[3]
                if failure:
                    raise failure[0]
                return
            heapq.heappush(held, (str(trace.get("time", "")), next(seq), clock(), trace))
        while held and held[0][2] + hold <= clock():
            yield heapq.heappop(held)[3]


def cmd_trace(ctx: Context, args: argparse.Namespace) -> int:
    key = ""
    if args.target:
        typed, sep, name = args.target.partition("/")
        if not sep or not name:
            raise CommandError("expected TYPE/NAME, e.g. deployment/web")
        res = resolve_one(ctx, typed)
        key = f"{ctx.namespace}/{name}" if res.namespaced else name
    params = {"controller": args.controller or None, "key": key or None}

    def show(t: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(t) + "\n" if args.output == "json" else format_trace(t))
        sys.stdout.flush()

    if args.recent or args.no_watch:
        recent = ctx.client.get("/debug/reconciles", limit=args.recent or 200, **{k: v for k, v in params.items()
                                                                                    if v})
        for t in sorted(recent.get("items") or [], key=lambda t: str(t.get("time", ""))):
            show(t)
        if args.no_watch:
            return 0
    if args.output != "json":
        print(f"watching reconcile passes{' of ' + args.target if args.target else ''} (Ctrl-C to stop) ...",
              file=sys.stderr, flush=True)
    lines = ctx.client.stream("/debug/reconciles", {"watch": "true", **params})
    for t in in_time_order(json.loads(line) for line in lines if line.strip()):
        show(t)
    return 0
