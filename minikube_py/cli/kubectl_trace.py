"""`mkctl trace [TYPE/NAME]`: a live timeline of the control loops at work (minikube-py's own
command; kubectl has no equivalent).  Reads the apiserver's `/debug/reconciles` stream: which
controller handled which key, why, what it saw, what it wanted, what it wrote, how it ended.

Called by minikube_py.cli.mkctl.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from .kubectl_resources import resolve_one
from .mkctl import CommandError, Context


def _fields(values: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in values.items()) or "-"


def format_trace(t: dict[str, Any]) -> str:
    stamp = str(t.get("time", ""))[11:23]
    lines = [f"{stamp}  {t.get('controller', '')}  {t.get('kind', '')} {t.get('key', '')}  "
             f"(trigger: {t.get('trigger', '')})",
             f"    observed: {_fields(t.get('observed') or {})}",
             f"    wanted:   {_fields(t.get('wanted') or {})}"]
    for w in t.get("wrote") or []:
        lines.append(f"    wrote:    {w}")
    lines.append(f"    result:   {t.get('result', '')} ({t.get('ms', 0)} ms)")
    return "\n".join(lines) + "\n"


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
        for t in recent.get("items") or []:
            show(t)
        if args.no_watch:
            return 0
    if args.output != "json":
        print(f"watching reconcile passes{' of ' + args.target if args.target else ''} (Ctrl-C to stop) ...",
              file=sys.stderr, flush=True)
    for line in ctx.client.stream("/debug/reconciles", {"watch": "true", **params}):
        if line.strip():
            show(json.loads(line))
    return 0
