"""Host safety and the securityContext mapping (agents/kubelet/security.py), without Docker."""

from __future__ import annotations

from typing import Any

from agents.kubelet.security import (
    CONDITION,
    allowed_status,
    blocked_status,
    container_security,
    non_root_error,
    refusal,
)


def _pod(**spec: Any) -> dict[str, Any]:
    spec.setdefault("containers", [{"name": "main", "image": "busybox:latest"}])
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u1"}, "spec": spec}


def test_pods_that_get_the_host_are_refused_unless_the_node_allows_them() -> None:
    privileged = _pod(initContainers=[{"name": "setup", "securityContext": {"privileged": True}}])
    r = refusal(privileged, allow_privileged=False)
    assert r is not None and r.reason == "PrivilegedNotAllowed" and 'container "setup"' in r.message
    assert "--allow-privileged" in r.message
    assert refusal(privileged, allow_privileged=True) is None
    assert refusal(_pod(hostPID=True), allow_privileged=False).reason == "HostPIDNotAllowed"  # type: ignore[union-attr]
    assert refusal(_pod(hostIPC=True), allow_privileged=False).reason == "HostIPCNotAllowed"  # type: ignore[union-attr]
    for path in ("/", "/var/run/docker.sock", "/run/docker.sock", "/var/run/", "//var/lib/docker", "/srv/../"):
        pod = _pod(volumes=[{"name": "h", "hostPath": {"path": path}}])
        found = refusal(pod, allow_privileged=False)
        assert found is not None and found.reason == "HostPathNotAllowed", path
    for path in ("/tmp/data", "/var/log", "/srv/docker.sock.d"):
        assert refusal(_pod(volumes=[{"name": "h", "hostPath": {"path": path}}]), allow_privileged=False) is None
    inside = _pod(volumes=[{"name": "h", "hostPath": {"path": "/var/lib/docker/volumes"}}])
    assert refusal(inside, allow_privileged=False) is not None  # every container's files
    assert refusal(_pod(hostNetwork=True), allow_privileged=False) is None  # the host's network is allowed
    for caps, refused in ((["SYS_ADMIN"], True), (["all"], True), (["CAP_SYS_MODULE"], True),
                          (["NET_BIND_SERVICE", "chown"], False)):
        pod = _pod(containers=[{"name": "main", "securityContext": {"capabilities": {"add": caps}}}])
        found = refusal(pod, allow_privileged=False)
        assert (found is not None and found.reason == "CapabilityNotAllowed") is refused, caps
        assert refusal(pod, allow_privileged=True) is None


def test_a_refusal_blocks_the_containers_and_says_why_in_a_condition() -> None:
    r = refusal(_pod(hostPID=True), allow_privileged=False)
    assert r is not None
    status = {"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "True"}],
              "containerStatuses": [{"name": "main", "state": {"waiting": {"reason": "ContainerCreating"}}}]}
    blocked = blocked_status(status, r, now="2026-12-01T00:00:00Z")
    assert blocked["reason"] == "Forbidden" and blocked["message"] == r.message
    assert blocked["containerStatuses"][0]["state"]["waiting"]["reason"] == "Blocked"
    cond = [c for c in blocked["conditions"] if c["type"] == CONDITION]
    assert cond == [{"type": CONDITION, "status": "False", "lastProbeTime": None,
                     "lastTransitionTime": "2026-12-01T00:00:00Z", "reason": "HostPIDNotAllowed", "message": r.message}]
    again = blocked_status({**status, "conditions": blocked["conditions"]}, r, now="2026-12-01T00:05:00Z")
    assert [c["lastTransitionTime"] for c in again["conditions"] if c["type"] == CONDITION] == ["2026-12-01T00:00:00Z"]
    # the node now allows it: the fresh status clears what the stored one still says (merge patch: null)
    fresh = {"phase": "Running", "conditions": [{"type": "PodScheduled", "status": "True"}, *[
        c for c in blocked["conditions"] if c["type"] == CONDITION]]}
    cleared = allowed_status(fresh, blocked)
    assert cleared["reason"] is None and cleared["message"] is None and cleared["phase"] == "Running"
    assert all(c["type"] != CONDITION for c in cleared["conditions"])
    assert allowed_status(status, status) is status


def test_security_context_becomes_dockers_settings_container_over_pod() -> None:
    pod = _pod(securityContext={"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000, "supplementalGroups": [4000]})
    c = {"name": "main", "securityContext": {"runAsUser": 1001, "readOnlyRootFilesystem": True,
                                             "allowPrivilegeEscalation": False,
                                             "capabilities": {"add": ["NET_ADMIN"], "drop": ["all"]},
                                             "privileged": True}}
    config, host = container_security(pod, c, allow_privileged=False)
    assert config == {"user": "1001:3000"}
    assert host == {"group_add": ["4000", "2000"], "read_only": True, "cap_add": ["CAP_NET_ADMIN"],
                    "cap_drop": ["ALL"], "security_opt": ["no-new-privileges"]}
    assert container_security(pod, c, allow_privileged=True)[1]["privileged"] is True
    assert container_security(_pod(), {"name": "main"}, allow_privileged=False) == ({}, {})


def test_run_as_non_root_is_checked_against_the_images_user() -> None:
    pod = _pod(securityContext={"runAsNonRoot": True})
    c = {"name": "main"}
    assert "image will run as root" in non_root_error(pod, c, "")
    assert 'pod: "p_default(u1)", container: main' in non_root_error(pod, c, "root")
    assert "non-numeric user (nginx)" in non_root_error(pod, c, "nginx")
    assert non_root_error(pod, c, "101:101") == ""
    assert non_root_error(pod, {"name": "main", "securityContext": {"runAsUser": 1000}}, "") == ""
    assert "breaks non-root policy" in non_root_error(pod, {"name": "main", "securityContext": {"runAsUser": 0}}, "")
    assert non_root_error(_pod(), c, "") == ""
