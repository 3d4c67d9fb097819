"""A pod's status from what Docker has, as the kubelet's status manager computes it (pure).

Phase (the kubelet's getPhase: Pending while init containers run or a container waits to run for
the first time; Failed when an init container failed under restartPolicy Never; Running once they
run or will run again; Succeeded / Failed when none runs and none will, by restartPolicy; a
terminal phase never goes back), the conditions PodScheduled, Initialized, ContainersReady and
Ready (each lastTransitionTime kept until its status changes; ready from the readiness probes,
sidecars included), containerStatuses and initContainerStatuses (state, lastState with the
termination message, ready, started, restartCount, image, imageID, containerID docker://...),
podIP(s), hostIP, startTime and qosClass.

Called by agents/kubelet/worker.py, which writes the result through pods/status only when it
differs from what the pod already says; unit-tested in tests/unit/test_kubelet_status.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .actions import EXITED, RUNNING, ContainerSnapshot, PodActions, PodSnapshot, is_sidecar
from .probes import ProbeResults

Obj = dict[str, Any]


def _rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated(c: ContainerSnapshot) -> Obj:
    code = c.exit_code if c.exit_code is not None else 0
    out: Obj = {"exitCode": code, "reason": "OOMKilled" if c.oom_killed else "Completed" if code == 0 else "Error",
                "startedAt": _rfc3339(c.started_at), "finishedAt": _rfc3339(c.finished_at),
                "containerID": f"docker://{c.id}"}
    if c.message:
        out["message"] = c.message
    if c.error:
        out["reason"], out["message"] = "StartError", c.error
    return out


def container_status(spec: Obj, snapshot: PodSnapshot, actions: PodActions | None,
                     failures: dict[str, tuple[str, str]] | None = None, *, probes: ProbeResults | None = None,
                     init: bool = False, initializing: bool = False) -> Obj:
    """One entry of containerStatuses (or initContainerStatuses when `init`); `initializing` says
    the pod's init containers have not finished (app containers wait with PodInitializing)."""
    name = str(spec.get("name"))
    attempts = sorted((c for c in snapshot.containers if c.name == name), key=lambda c: c.restart_count)
    latest = attempts[-1] if attempts else None
    status: Obj = {"name": name, "image": spec.get("image"), "imageID": "", "ready": False, "started": False,
                   "restartCount": latest.restart_count if latest else 0, "lastState": {}}
    failed = (failures or {}).get(name)
    if latest is None:
        status["state"] = {"waiting": {"reason": failed[0], "message": failed[1]} if failed
                           else {"reason": "PodInitializing" if init or initializing else "ContainerCreating"}}
        return status
    status["containerID"] = f"docker://{latest.id}"
    if latest.image_id:
        status["imageID"] = f"docker-pullable://{latest.image_id}"
    if len(attempts) > 1 and attempts[-2].state == EXITED:
        status["lastState"] = {"terminated": _terminated(attempts[-2])}
    backoff = (actions.backoff.get(name) if actions is not None else None)
    if latest.state == RUNNING:
        status["state"] = {"running": {"startedAt": _rfc3339(latest.started_at)}}
        status["started"] = probes.started(latest.id, spec) if probes is not None else True
        status["ready"] = probes.ready(latest.id, spec) if probes is not None else True
    elif failed:
        status["state"] = {"waiting": {"reason": failed[0], "message": failed[1]}}
        if latest.state == EXITED:
            status["lastState"] = {"terminated": _terminated(latest)}
    elif latest.state == EXITED and backoff:
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": backoff}}
        status["lastState"] = {"terminated": _terminated(latest)}
    elif latest.state == EXITED:
        status["state"] = {"terminated": _terminated(latest)}
        if init and not is_sidecar(spec):
            status["ready"] = latest.exit_code == 0  # a completed init container is ready, as kube reports
    else:
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
    return status


def init_progress(pod: Obj, statuses: list[Obj]) -> tuple[list[str], bool]:
    """(the init containers not done yet, whether one of them failed): a regular init container is
    done once it exited 0, a sidecar once it runs and has started."""
    specs = {str(c.get("name")): c for c in (pod.get("spec") or {}).get("initContainers") or []}
    pending, failed = [], False
    for s in statuses:
        state = s.get("state") or {}
        if is_sidecar(specs.get(s["name"]) or {}):
            if not ("running" in state and s.get("started")):
                pending.append(s["name"])
            continue
        if "terminated" in state and state["terminated"].get("exitCode") == 0:
            continue
        pending.append(s["name"])
        term = None if "running" in state else state.get("terminated") or (s.get("lastState") or {}).get("terminated")
        if term and term.get("exitCode") != 0:
            failed = True
    return pending, failed


