"""The kubelet's decisions as a pure function: pod spec + what Docker has + the clock -> actions.

Modelled on the kubelet's `computePodActions` (pkg/kubelet/kuberuntime/kuberuntime_manager.go):
a sandbox that is gone, stopped or has lost its IP means the whole pod is killed and recreated
(a new sandbox attempt, every container started again, except those that already succeeded under
restartPolicy OnFailure; under Never a pod whose containers already ran gets no new sandbox);
a container that is not running is started again when its restartPolicy says so, unless its
restart backoff (10 s doubling to 300 s) holds it back (CrashLoopBackOff); a running container
whose spec hash changed is killed and started again; when nothing is left to run the sandbox is
killed too.  A pod being deleted is killed as a whole; a pod that finished (Succeeded, Failed)
never runs again.  Init containers run one at a time before the app containers (a new sandbox
runs them again); native sidecars (restartPolicy Always init containers) are started in order,
the next init container waiting until the sidecar has started, and are restarted whenever they
stop.  A container whose liveness or startup probe failed (agents/kubelet/probes.py) is killed;
its restart is the next pass's, under the backoff.

Called by agents/kubelet/worker.py, which executes the actions through agents/kubelet/runtime.py;
unit-tested in tests/unit/test_kubelet_actions.py without Docker.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from .probes import ProbeResults

Obj = dict[str, Any]

RUNNING, CREATED, EXITED, UNKNOWN = "running", "created", "exited", "unknown"


@dataclass(frozen=True)
class ContainerSnapshot:
    """One Docker container of the pod, as rebuilt from its labels and state."""
    id: str
    name: str
    state: str  # running | created | exited | unknown
    restart_count: int = 0
    spec_hash: str = ""
    exit_code: int | None = None
    started_at: float | None = None  # epoch seconds
    finished_at: float | None = None
    image: str = ""
    image_id: str = ""
    error: str = ""  # Docker's State.Error (a start that failed)
    oom_killed: bool = False  # Docker's State.OOMKilled: the memory limit ended it
    sandbox_id: str = ""  # the sandbox it joined ("" when unknown: counts as the current one)
    message: str = ""  # an exited container's termination message


@dataclass(frozen=True)
class SandboxSnapshot:
    id: str
    ready: bool  # the pause container runs
    attempt: int = 0
    ip: str = ""
    created_at: float = 0.0


@dataclass(frozen=True)
class PodSnapshot:
    """Everything Docker has for one pod uid: its sandboxes (newest first) and containers."""
    uid: str
    sandboxes: tuple[SandboxSnapshot, ...] = ()
    containers: tuple[ContainerSnapshot, ...] = ()

    def latest(self, name: str) -> ContainerSnapshot | None:
        """The container's newest attempt (the highest restart count)."""
        found = [c for c in self.containers if c.name == name]
        return max(found, key=lambda c: (c.restart_count, c.started_at or 0.0)) if found else None

    def latest_in(self, name: str, sandbox_id: str) -> ContainerSnapshot | None:
        """The container's newest attempt in that sandbox (init containers run again in a new one)."""
        found = [c for c in self.containers if c.name == name and c.sandbox_id in (sandbox_id, "")]
        return max(found, key=lambda c: (c.restart_count, c.started_at or 0.0)) if found else None


@dataclass(frozen=True)
class StartContainer:
    name: str
    restart_count: int
    reason: str  # why it is (re)started, for the trace


@dataclass(frozen=True)
class KillContainer:
    id: str
    name: str
    reason: str
    message: str
    grace: int | None = None  # instead of the pod's (a probe's terminationGracePeriodSeconds)


@dataclass
class PodActions:
    kill_pod: bool = False
    create_sandbox: bool = False
    sandbox_id: str = ""  # the sandbox the containers join (when not creating one)
    attempt: int = 0  # the sandbox attempt to create
    start: list[StartContainer] = field(default_factory=list)
    kill: list[KillContainer] = field(default_factory=list)
    backoff: dict[str, str] = field(default_factory=dict)  # container -> CrashLoopBackOff message
    reasons: list[str] = field(default_factory=list)  # why, in words, for logs and traces

    @property
    def nothing(self) -> bool:
        return not (self.kill_pod or self.create_sandbox or self.start or self.kill)


