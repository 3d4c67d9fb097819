"""Container lifecycle hooks (postStart, preStop) as the kubelet's handler runner
(pkg/kubelet/lifecycle/handlers.go) runs them: exec (docker exec in the container), httpGet (to the
pod IP, as the probes) and sleep; a failure is the kubelet's message, for the FailedPostStartHook
and FailedPreStopHook events.

Called by agents/kubelet/worker.py: postStart right after a container started (a failure kills it,
and its restart follows the restartPolicy and the backoff), preStop before SIGTERM, within the
termination grace period.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

from .probes import http_probe

Obj = dict[str, Any]
ExecIn = Callable[[str, list[str]], Awaitable[tuple[int, str]]]


def _q(text: object) -> str:
    """Go's %q for the kubelet's messages (JSON's quoting is the same for what we print)."""
    return json.dumps(str(text))


def pod_name(pod: Obj) -> str:
    """The kubelet's format.Pod: name_namespace(uid)."""
    m = pod.get("metadata") or {}
    return f"{m.get('name')}_{m.get('namespace') or 'default'}({m.get('uid')})"


async def run_hook(handler: Obj, pod: Obj, container: Obj, container_id: str, pod_ip: str, exec_in: ExecIn,
                   limit: float, sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> str:
    """Run one hook handler; '' when it succeeded, else the kubelet's failure message.  `limit` bounds
    the wait (the grace period for preStop); `sleep` is the clock's (the sleep handler)."""
    name = container.get("name")
    try:
        return await asyncio.wait_for(_run(handler, pod, container, container_id, pod_ip, exec_in, limit, sleep),
                                      max(limit, 0.1))
    except TimeoutError:
        return f"lifecycle hook for Container {_q(name)} in Pod {_q(pod_name(pod))} did not finish within {limit:g}s"


async def _run(handler: Obj, pod: Obj, container: Obj, container_id: str, pod_ip: str, exec_in: ExecIn,
               limit: float, sleep: Callable[[float], Awaitable[None]]) -> str:
    name = container.get("name")
    if isinstance(handler.get("exec"), dict):
        command = [str(x) for x in handler["exec"].get("command") or []]
        code, output = await exec_in(container_id, command)
        if code == 0:
            return ""
        return (f"Exec lifecycle hook ([{' '.join(command)}]) for Container {_q(name)} in Pod {_q(pod_name(pod))} "
                f"failed - error: command '{' '.join(command)}' exited with {code}: {output}, message: {_q(output)}")
    if isinstance(handler.get("httpGet"), dict):
        ok, message = await http_probe(handler["httpGet"], container, pod_ip, limit)
        if ok:
            return ""
        return (f"HTTP lifecycle hook ({handler['httpGet'].get('path') or '/'}) for Container {_q(name)} in Pod "
                f"{_q(pod_name(pod))} failed - error: {message}")
    if isinstance(handler.get("sleep"), dict):
        await sleep(float(handler["sleep"].get("seconds") or 0))
        return ""
    return f"lifecycle hook for Container {_q(name)} in Pod {_q(pod_name(pod))} has no handler (exec, httpGet, sleep)"
