"""Liveness, readiness and startup probes: one prober task per container probe, as the kubelet's
prober manager (pkg/kubelet/prober/worker.go) runs them.

A probe has Kubernetes' defaults (periodSeconds 10, timeoutSeconds 1, successThreshold 1,
failureThreshold 3, initialDelaySeconds 0).  Its result starts as kube's does (readiness: failure,
liveness: success, startup: unknown) and flips only after `successThreshold` successes or
`failureThreshold` failures in a row.  Liveness and readiness wait until the startup probe (if any)
has succeeded; the startup probe stops once it has.  A liveness or startup probe that has failed
stops probing until the container is replaced (kube's onHold).  Results are kept per Docker
container id, so a restarted container starts afresh; the tasks of a container stop when it stops.

`ProbeState` (the counting) and `ProbeResults` (what the pod worker reads) are pure and unit-tested
in tests/unit/test_kubelet_probes.py with a fake clock.  `Prober` is driven by
agents/kubelet/worker.py: after each pass it calls `track(pod, snapshot)`, and a result that changes
enqueues the pod key; agents/kubelet/actions.py kills a container whose liveness or startup probe
failed, agents/kubelet/status.py reads ready/started.  Handlers: exec (docker exec in the
container), httpGet (to the pod IP), tcpSocket; grpc is reported as unsupported.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from minikube_py.client.clock import SYSTEM, Clock

log = logging.getLogger("minikube_py.kubelet.probes")
Obj = dict[str, Any]

LIVENESS, READINESS, STARTUP = "liveness", "readiness", "startup"
KINDS = {LIVENESS: "livenessProbe", READINESS: "readinessProbe", STARTUP: "startupProbe"}
TITLES = {LIVENESS: "Liveness", READINESS: "Readiness", STARTUP: "Startup"}


@dataclass(frozen=True)
class ProbeSpec:
    """One probe of a container, with Kubernetes' defaults filled in."""
    kind: str
    handler: Obj
    initial_delay: float = 0.0
    period: float = 10.0
    timeout: float = 1.0
    success_threshold: int = 1
    failure_threshold: int = 3

    @classmethod
    def of(cls, kind: str, probe: Obj) -> ProbeSpec:
        def num(key: str, default: float) -> float:
            value = probe.get(key)
            return float(value) if isinstance(value, int | float) and value > 0 else default
        success = int(num("successThreshold", 1))
        if kind != READINESS:
            success = 1  # kube's validation: liveness and startup need exactly 1
        delay = probe.get("initialDelaySeconds")
        return cls(kind, probe, float(delay) if isinstance(delay, int | float) and delay > 0 else 0.0,
                   num("periodSeconds", 10.0), num("timeoutSeconds", 1.0), success, int(num("failureThreshold", 3)))


def container_probes(container: Obj) -> list[ProbeSpec]:
    return [ProbeSpec.of(kind, container[field_]) for kind, field_ in KINDS.items()
            if isinstance(container.get(field_), dict)]


class ProbeState:
    """The counting of one probe for one container (pure): the result, and whether it changed."""

    def __init__(self, spec: ProbeSpec) -> None:
        self.spec = spec
        # kube's initial values: not ready until proven, alive until proven dead, startup unknown
        self.result: bool | None = {READINESS: False, LIVENESS: True, STARTUP: None}[spec.kind]
        self._last: bool | None = None
        self._run = 0
        self.on_hold = False  # a liveness/startup failure: no more probing of this container

    def due(self, running_for: float) -> bool:
        """Whether to probe now: not before initialDelaySeconds, never on hold."""
        return not self.on_hold and running_for >= self.spec.initial_delay

    def observe(self, ok: bool) -> bool:
        """Count one probe's outcome; True when the result flipped."""
        self._run = self._run + 1 if self._last == ok else 1
        self._last = ok
        threshold = self.spec.success_threshold if ok else self.spec.failure_threshold
        if self._run < threshold or self.result == ok:
            return False
        self.result = ok
        if not ok and self.spec.kind in (LIVENESS, STARTUP):
            self.on_hold = True
        self._run = 0
        return True


