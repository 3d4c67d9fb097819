"""Security settings of a pod on this node, pure: what the node refuses, and what Docker is told.

Host safety is a deliberate difference from Kubernetes: a kubelet runs privileged pods, hostPID
pods and hostPath mounts of `/` or the Docker socket without a second thought, which on a learner's
machine hands the pod the host.  Unless the agent runs with `--allow-privileged`, `refusal()`
names what the pod asks for; the worker then starts nothing, and the pod says why (waiting reason
`Blocked`, as the kubelet's soft admission, a `HostAccessAllowed` condition and a `Forbidden`
event), never crashing the agent.

`container_security()` maps a container's securityContext (over the pod's) to Docker settings:
runAsUser/runAsGroup as `user`, supplementalGroups and fsGroup as extra groups,
readOnlyRootFilesystem, capabilities add/drop, allowPrivilegeEscalation=false as
no-new-privileges, privileged (only when allowed); `non_root_error()` is the kubelet's
runAsNonRoot check against the image's user.

Called by agents/kubelet/worker.py; unit-tested in tests/unit/test_kubelet_security.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .volumes import hands_over_the_host

Obj = dict[str, Any]

CONDITION = "minikube-py.io/HostAccessAllowed"
# what Pod Security's "baseline" level lets a container add (Docker's defaults); anything more
# (SYS_ADMIN, SYS_MODULE, ALL, ...) gets a pod out of its container as surely as privileged does
BASELINE_CAPABILITIES = frozenset({"AUDIT_WRITE", "CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "KILL", "MKNOD",
                                   "NET_BIND_SERVICE", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYS_CHROOT"})


@dataclass(frozen=True)
class Refusal:
    reason: str  # PrivilegedNotAllowed | HostPathNotAllowed | HostPIDNotAllowed | HostIPCNotAllowed
    message: str


def _all_containers(spec: Obj) -> list[Obj]:
    return [*(spec.get("initContainers") or []), *(spec.get("containers") or []),
            *(spec.get("ephemeralContainers") or [])]


def refusal(pod: Obj, *, allow_privileged: bool) -> Refusal | None:
    """What in the pod would get the host, unless the node allows it (None: nothing)."""
    if allow_privileged:
        return None
    spec = pod.get("spec") or {}
    hint = "; start the node's agent with --allow-privileged to run such pods"
    for c in _all_containers(spec):
        if (c.get("securityContext") or {}).get("privileged"):
            return Refusal("PrivilegedNotAllowed",
                           f'container "{c.get("name")}" asks to be privileged, which this node refuses{hint}')
        added = [str(x).upper().removeprefix("CAP_") for x in
                 (((c.get("securityContext") or {}).get("capabilities") or {}).get("add") or [])]
        beyond = [x for x in added if x not in BASELINE_CAPABILITIES]
        if beyond:
            return Refusal("CapabilityNotAllowed",
                           f'container "{c.get("name")}" adds the capabilities {", ".join(beyond)}, which this node '
                           f"refuses (only Pod Security's baseline ones may be added){hint}")
    for flag, reason in (("hostPID", "HostPIDNotAllowed"), ("hostIPC", "HostIPCNotAllowed")):
        if spec.get(flag):
            return Refusal(reason, f"the pod asks for {flag}: true, which this node refuses{hint}")
    for v in spec.get("volumes") or []:
        path = (v.get("hostPath") or {}).get("path")
        if path and hands_over_the_host("/" + str(path).lstrip("/")):
            return Refusal("HostPathNotAllowed",
                           f'volume "{v.get("name")}" mounts the host\'s {path}, which this node refuses{hint}')
    return None


def blocked_status(status: Obj, refused: Refusal, *, now: str) -> Obj:
    """The pod status with the refusal said: reason/message, the containers waiting `Blocked`, and
    the HostAccessAllowed condition False (its transition time kept while it stays False)."""
    out = dict(status)
    out["reason"], out["message"] = "Forbidden", refused.message
    for key in ("initContainerStatuses", "containerStatuses"):
        if out.get(key):
            out[key] = [{**s, "state": {"waiting": {"reason": "Blocked", "message": refused.message}}}
                        if "waiting" in (s.get("state") or {}) else s for s in out[key]]
    old = next((c for c in status.get("conditions") or [] if c.get("type") == CONDITION), None)
    since = old["lastTransitionTime"] if old and old.get("status") == "False" else now
    cond = {"type": CONDITION, "status": "False", "lastProbeTime": None, "lastTransitionTime": since,
            "reason": refused.reason, "message": refused.message}
    out["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != CONDITION] + [cond]
    return out


def allowed_status(status: Obj, current: Obj) -> Obj:
    """The status to write when nothing is refused: a refusal the pod's `current` status still shows
    (the node now allows it) is cleared; reason and message are set to null, since the status is
    written as a merge patch, where a missing key keeps the stored one."""
    if current.get("reason") != "Forbidden" and not any(
            c.get("type") == CONDITION for c in current.get("conditions") or []):
        return status
    out = dict(status)
    if current.get("reason") == "Forbidden":
        out["reason"], out["message"] = None, None
    out["conditions"] = [c for c in status.get("conditions") or [] if c.get("type") != CONDITION]
    return out


def _effective(pod: Obj, container: Obj, field: str) -> Any:
    own = (container.get("securityContext") or {}).get(field)
    return own if own is not None else ((pod.get("spec") or {}).get("securityContext") or {}).get(field)


def _cap(name: str) -> str:
    name = str(name).upper()
    return name if name == "ALL" or name.startswith("CAP_") else "CAP_" + name


def container_security(pod: Obj, container: Obj, *, allow_privileged: bool) -> tuple[Obj, Obj]:
    """(create_container keywords, create_host_config keywords) for the container's securityContext."""
    config: Obj = {}
    host: Obj = {}
    user, group = _effective(pod, container, "runAsUser"), _effective(pod, container, "runAsGroup")
    if user is not None:
        config["user"] = f"{int(user)}:{int(group)}" if group is not None else str(int(user))
    pod_sc = (pod.get("spec") or {}).get("securityContext") or {}
    groups = [str(int(g)) for g in pod_sc.get("supplementalGroups") or []]
    if pod_sc.get("fsGroup") is not None and str(int(pod_sc["fsGroup"])) not in groups:
        groups.append(str(int(pod_sc["fsGroup"])))
    if groups:
        host["group_add"] = groups
    sc = container.get("securityContext") or {}
    if sc.get("readOnlyRootFilesystem"):
        host["read_only"] = True
    caps = sc.get("capabilities") or {}
    if caps.get("add"):
        host["cap_add"] = [_cap(c) for c in caps["add"]]
    if caps.get("drop"):
        host["cap_drop"] = [_cap(c) for c in caps["drop"]]
    if sc.get("allowPrivilegeEscalation") is False:
        host["security_opt"] = ["no-new-privileges"]
    if sc.get("privileged") and allow_privileged:
        host["privileged"] = True
    return config, host


def non_root_error(pod: Obj, container: Obj, image_user: str) -> str:
    """The kubelet's runAsNonRoot verification ("" when it passes or does not apply)."""
    if not _effective(pod, container, "runAsNonRoot"):
        return ""
    m = pod.get("metadata") or {}
    where = f'(pod: "{m.get("name")}_{m.get("namespace") or "default"}({m.get("uid")})", container: {container.get("name")})'
    user = _effective(pod, container, "runAsUser")
    if user is not None:
        return f"container's runAsUser breaks non-root policy {where}" if int(user) == 0 else ""
    name = (image_user or "").split(":", 1)[0]
    if name in ("", "root", "0"):
        return f"container has runAsNonRoot and image will run as root {where}"
    if not name.isdigit():
        return f"container has runAsNonRoot and image has non-numeric user ({name}), cannot verify user is non-root {where}"
    return ""
