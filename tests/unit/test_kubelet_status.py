"""The pod status the agent writes, from a snapshot of Docker (no Docker): phase by restartPolicy,
conditions with kept transition times, container states, and the sandbox's IP."""

from __future__ import annotations

from typing import Any

import pytest

from agents.kubelet.actions import ContainerSnapshot, PodActions, PodSnapshot, SandboxSnapshot
from agents.kubelet.env import PodFacts, container_env
from agents.kubelet.runtime import docker_name, expand
from agents.kubelet.status import changed, pod_status

NOW = "2026-12-01T20:00:00Z"


def pod(policy: str = "Always", *names: str, phase: str = "Pending") -> dict[str, Any]:
    return {"metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"restartPolicy": policy, "containers": [{"name": n, "image": "busybox"} for n in names or ("a",)]},
            "status": {"phase": phase, "qosClass": "BestEffort",
                       "conditions": [{"type": "PodScheduled", "status": "True", "lastTransitionTime": "T0"}]}}


def c(name: str, state: str, code: int | None = None, restarts: int = 0) -> ContainerSnapshot:
    return ContainerSnapshot(id=f"{name}{restarts}", name=name, state=state, restart_count=restarts, exit_code=code,
                             started_at=1_700_000_000.0, finished_at=1_700_000_010.0 if state == "exited" else None)


SANDBOX = (SandboxSnapshot("sb", True, 0, "10.244.1.2"),)


def test_a_running_pod_is_running_and_ready_with_the_sandboxes_ip() -> None:
    s = pod_status(pod(), PodSnapshot("u", SANDBOX, (c("a", "running"),)), None, now=NOW, host_ip="192.0.2.1")
    assert (s["phase"], s["podIP"], s["podIPs"], s["hostIP"]) == ("Running", "10.244.1.2", [{"ip": "10.244.1.2"}],
                                                                  "192.0.2.1")
    conds = {x["type"]: x for x in s["conditions"]}
    assert {k: v["status"] for k, v in conds.items()} == {"Initialized": "True", "Ready": "True",
                                                          "ContainersReady": "True", "PodScheduled": "True"}
    assert conds["PodScheduled"]["lastTransitionTime"] == "T0"  # the scheduler's, kept
    cs = s["containerStatuses"][0]
    assert cs["containerID"] == "docker://a0" and cs["ready"] and cs["state"]["running"]["startedAt"]


def test_a_pod_without_containers_yet_is_pending_and_not_ready() -> None:
    s = pod_status(pod(), PodSnapshot("u"), None, now=NOW, host_ip="h")
    assert s["phase"] == "Pending"
    assert s["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    ready = next(x for x in s["conditions"] if x["type"] == "Ready")
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "False", "ContainersNotReady", "containers with unready status: [a]")


@pytest.mark.parametrize(("policy", "codes", "phase"), [
    ("Never", (0, 0), "Succeeded"), ("Never", (0, 1), "Failed"), ("OnFailure", (0, 0), "Succeeded"),
    ("OnFailure", (0, 1), "Running"), ("Always", (0, 0), "Running")])
def test_the_phase_of_a_pod_whose_containers_exited(policy: str, codes: tuple[int, int], phase: str) -> None:
    snap = PodSnapshot("u", SANDBOX, (c("a", "exited", codes[0]), c("b", "exited", codes[1])))
    assert pod_status(pod(policy, "a", "b"), snap, None, now=NOW, host_ip="h")["phase"] == phase


def test_a_terminal_phase_never_goes_back() -> None:
    s = pod_status(pod("Never", phase="Succeeded"), PodSnapshot("u"), None, now=NOW, host_ip="h")
    assert s["phase"] == "Succeeded"