def phase(pod: Obj, statuses: list[Obj], init_statuses: list[Obj] | None = None) -> str:
    """The kubelet's getPhase: Pending while init containers run (Failed when one failed under
    restartPolicy Never), then from the app containers."""
    old = (pod.get("status") or {}).get("phase")
    if old in ("Succeeded", "Failed"):
        return str(old)
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
    if init_statuses and not any("running" in (s.get("state") or {}) or (s.get("lastState") or {}).get("terminated")
                                 or "terminated" in (s.get("state") or {}) for s in statuses):
        pending, failed = init_progress(pod, init_statuses)
        if failed and policy == "Never":
            return "Failed"
        if pending:
            return "Pending"
    running = waiting = stopped = succeeded = 0
    for s in statuses:
        state = s.get("state") or {}
        if "running" in state:
            running += 1
        elif "terminated" in state:
            stopped += 1
            if state["terminated"].get("exitCode") == 0:
                succeeded += 1
        elif s.get("lastState", {}).get("terminated"):
            stopped += 1  # waiting to run again after having run
        else:
            waiting += 1
    if waiting:
        return "Pending"
    if running:
        return "Running"
    if not stopped:
        return "Pending"
    if policy == "Always":
        return "Running"
    if stopped == succeeded:
        return "Succeeded"
    if policy == "Never":
        return "Failed"
    return "Running"


def _condition(kind: str, ok: bool, old: dict[str, Obj], stamp: str, reason: str = "", message: str = "") -> Obj:
    status = "True" if ok else "False"
    prev = old.get(kind)
    cond: Obj = {"type": kind, "status": status, "lastProbeTime": None,
                 "lastTransitionTime": prev.get("lastTransitionTime", stamp) if prev and prev.get("status") == status
                 else stamp}
    if not ok and reason:
        cond["reason"] = reason
        if message:
            cond["message"] = message
    return cond


def pod_status(pod: Obj, snapshot: PodSnapshot, actions: PodActions | None, *, now: str, host_ip: str,
               failures: dict[str, tuple[str, str]] | None = None, probes: ProbeResults | None = None) -> Obj:
    """The status the pod should have now (`now` an RFC 3339 time, the clock's); `failures` are the
    containers that could not be started this pass (name -> waiting reason and message), `probes`
    what the readiness and startup probes say."""
    spec = pod.get("spec") or {}
    current = pod.get("status") or {}
    inits = spec.get("initContainers") or []
    init_statuses = [container_status(c, snapshot, actions, failures, probes=probes, init=True) for c in inits]
    pending, _ = init_progress(pod, init_statuses)
    initialized = not pending or any(snapshot.latest(str(c.get("name"))) for c in spec.get("containers") or [])
    statuses = [container_status(c, snapshot, actions, failures, probes=probes, initializing=not initialized)
                for c in spec.get("containers") or []]
    ph = phase(pod, statuses, init_statuses)
    old = {c.get("type"): c for c in current.get("conditions") or []}
    unready = [s["name"] for s, c in zip(init_statuses, inits, strict=True) if is_sidecar(c) and not s["ready"]]
    unready += [s["name"] for s in statuses if not s["ready"]]
    done = ph == "Succeeded"
    if ph in ("Succeeded", "Failed"):  # kube's terminal-phase conditions: a reason, no message
        reason, message = ("PodCompleted" if done else "PodFailed"), ""
    else:
        reason, message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    conds = [_condition("Initialized", initialized or done, old, now, "ContainersNotInitialized",
                        f"containers with incomplete status: [{' '.join(pending)}]"),
             _condition("Ready", not unready and ph == "Running", old, now, reason, message),
             _condition("ContainersReady", not unready and ph == "Running", old, now, reason, message)]
    if done:
        conds[0]["reason"] = "PodCompleted"
    ours = {c["type"] for c in conds}
    conds += [c for c in current.get("conditions") or [] if c.get("type") not in ours]
    if "PodScheduled" not in old:
        conds.append(_condition("PodScheduled", True, old, now))
    status: Obj = {"phase": ph, "conditions": conds, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                   "startTime": current.get("startTime") or now, "containerStatuses": statuses,
                   "qosClass": current.get("qosClass") or "BestEffort"}
    if inits:
        status["initContainerStatuses"] = init_statuses
    sandbox = snapshot.sandboxes[0] if snapshot.sandboxes else None
    if spec.get("hostNetwork"):
        status["podIP"], status["podIPs"] = host_ip, [{"ip": host_ip}]
    elif sandbox is not None and sandbox.ip:
        status["podIP"], status["podIPs"] = sandbox.ip, [{"ip": sandbox.ip}]
    elif current.get("podIP"):
        status["podIP"], status["podIPs"] = current["podIP"], current.get("podIPs") or [{"ip": current["podIP"]}]
    return status


def changed(current: Obj, wanted: Obj) -> bool:
    """Whether writing `wanted` would change the pod's status (the status manager's check)."""
    return any(current.get(k) != v for k, v in wanted.items())