@dataclass
class ProbeResults:
    """What the probes say, per Docker container id: read by actions (kills) and status (ready)."""
    _results: dict[tuple[str, str], bool | None] = field(default_factory=dict)

    def set(self, container_id: str, kind: str, result: bool | None) -> None:
        self._results[(container_id, kind)] = result

    def get(self, container_id: str, kind: str) -> bool | None:
        return self._results.get((container_id, kind))

    def forget(self, container_id: str) -> None:
        for key in [k for k in self._results if k[0] == container_id]:
            del self._results[key]

    def started(self, container_id: str, container: Obj) -> bool:
        """A running container has started once its startup probe (if any) succeeded."""
        return "startupProbe" not in container or self.get(container_id, STARTUP) is True

    def ready(self, container_id: str, container: Obj) -> bool:
        """A running container is ready once started and its readiness probe (if any) succeeded."""
        if not self.started(container_id, container):
            return False
        return "readinessProbe" not in container or self.get(container_id, READINESS) is True

    def failed(self, container_id: str) -> str:
        """'liveness' or 'startup' when that probe failed for this container, else ''."""
        for kind in (STARTUP, LIVENESS):
            if self.get(container_id, kind) is False:
                return kind
        return ""


@dataclass(frozen=True)
class ProbeTarget:
    """Where one probe goes: the container (exec), the pod's IP (httpGet, tcpSocket)."""
    key: str  # ns/name of the pod
    container: Obj
    container_id: str
    pod_ip: str


Runner = Callable[[ProbeSpec, ProbeTarget], Awaitable[tuple[bool, str]]]
Recorder = Callable[[str, str, str, str], None]  # pod key, type, reason, message


class Prober:
    """The probe tasks of this node's containers; `run` does one probe (the real handlers, or a
    fake in unit tests), `on_change(pod key)` is told when a result flips, `event` records the
    Warning Unhealthy events."""

    def __init__(self, run: Runner, on_change: Callable[[str], None], event: Recorder,
                 clock: Clock = SYSTEM) -> None:
        self.run = run
        self.on_change = on_change
        self.event = event
        self.clock = clock
        self.results = ProbeResults()
        self._tasks: dict[tuple[str, str], asyncio.Task[None]] = {}  # (container id, kind) -> task
        self._by_pod: dict[str, set[str]] = {}  # pod uid -> container ids with tasks

    def track(self, uid: str, key: str, containers: list[tuple[Obj, str, float]], pod_ip: str) -> None:
        """The pod's running containers now: (spec, container id, started at epoch seconds).  Tasks
        start for new containers' probes and stop for containers no longer running."""
        wanted: set[tuple[str, str]] = set()
        for spec, cid, started_at in containers:
            for probe in container_probes(spec):
                wanted.add((cid, probe.kind))
                if (cid, probe.kind) not in self._tasks:
                    target = ProbeTarget(key, spec, cid, pod_ip)
                    self.results.set(cid, probe.kind, ProbeState(probe).result)
                    self._tasks[(cid, probe.kind)] = asyncio.create_task(
                        self._loop(probe, target, started_at), name=f"probe-{key}-{spec.get('name')}-{probe.kind}")
        for cid in self._by_pod.get(uid, set()) - {cid for cid, _ in wanted}:
            self._stop_container(cid)
        self._by_pod[uid] = {cid for cid, _ in wanted}
        if not wanted:
            self._by_pod.pop(uid, None)

    def forget_pod(self, uid: str) -> None:
        for cid in self._by_pod.pop(uid, set()):
            self._stop_container(cid)

    def _stop_container(self, cid: str) -> None:
        for k in [k for k in self._tasks if k[0] == cid]:
            self._tasks.pop(k).cancel()
        self.results.forget(cid)

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()

    async def _loop(self, probe: ProbeSpec, target: ProbeTarget, started_at: float) -> None:
        state = ProbeState(probe)
        running: asyncio.Future[tuple[bool, str]] | None = None  # the probe's one handler call in flight
        try:
            while True:
                if probe.kind != STARTUP and not self.results.started(target.container_id, target.container):
                    pass  # liveness and readiness wait for the startup probe
                elif state.due(self.clock.now() - started_at):
                    if running is not None and not running.done():  # a docker exec cannot be cancelled:
                        ok, output = False, (f"timeout: probe did not answer within {probe.timeout:g}s "
                                             "(the previous one still runs)")  # never a second one
                    else:
                        running = asyncio.ensure_future(self.run(probe, target))
                        ok, output = await self._outcome(running, probe.timeout)
                    if self._count(probe, target, state, ok, output):
                        return
                await self.clock.sleep(probe.period)
        finally:
            if running is not None:
                running.cancel()

    async def _outcome(self, running: asyncio.Future[tuple[bool, str]], limit: float) -> tuple[bool, str]:
        """The handler's answer, or a timeout after timeoutSeconds and a second (docker exec's own
        cost; the handlers keep timeoutSeconds themselves) on the injectable clock; a timed-out
        handler call is left to finish, so the next period knows it still runs."""
        timer: asyncio.Future[Any] = asyncio.ensure_future(self.clock.sleep(limit + 1.0))
        try:
            await asyncio.wait([running, timer], return_when=asyncio.FIRST_COMPLETED)
        finally:
            timer.cancel()
        if not running.done():
            return False, f"timeout: probe did not answer within {limit:g}s"
        try:
            return running.result()
        except Exception as exc:  # noqa: BLE001 - a probe that errors is a failed probe
            return False, f"{type(exc).__name__}: {exc}"

    def _count(self, probe: ProbeSpec, target: ProbeTarget, state: ProbeState, ok: bool, output: str) -> bool:
        """Count one outcome (an Unhealthy event when it failed); True when the probe is done: failed
        (the container is replaced, its successor gets new tasks) or, a startup probe, succeeded."""
        if not ok:
            self.event(target.key, "Warning", "Unhealthy", f"{TITLES[probe.kind]} probe failed: {output}")
        if not state.observe(ok):
            return False
        log.info("%s: container %s %s probe now %s", target.key, target.container.get("name"), probe.kind,
                 "succeeds" if ok else "fails")
        self.results.set(target.container_id, probe.kind, state.result)
        self.on_change(target.key)
        return state.on_hold or (probe.kind == STARTUP and bool(state.result))