def test_a_crash_looping_container_waits_with_its_last_termination() -> None:
    actions = PodActions(backoff={"a": "back-off 10s restarting failed container=a pod=p_default(u)"})
    snap = PodSnapshot("u", SANDBOX, (c("a", "exited", 1, restarts=0), c("a", "exited", 2, restarts=1)))
    cs = pod_status(pod(), snap, actions, now=NOW, host_ip="h")["containerStatuses"][0]
    assert cs["state"]["waiting"]["reason"] == "CrashLoopBackOff"
    assert cs["lastState"]["terminated"]["exitCode"] == 2 and cs["restartCount"] == 1


def test_a_restarted_container_reports_the_previous_run_as_last_state() -> None:
    snap = PodSnapshot("u", SANDBOX, (c("a", "exited", 137, restarts=0), c("a", "running", restarts=1)))
    cs = pod_status(pod(), snap, None, now=NOW, host_ip="h")["containerStatuses"][0]
    assert cs["restartCount"] == 1 and "running" in cs["state"]
    assert cs["lastState"]["terminated"]["exitCode"] == 137 and cs["lastState"]["terminated"]["reason"] == "Error"


def test_transition_times_are_kept_while_a_condition_holds() -> None:
    p = pod()
    snap = PodSnapshot("u", SANDBOX, (c("a", "running"),))
    first = pod_status(p, snap, None, now=NOW, host_ip="h")
    p["status"] = first
    second = pod_status(p, snap, None, now="2026-12-01T20:05:00Z", host_ip="h")
    assert not changed(first, second)


def test_env_expansion_follows_kubernetes() -> None:
    env = container_env(pod(), {"env": [{"name": "A", "value": "x"}, {"name": "B", "value": "$(A)-$(C)-$$(A)"},
                                        {"name": "C", "value": "late"}]}, lambda *_: None, PodFacts())
    assert env == {"A": "x", "B": "x-$(C)-$(A)", "C": "late"}
    assert expand("$(B) $(NOPE)", env) == "x-$(C)-$(A) $(NOPE)"


def test_a_container_the_memory_limit_killed_is_oom_killed() -> None:
    from agents.kubelet.status import container_status

    killed = ContainerSnapshot(id="a0", name="a", state="exited", exit_code=137, oom_killed=True,
                               started_at=1_700_000_000.0, finished_at=1_700_000_010.0)
    again = ContainerSnapshot(id="a1", name="a", state="running", restart_count=1, started_at=1_700_000_020.0)
    status = container_status({"name": "a", "image": "busybox"}, PodSnapshot("u", SANDBOX, (killed, again)), None)
    assert status["lastState"]["terminated"]["reason"] == "OOMKilled"
    assert status["lastState"]["terminated"]["exitCode"] == 137


def test_dockershim_names() -> None:
    p = pod()
    assert docker_name(p, "POD", 0) == "k8s_POD_p_default_u_0"
    assert docker_name(p, "a", 3) == "k8s_a_p_default_u_3"


# --- probes and init containers ------------------------------------------------------------------

def _with_inits(p: dict[str, Any], *inits: tuple[str, bool]) -> dict[str, Any]:
    p["spec"]["initContainers"] = [{"name": n, "image": "busybox", **({"restartPolicy": "Always"} if side else {})}
                                   for n, side in inits]
    return p