def container_hash(container: Obj) -> str:
    """A stable hash of a container's spec (resources excluded, as they may change in place)."""
    spec = {k: v for k, v in container.items() if k != "resources"}
    return hashlib.sha256(json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:8]


class RestartBackoff:
    """The kubelet's crash-loop backoff, keyed by pod uid + container name + spec hash: 10 s
    doubling to 300 s, reset once a container ran twice the maximum (10 minutes) since its last
    restart (kube's flowcontrol.Backoff: IsInBackOffSince and Next both treat it as expired)."""

    def __init__(self, initial: float = 10.0, maximum: float = 300.0) -> None:
        self.initial = initial
        self.maximum = maximum
        self._entries: dict[str, tuple[float, float]] = {}  # key -> (duration, last update)

    def in_backoff(self, key: str, since: float, now: float) -> float:
        """Seconds left before the container may be restarted (0: it may)."""
        entry = self._entries.get(key)
        if entry is None:
            return 0.0
        duration, updated = entry
        if since - updated > 2 * self.maximum:
            return 0.0  # it ran long enough (10 minutes with kube's times): the backoff is over
        return max(0.0, since + duration - now)

    def duration(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry[0] if entry else 0.0

    def next(self, key: str, now: float) -> None:
        """Record a restart: the next one waits twice as long (up to the maximum)."""
        entry = self._entries.get(key)
        if entry is None or now - entry[1] > 2 * self.maximum:
            self._entries[key] = (self.initial, now)
        else:
            self._entries[key] = (min(entry[0] * 2, self.maximum), now)

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._entries if k.startswith(uid + "/")]:
            del self._entries[key]


def backoff_key(uid: str, container: Obj) -> str:
    return f"{uid}/{container.get('name')}/{container_hash(container)}"


def should_restart(container: ContainerSnapshot | None, policy: str) -> bool:
    """Whether a container that is not running is started (again) under the pod's restartPolicy."""
    if container is None or container.state in (CREATED, UNKNOWN):
        return True
    if container.state == RUNNING:
        return False
    if policy == "Never":
        return False
    if policy == "OnFailure" and container.exit_code == 0:
        return False
    return True


def _sandbox_changed(pod: Obj, snapshot: PodSnapshot) -> tuple[bool, int, str]:
    """(must the sandbox be (re)created?, the attempt to create, why)"""
    if not snapshot.sandboxes:
        return True, 0, "no sandbox yet"
    latest = snapshot.sandboxes[0]
    ready = [s for s in snapshot.sandboxes if s.ready]
    if len(ready) > 1:
        return True, latest.attempt + 1, "more than one sandbox is ready"
    if not latest.ready:
        return True, latest.attempt + 1, "the sandbox is not ready (its pause container stopped)"
    if not (pod.get("spec") or {}).get("hostNetwork") and not latest.ip:
        return True, latest.attempt + 1, "the sandbox has no IP"
    return False, latest.attempt, ""


def is_sidecar(container: Obj) -> bool:
    """A native sidecar: an init container with restartPolicy Always (kept running)."""
    return container.get("restartPolicy") == "Always"


def _next_count(snapshot: PodSnapshot, name: str) -> int:
    """The restart count (and Docker name suffix) of a container's next attempt."""
    last = snapshot.latest(name)
    if last is None:
        return 0
    return last.restart_count + (0 if last.state == CREATED else 1)


def _in_backoff(actions: PodActions, backoff: RestartBackoff | None, pod: Obj, container: Obj,
                last: ContainerSnapshot | None, now: float) -> bool:
    """Whether an exited container must wait before its restart (CrashLoopBackOff): noted in actions."""
    if last is None or last.state != EXITED or backoff is None:
        return False
    meta = pod.get("metadata") or {}
    uid = str(meta.get("uid"))
    key = backoff_key(uid, container)
    if backoff.in_backoff(key, last.finished_at or now, now) <= 0:
        return False
    name = str(container.get("name"))
    actions.backoff[name] = (f"back-off {_duration(backoff.duration(key))} restarting failed container={name} "
                             f"pod={meta.get('name')}_{meta.get('namespace')}({uid})")
    return True