# --- the handlers --------------------------------------------------------------------------------


def _port(container: Obj, port: Any) -> int:
    """A probe's port: a number, or the name of one of the container's ports."""
    if isinstance(port, int):
        return port
    if isinstance(port, str) and port.isdigit():
        return int(port)
    for p in container.get("ports") or []:
        if p.get("name") == port:
            return int(p.get("containerPort") or 0)
    raise ValueError(f"port {port!r} is not a number nor the name of a container port")


async def tcp_probe(host: str, port: int, limit: float) -> tuple[bool, str]:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except (OSError, TimeoutError) as exc:
        what = "i/o timeout" if isinstance(exc, TimeoutError) else "connect: connection refused" if isinstance(
            exc, ConnectionRefusedError) else str(exc.strerror or exc).lower()
        return False, f"dial tcp {host}:{port}: {what}"
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True, ""


async def http_probe(get: Obj, container: Obj, pod_ip: str, limit: float) -> tuple[bool, str]:
    import aiohttp  # the agent's HTTP client, only needed by pods that probe over HTTP

    scheme = str(get.get("scheme") or "HTTP").lower()
    host = str(get.get("host") or pod_ip)
    port = _port(container, get.get("port", 80 if scheme == "http" else 443))
    path = str(get.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    url = f"{scheme}://{host}:{port}{path}"
    headers = {"User-Agent": "kube-probe/1.35", "Accept": "*/*"}
    headers.update({str(h.get("name")): str(h.get("value", "")) for h in get.get("httpHeaders") or [] if h.get("name")})
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session, \
                session.get(url, headers=headers, ssl=False, max_redirects=10) as resp:
            if 200 <= resp.status < 400:
                return True, ""
            return False, f"HTTP probe failed with statuscode: {resp.status}"
    except TimeoutError:
        return False, f'Get "{url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)'
    except aiohttp.ClientConnectorError as exc:
        refused = isinstance(exc.os_error, ConnectionRefusedError)
        return False, f'Get "{url}": dial tcp {host}:{port}: ' + (
            "connect: connection refused" if refused else str(exc.os_error.strerror or exc).lower())
    except aiohttp.ClientError as exc:
        return False, f'Get "{url}": {exc}'


def handler_runner(exec_in: Callable[[str, list[str]], Awaitable[tuple[int, str]]]) -> Runner:
    """The real handlers; `exec_in(container id, command)` runs a command in a container (docker
    exec through the runtime's thread pool) and returns its exit code and output (the prober's
    timeout bounds the wait)."""

    async def run(probe: ProbeSpec, target: ProbeTarget) -> tuple[bool, str]:
        h = probe.handler
        if isinstance(h.get("exec"), dict):
            command = [str(x) for x in h["exec"].get("command") or []]
            code, output = await exec_in(target.container_id, command)
            return code == 0, output.strip() if output.strip() or code == 0 else \
                f"command {command!r} exited with {code}"
        if isinstance(h.get("httpGet"), dict):
            return await http_probe(h["httpGet"], target.container, target.pod_ip, probe.timeout)
        if isinstance(h.get("tcpSocket"), dict):
            t = h["tcpSocket"]
            return await tcp_probe(str(t.get("host") or target.pod_ip), _port(target.container, t.get("port")),
                                   probe.timeout)
        if isinstance(h.get("grpc"), dict):
            return False, "grpc probes are not supported by this node agent"
        return False, "the probe has no handler (exec, httpGet, tcpSocket)"

    return run