def _conds(s: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {x["type"]: x for x in s["conditions"]}


def test_readiness_and_startup_probes_decide_ready_and_started() -> None:
    from agents.kubelet.probes import READINESS, STARTUP, ProbeResults

    p = pod()
    p["spec"]["containers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}}
    p["spec"]["containers"][0]["startupProbe"] = {"exec": {"command": ["true"]}}
    probes = ProbeResults()
    snap = PodSnapshot("u", SANDBOX, (c("a", "running"),))
    s = pod_status(p, snap, None, now=NOW, host_ip="h", probes=probes)
    assert (s["containerStatuses"][0]["started"], s["containerStatuses"][0]["ready"]) == (False, False)
    probes.set("a0", STARTUP, True)
    probes.set("a0", READINESS, False)
    s = pod_status(p, snap, None, now=NOW, host_ip="h", probes=probes)
    assert (s["containerStatuses"][0]["started"], s["containerStatuses"][0]["ready"]) == (True, False)
    assert s["phase"] == "Running" and _conds(s)["Ready"]["status"] == "False"
    probes.set("a0", READINESS, True)
    s = pod_status(p, snap, None, now=NOW, host_ip="h", probes=probes)
    assert _conds(s)["Ready"]["status"] == _conds(s)["ContainersReady"]["status"] == "True"


def test_init_containers_keep_the_pod_pending_and_not_initialized() -> None:
    p = _with_inits(pod(), ("one", False), ("two", False))
    s = pod_status(p, PodSnapshot("u", SANDBOX, (c("one", "exited", 0), c("two", "running"))), None, now=NOW,
                   host_ip="h")
    assert s["phase"] == "Pending"
    init = {x["name"]: x for x in s["initContainerStatuses"]}
    assert init["one"]["state"]["terminated"]["reason"] == "Completed" and init["one"]["ready"] is True
    assert "running" in init["two"]["state"]
    assert s["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    cond = _conds(s)["Initialized"]
    assert (cond["status"], cond["reason"], cond["message"]) == (
        "False", "ContainersNotInitialized", "containers with incomplete status: [two]")
    done = pod_status(p, PodSnapshot("u", SANDBOX, (c("one", "exited", 0), c("two", "exited", 0),
                                                    c("a", "running"))), None, now=NOW, host_ip="h")
    assert done["phase"] == "Running" and _conds(done)["Initialized"]["status"] == "True"


def test_a_failed_init_container_fails_a_never_pod_and_keeps_others_pending() -> None:
    snap = PodSnapshot("u", SANDBOX, (c("one", "exited", 2),))
    s = pod_status(_with_inits(pod("Never"), ("one", False)), snap, None, now=NOW, host_ip="h")
    assert s["phase"] == "Failed" and s["initContainerStatuses"][0]["state"]["terminated"]["exitCode"] == 2
    s = pod_status(_with_inits(pod("Always"), ("one", False)), snap, None, now=NOW, host_ip="h")
    assert s["phase"] == "Pending"


def test_an_unready_sidecar_keeps_the_pod_unready() -> None:
    from agents.kubelet.probes import READINESS, ProbeResults

    p = _with_inits(pod(), ("side", True))
    p["spec"]["initContainers"][0]["readinessProbe"] = {"exec": {"command": ["true"]}}
    probes = ProbeResults()
    probes.set("side0", READINESS, False)
    s = pod_status(p, PodSnapshot("u", SANDBOX, (c("side", "running"), c("a", "running"))), None, now=NOW,
                   host_ip="h", probes=probes)
    assert s["phase"] == "Running" and _conds(s)["Initialized"]["status"] == "True"
    assert _conds(s)["ContainersReady"]["message"] == "containers with unready status: [side]"


def test_the_termination_message_is_in_state_and_last_state() -> None:
    from dataclasses import replace

    first = replace(c("a", "exited", 1), message="disk full\n")
    s = pod_status(pod("Never"), PodSnapshot("u", SANDBOX, (first,)), None, now=NOW, host_ip="h")
    term = s["containerStatuses"][0]["state"]["terminated"]
    assert (term["reason"], term["exitCode"], term["message"]) == ("Error", 1, "disk full\n")
    s = pod_status(pod(), PodSnapshot("u", SANDBOX, (first, c("a", "running", restarts=1))), None, now=NOW,
                   host_ip="h")
    assert s["containerStatuses"][0]["lastState"]["terminated"]["message"] == "disk full\n"
    assert "message" not in pod_status(pod("Never"), PodSnapshot("u", SANDBOX, (c("a", "exited", 0),)), None,
                                       now=NOW, host_ip="h")["containerStatuses"][0]["state"]["terminated"]