def _probe_kill(actions: PodActions, container: Obj, last: ContainerSnapshot, probes: ProbeResults | None,
                restart: bool) -> bool:
    """Kill a running container whose liveness or startup probe failed (kube's message), within the
    probe's terminationGracePeriodSeconds when it has one."""
    failed = probes.failed(last.id) if probes is not None else ""
    if not failed:
        return False
    message = f"Container {last.name} failed {failed} probe" + (", will be restarted" if restart else "")
    grace = (container.get(f"{failed}Probe") or {}).get("terminationGracePeriodSeconds")
    actions.kill.append(KillContainer(last.id, last.name, "Killing", message,
                                      int(grace) if isinstance(grace, int) and grace >= 0 else None))
    return True


def _init_actions(pod: Obj, snapshot: PodSnapshot, sandbox_id: str, actions: PodActions, now: float,
                  backoff: RestartBackoff | None, probes: ProbeResults | None) -> bool:
    """The init containers, in order (the kubelet's computeInitContainerActions): each regular one
    must exit 0 before the next starts; a sidecar must be running (and started, past its startup
    probe) before the next starts, and is restarted whenever it stops.  Returns whether the pod is
    initialized, so its app containers may run."""
    spec = pod.get("spec") or {}
    policy = spec.get("restartPolicy") or "Always"
    initialized = any(snapshot.latest_in(str(c.get("name")), sandbox_id) is not None
                      for c in spec.get("containers") or [])
    for c in spec.get("initContainers") or []:
        name = str(c.get("name"))
        last = snapshot.latest_in(name, sandbox_id)
        if is_sidecar(c):
            if last is not None and last.state == RUNNING:
                if _probe_kill(actions, c, last, probes, True):
                    return initialized
                if initialized or probes is None or probes.started(last.id, c):
                    continue
                return False  # wait for its startup probe
            if not _in_backoff(actions, backoff, pod, c, last, now):
                why = "not created yet" if last is None else f"sidecar exited with code {last.exit_code}"
                actions.start.append(StartContainer(name, _next_count(snapshot, name), f"init container {name} {why}"))
            if initialized:
                continue
            return False
        if initialized:
            continue
        if last is None or last.state == CREATED:
            actions.start.append(StartContainer(name, _next_count(snapshot, name), f"init container {name} is next"))
            return False
        if last.state == RUNNING:
            return False
        if last.exit_code == 0:
            continue
        if policy == "Never":  # the pod has failed: nothing more runs
            if any(x.state == RUNNING for x in snapshot.containers) or any(sb.ready for sb in snapshot.sandboxes):
                actions.kill_pod = True
            actions.reasons.append(f"init container {name} failed (exit code {last.exit_code}); restartPolicy Never")
            return False
        if not _in_backoff(actions, backoff, pod, c, last, now):
            actions.start.append(StartContainer(name, _next_count(snapshot, name),
                                                f"init container {name} exited with code {last.exit_code}"))
        return False
    return True


