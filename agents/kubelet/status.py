"""A pod's status from what Docker has, as the kubelet's status manager computes it (pure).

Phase (the kubelet's getPhase: Pending while a container waits to run for the first time; Running
once they run or will run again; Succeeded / Failed when none runs and none will, by restartPolicy;
a terminal phase never goes back), the conditions PodScheduled, Initialized, ContainersReady and
Ready (each lastTransitionTime kept until its status changes), containerStatuses (state, lastState,
ready, started, restartCount, image, imageID, containerID docker://...), podIP(s), hostIP,
startTime and qosClass.

Called by agents/kubelet/worker.py, which writes the result through pods/status only when it
differs from what the pod already says; unit-tested in tests/unit/test_kubelet_status.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from .actions import EXITED, RUNNING, ContainerSnapshot, PodActions, PodSnapshot

Obj = dict[str, Any]


def _rfc3339(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(int(epoch), dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _terminated(c: ContainerSnapshot) -> Obj:
    code = c.exit_code if c.exit_code is not None else 0
    out: Obj = {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                "startedAt": _rfc3339(c.started_at), "finishedAt": _rfc3339(c.finished_at),
                "containerID": f"docker://{c.id}"}
    if c.error:
        out["reason"], out["message"] = "StartError", c.error
    return out


def container_status(spec: Obj, snapshot: PodSnapshot, actions: PodActions | None,
                     failures: dict[str, tuple[str, str]] | None = None) -> Obj:
    name = str(spec.get("name"))
    attempts = sorted((c for c in snapshot.containers if c.name == name), key=lambda c: c.restart_count)
    latest = attempts[-1] if attempts else None
    status: Obj = {"name": name, "image": spec.get("image"), "imageID": "", "ready": False, "started": False,
                   "restartCount": latest.restart_count if latest else 0, "lastState": {}}
    failed = (failures or {}).get(name)
    if latest is None:
        status["state"] = {"waiting": {"reason": failed[0], "message": failed[1]} if failed
                           else {"reason": "ContainerCreating"}}
        return status
    status["containerID"] = f"docker://{latest.id}"
    if latest.image_id:
        status["imageID"] = f"docker-pullable://{latest.image_id}"
    if len(attempts) > 1 and attempts[-2].state == EXITED:
        status["lastState"] = {"terminated": _terminated(attempts[-2])}
    backoff = (actions.backoff.get(name) if actions is not None else None)
    if latest.state == RUNNING:
        status["state"] = {"running": {"startedAt": _rfc3339(latest.started_at)}}
        status["ready"] = status["started"] = True
    elif failed:
        status["state"] = {"waiting": {"reason": failed[0], "message": failed[1]}}
        if latest.state == EXITED:
            status["lastState"] = {"terminated": _terminated(latest)}
    elif latest.state == EXITED and backoff:
        status["state"] = {"waiting": {"reason": "CrashLoopBackOff", "message": backoff}}
        status["lastState"] = {"terminated": _terminated(latest)}
    elif latest.state == EXITED:
        status["state"] = {"terminated": _terminated(latest)}
    else:
        status["state"] = {"waiting": {"reason": "ContainerCreating"}}
    return status


def phase(pod: Obj, statuses: list[Obj]) -> str:
    """The kubelet's getPhase for pods without init containers."""
    old = (pod.get("status") or {}).get("phase")
    if old in ("Succeeded", "Failed"):
        return str(old)
    policy = (pod.get("spec") or {}).get("restartPolicy") or "Always"
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
        cond["reason"], cond["message"] = reason, message
    return cond


def pod_status(pod: Obj, snapshot: PodSnapshot, actions: PodActions | None, *, now: str, host_ip: str,
               failures: dict[str, tuple[str, str]] | None = None) -> Obj:
    """The status the pod should have now (`now` an RFC 3339 time, the clock's); `failures` are the
    containers that could not be started this pass (name -> waiting reason and message)."""
    spec = pod.get("spec") or {}
    current = pod.get("status") or {}
    statuses = [container_status(c, snapshot, actions, failures) for c in spec.get("containers") or []]
    ph = phase(pod, statuses)
    old = {c.get("type"): c for c in current.get("conditions") or []}
    unready = [s["name"] for s in statuses if not s["ready"]]
    if ph in ("Succeeded", "Failed"):
        reason = "PodCompleted"
    else:
        reason = "ContainersNotReady"
    message = f"containers with unready status: [{' '.join(unready)}]"
    conds = [_condition("Initialized", True, old, now),
             _condition("Ready", not unready and ph == "Running", old, now, reason, message),
             _condition("ContainersReady", not unready and ph == "Running", old, now, reason, message)]
    if ph in ("Succeeded", "Failed"):
        conds[0]["reason"] = "PodCompleted"
    ours = {c["type"] for c in conds}
    conds += [c for c in current.get("conditions") or [] if c.get("type") not in ours]
    if "PodScheduled" not in old:
        conds.append(_condition("PodScheduled", True, old, now))
    status: Obj = {"phase": ph, "conditions": conds, "hostIP": host_ip, "hostIPs": [{"ip": host_ip}],
                   "startTime": current.get("startTime") or now, "containerStatuses": statuses,
                   "qosClass": current.get("qosClass") or "BestEffort"}
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