def compute_pod_actions(pod: Obj, snapshot: PodSnapshot, *, now: float,
                        backoff: RestartBackoff | None = None, probes: ProbeResults | None = None) -> PodActions:
    """What to do for one pod this pass.  `now` is epoch seconds (the clock's), compared with the
    containers' finish times for the restart backoff; `probes` what the probes say of the running
    containers (a failed liveness or startup probe kills the container; its restart is the next
    pass's, under the backoff)."""
    spec = pod.get("spec") or {}
    meta = pod.get("metadata") or {}
    policy = spec.get("restartPolicy") or "Always"
    containers: list[Obj] = list(spec.get("containers") or [])
    inits: list[Obj] = list(spec.get("initContainers") or [])
    actions = PodActions()

    if meta.get("deletionTimestamp"):
        if snapshot.sandboxes or snapshot.containers:
            actions.kill_pod = True
            actions.reasons.append("the pod is being deleted")
        return actions

    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        # a pod that finished is never started again (the kubelet's terminal pods)
        if any(c.state == RUNNING for c in snapshot.containers) or any(s.ready for s in snapshot.sandboxes):
            actions.kill_pod = True
            actions.reasons.append(f"the pod is {pod['status']['phase']}")
        return actions

    changed, attempt, why = _sandbox_changed(pod, snapshot)
    if changed:
        ran_before = bool(snapshot.sandboxes) and any(c.state != CREATED for c in snapshot.containers)
        if policy == "Never" and ran_before:
            # a pod that never restarts does not get a second sandbox: it is done
            actions.kill_pod = bool(snapshot.sandboxes and any(s.ready for s in snapshot.sandboxes)) or any(
                c.state == RUNNING for c in snapshot.containers)
            actions.reasons.append(f"{why}; restartPolicy Never: no new sandbox")
            return actions
        actions.kill_pod = bool(snapshot.sandboxes) or bool(snapshot.containers)
        actions.create_sandbox = True
        actions.attempt = attempt
        actions.reasons.append(why)
        if inits:  # a new sandbox runs its init containers again, the first one now
            name = str(inits[0].get("name"))
            actions.start.append(StartContainer(name, _next_count(snapshot, name), f"new sandbox ({why})"))
            return actions
        for c in containers:
            last = snapshot.latest(str(c.get("name")))
            if policy == "OnFailure" and last is not None and last.state == EXITED and last.exit_code == 0:
                continue  # it succeeded: OnFailure does not run it again
            count = last.restart_count + 1 if last is not None else 0
            actions.start.append(StartContainer(str(c.get("name")), count, f"new sandbox ({why})"))
        if not actions.start:  # every container succeeded (OnFailure): nothing to run in a new sandbox
            actions.create_sandbox = False
            actions.kill_pod = any(c.state == RUNNING for c in snapshot.containers) or any(
                s.ready for s in snapshot.sandboxes)
        return actions

    actions.sandbox_id = snapshot.sandboxes[0].id
    if inits and not _init_actions(pod, snapshot, actions.sandbox_id, actions, now, backoff, probes):
        return actions
    keep = 0
    for c in containers:
        name = str(c.get("name"))
        last = snapshot.latest(name)
        wanted_hash = container_hash(c)
        if last is None or last.state != RUNNING:
            if not should_restart(last, policy):
                continue
            if _in_backoff(actions, backoff, pod, c, last, now):
                keep += 1  # it will run again: the sandbox stays
                continue
            why = "not created yet" if last is None else (
                f"exited with code {last.exit_code}" if last.state == EXITED else f"is {last.state}")
            actions.start.append(StartContainer(name, _next_count(snapshot, name), f"container {name} {why}"))
            continue
        if _probe_kill(actions, c, last, probes, policy != "Never"):
            keep += policy != "Never"
            continue
        if last.spec_hash and last.spec_hash != wanted_hash:
            message = f"Container {name} definition changed, will be restarted"
            actions.kill.append(KillContainer(last.id, name, "Killing", message))
            actions.start.append(StartContainer(name, last.restart_count + 1, message))
            continue
        keep += 1
    # running containers the spec no longer names (never ours to keep)
    names = {str(c.get("name")) for c in containers + inits}
    for cs in snapshot.containers:
        if cs.state == RUNNING and cs.name not in names:
            actions.kill.append(KillContainer(cs.id, cs.name, "Killing", f"Container {cs.name} is not in the spec"))
    sidecars = {str(c.get("name")) for c in inits if is_sidecar(c)}
    if keep == 0 and all(s.name in sidecars for s in actions.start):
        actions.start = []  # the app containers are done: the sidecars stop with the pod
        actions.kill_pod = True
        actions.reasons.append("no container is left to run")
    return actions


def _duration(seconds: float) -> str:
    """Go's time.Duration format for whole seconds, as in the kubelet's message ("10s", "5m0s")."""
    s = int(round(seconds))
    if s >= 60:
        return f"{s // 60}m{s % 60}s"
    return f"{s}s"
