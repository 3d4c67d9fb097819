"""computePodActions, our way: a pod spec and a snapshot of what Docker has go in, the actions come
out (no Docker, no clock but a number)."""

from __future__ import annotations

from typing import Any

import pytest

from agents.kubelet.actions import (
    ContainerSnapshot,
    PodSnapshot,
    RestartBackoff,
    SandboxSnapshot,
    backoff_key,
    compute_pod_actions,
    container_hash,
)

UID = "u-1"


def pod(*names: str, policy: str = "Always", deleting: bool = False, host_network: bool = False) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "p", "namespace": "default", "uid": UID}
    if deleting:
        meta["deletionTimestamp"] = "2026-12-01T00:00:00Z"
    return {"metadata": meta, "spec": {"restartPolicy": policy, "hostNetwork": host_network,
                                       "containers": [{"name": n, "image": "busybox"} for n in names]}}


def sandbox(ready: bool = True, attempt: int = 0, ip: str = "10.244.0.5") -> SandboxSnapshot:
    return SandboxSnapshot(id=f"sb{attempt}", ready=ready, attempt=attempt, ip=ip)


def running(p: dict[str, Any], name: str, restarts: int = 0) -> ContainerSnapshot:
    spec = next(c for c in p["spec"]["containers"] if c["name"] == name)
    return ContainerSnapshot(id=f"{name}{restarts}", name=name, state="running", restart_count=restarts,
                             spec_hash=container_hash(spec), started_at=100.0)


def exited(p: dict[str, Any], name: str, code: int, restarts: int = 0, finished: float = 200.0) -> ContainerSnapshot:
    spec = next(c for c in p["spec"]["containers"] if c["name"] == name)
    return ContainerSnapshot(id=f"{name}{restarts}", name=name, state="exited", restart_count=restarts,
                             spec_hash=container_hash(spec), exit_code=code, started_at=100.0, finished_at=finished)


def test_a_new_pod_gets_a_sandbox_and_all_its_containers() -> None:
    a = compute_pod_actions(pod("a", "b"), PodSnapshot(UID), now=0)
    assert (a.kill_pod, a.create_sandbox, a.attempt) == (False, True, 0)
    assert [(s.name, s.restart_count) for s in a.start] == [("a", 0), ("b", 0)]


def test_a_pod_whose_containers_run_needs_nothing() -> None:
    p = pod("a", "b")
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(),), (running(p, "a"), running(p, "b"))), now=0)
    assert a.nothing and a.sandbox_id == "sb0"


def test_a_missing_container_is_started_in_the_existing_sandbox() -> None:
    p = pod("a", "b")
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(),), (running(p, "a"),)), now=0)
    assert not a.create_sandbox and not a.kill_pod
    assert [(s.name, s.restart_count) for s in a.start] == [("b", 0)]


def test_a_stopped_pause_container_recreates_the_whole_pod_with_the_next_attempt() -> None:
    p = pod("a")
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(ready=False, attempt=2),), (running(p, "a", 3),)), now=0)
    assert (a.kill_pod, a.create_sandbox, a.attempt) == (True, True, 3)
    assert [(s.name, s.restart_count) for s in a.start] == [("a", 4)]  # restartCount only grows


def test_a_sandbox_without_an_ip_is_recreated_unless_host_network() -> None:
    p = pod("a")
    snap = PodSnapshot(UID, (sandbox(ip=""),), (running(p, "a"),))
    assert compute_pod_actions(p, snap, now=0).create_sandbox
    hp = pod("a", host_network=True)
    assert compute_pod_actions(hp, PodSnapshot(UID, (sandbox(ip=""),), (running(hp, "a"),)), now=0).nothing


def test_two_ready_sandboxes_are_replaced_by_one() -> None:
    p = pod("a")
    snap = PodSnapshot(UID, (sandbox(attempt=1), sandbox(attempt=0)), (running(p, "a"),))
    a = compute_pod_actions(p, snap, now=0)
    assert (a.kill_pod, a.create_sandbox, a.attempt) == (True, True, 2)


@pytest.mark.parametrize(("policy", "code", "restarted"), [
    ("Always", 0, True), ("Always", 1, True), ("OnFailure", 0, False), ("OnFailure", 137, True),
    ("Never", 0, False), ("Never", 1, False)])
def test_an_exited_container_is_restarted_per_restart_policy(policy: str, code: int, restarted: bool) -> None:
    p = pod("a", "b", policy=policy)
    snap = PodSnapshot(UID, (sandbox(),), (exited(p, "a", code, restarts=1), running(p, "b")))
    a = compute_pod_actions(p, snap, now=1000)
    assert [(s.name, s.restart_count) for s in a.start] == ([("a", 2)] if restarted else [])
    assert not a.kill_pod  # b still runs


@pytest.mark.parametrize(("policy", "codes", "kill"), [
    ("Never", (0, 1), True), ("OnFailure", (0, 0), True), ("OnFailure", (0, 1), False), ("Always", (0, 0), False)])
def test_the_sandbox_is_killed_when_nothing_is_left_to_run(policy: str, codes: tuple[int, int], kill: bool) -> None:
    p = pod("a", "b", policy=policy)
    snap = PodSnapshot(UID, (sandbox(),), (exited(p, "a", codes[0]), exited(p, "b", codes[1])))
    a = compute_pod_actions(p, snap, now=1000)
    assert a.kill_pod is kill
    assert not a.create_sandbox


def test_a_finished_never_pod_gets_no_new_sandbox() -> None:
    p = pod("a", policy="Never")
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(ready=False),), (exited(p, "a", 0),)), now=0)
    assert (a.create_sandbox, a.kill_pod, a.start) == (False, False, [])


def test_a_new_sandbox_under_on_failure_skips_containers_that_succeeded() -> None:
    p = pod("a", "b", policy="OnFailure")
    snap = PodSnapshot(UID, (sandbox(ready=False),), (exited(p, "a", 0), exited(p, "b", 2)))
    a = compute_pod_actions(p, snap, now=0)
    assert a.create_sandbox and [s.name for s in a.start] == ["b"]


def test_a_changed_spec_hash_kills_and_restarts_the_container() -> None:
    p = pod("a")
    old = running(p, "a", 1)
    p["spec"]["containers"][0]["image"] = "nginx"
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(),), (old,)), now=0)
    assert [(k.id, k.name) for k in a.kill] == [("a1", "a")]
    assert "definition changed" in a.kill[0].message
    assert [(s.name, s.restart_count) for s in a.start] == [("a", 2)]
    assert not a.kill_pod


def test_a_resources_change_does_not_change_the_hash() -> None:
    c = {"name": "a", "image": "x"}
    assert container_hash(c) == container_hash({**c, "resources": {"limits": {"cpu": "1"}}})
    assert container_hash(c) != container_hash({**c, "command": ["sh"]})


def test_a_running_container_the_spec_no_longer_names_is_killed() -> None:
    p = pod("a")
    stray = ContainerSnapshot(id="zz", name="gone", state="running")
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(),), (running(p, "a"), stray)), now=0)
    assert [k.id for k in a.kill] == ["zz"]


def test_deletion_kills_the_pod_and_then_there_is_nothing_to_do() -> None:
    p = pod("a", deleting=True)
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(),), (running(p, "a"),)), now=0)
    assert a.kill_pod and not a.create_sandbox and not a.start
    assert compute_pod_actions(p, PodSnapshot(UID), now=0).nothing


def test_the_latest_attempt_decides() -> None:
    p = pod("a", policy="OnFailure")
    snap = PodSnapshot(UID, (sandbox(),), (exited(p, "a", 1, restarts=0), exited(p, "a", 0, restarts=1)))
    a = compute_pod_actions(p, snap, now=1000)
    assert a.start == [] and a.kill_pod  # the latest run succeeded


def test_crash_loop_backoff_holds_a_restart_back_and_doubles() -> None:
    p = pod("a")
    c = p["spec"]["containers"][0]
    backoff = RestartBackoff(10, 300)
    key = backoff_key(UID, c)
    snap = PodSnapshot(UID, (sandbox(),), (exited(p, "a", 1, restarts=1, finished=100.0),))
    assert [s.name for s in compute_pod_actions(p, snap, now=101, backoff=backoff).start] == ["a"]  # first: at once
    backoff.next(key, 101)
    held = compute_pod_actions(p, snap, now=105, backoff=backoff)
    assert held.start == [] and not held.kill_pod
    assert held.backoff["a"] == f"back-off 10s restarting failed container=a pod=p_default({UID})"
    assert [s.name for s in compute_pod_actions(p, snap, now=111, backoff=backoff).start] == ["a"]
    backoff.next(key, 111)
    assert backoff.duration(key) == 20
    for t in range(10):
        backoff.next(key, 112 + t)
    assert backoff.duration(key) == 300  # capped
    backoff.next(key, 122 + 601)  # quiet for more than twice the maximum: back to the start
    assert backoff.duration(key) == 10


def test_a_created_but_never_started_container_is_started_with_the_same_count() -> None:
    p = pod("a")
    created = ContainerSnapshot(id="c", name="a", state="created", restart_count=2, spec_hash=container_hash(
        p["spec"]["containers"][0]))
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(),), (created,)), now=0)
    assert [(s.name, s.restart_count) for s in a.start] == [("a", 2)]


# --- probes, init containers, sidecars, finished pods ---------------------------------------------

def _snap(*containers: ContainerSnapshot) -> PodSnapshot:
    return PodSnapshot(UID, (sandbox(),), containers)


def _c(name: str, state: str, code: int | None = None, restarts: int = 0, spec: dict[str, Any] | None = None,
       finished: float = 200.0) -> ContainerSnapshot:
    return ContainerSnapshot(id=f"{name}{restarts}", name=name, state=state, restart_count=restarts,
                             spec_hash=container_hash(spec or {"name": name, "image": "busybox"}), exit_code=code,
                             started_at=100.0, finished_at=finished if state == "exited" else None, sandbox_id="sb0")


def with_inits(p: dict[str, Any], *inits: tuple[str, bool]) -> dict[str, Any]:
    p["spec"]["initContainers"] = [{"name": n, "image": "busybox", **({"restartPolicy": "Always"} if side else {})}
                                   for n, side in inits]
    return p


def test_a_failed_liveness_probe_kills_the_container_and_the_next_pass_restarts_it_with_backoff() -> None:
    from agents.kubelet.probes import LIVENESS, ProbeResults

    p = pod("a")
    probes = ProbeResults()
    probes.set("a0", LIVENESS, False)
    a = compute_pod_actions(p, _snap(running(p, "a")), now=300, probes=probes)
    assert [(k.id, k.message) for k in a.kill] == [("a0", "Container a failed liveness probe, will be restarted")]
    assert not a.start and not a.kill_pod  # the sandbox stays: the container runs again
    backoff = RestartBackoff(10, 300)
    backoff.next(backoff_key(UID, p["spec"]["containers"][0]), 250)
    a = compute_pod_actions(p, _snap(exited(p, "a", 137, restarts=1, finished=300)), now=301, backoff=backoff,
                            probes=probes)
    assert not a.start and "back-off 10s restarting failed container=a" in a.backoff["a"]
    never = compute_pod_actions(pod("a", policy="Never"), _snap(running(p, "a")), now=300, probes=probes)
    assert [k.message for k in never.kill] == ["Container a failed liveness probe"] and never.kill_pod


def test_a_failed_startup_probe_kills_within_the_probes_own_grace_period() -> None:
    from agents.kubelet.probes import STARTUP, ProbeResults

    p = pod("a")
    p["spec"]["containers"][0]["startupProbe"] = {"exec": {"command": ["true"]}, "terminationGracePeriodSeconds": 3}
    probes = ProbeResults()
    probes.set("a0", STARTUP, False)
    a = compute_pod_actions(p, _snap(running(p, "a")), now=300, probes=probes)
    assert [(k.message, k.grace) for k in a.kill] == [("Container a failed startup probe, will be restarted", 3)]


def test_init_containers_run_one_at_a_time_before_the_app_containers() -> None:
    p = with_inits(pod("app"), ("one", False), ("two", False))
    a = compute_pod_actions(p, PodSnapshot(UID), now=0)
    assert a.create_sandbox and [s.name for s in a.start] == ["one"]
    assert [s.name for s in compute_pod_actions(p, _snap(_c("one", "running")), now=0).start] == []
    assert [s.name for s in compute_pod_actions(p, _snap(_c("one", "exited", 0)), now=0).start] == ["two"]
    done = compute_pod_actions(p, _snap(_c("one", "exited", 0), _c("two", "exited", 0)), now=0)
    assert [s.name for s in done.start] == ["app"]
    # once an app container ran, the init containers are not looked at again
    later = compute_pod_actions(p, _snap(_c("one", "exited", 0), running(p, "app")), now=0)
    assert later.nothing


def test_a_failing_init_container_is_retried_with_backoff_or_fails_the_pod_under_never() -> None:
    p = with_inits(pod("app"), ("one", False))
    again = compute_pod_actions(p, _snap(_c("one", "exited", 1)), now=0)
    assert [(s.name, s.restart_count) for s in again.start] == [("one", 1)]
    backoff = RestartBackoff(10, 300)
    backoff.next(backoff_key(UID, p["spec"]["initContainers"][0]), 150)
    held = compute_pod_actions(p, _snap(_c("one", "exited", 1, restarts=1)), now=201, backoff=backoff)
    assert not held.start and "one" in held.backoff
    never = with_inits(pod("app", policy="Never"), ("one", False))
    a = compute_pod_actions(never, _snap(_c("one", "exited", 1)), now=0)
    assert not a.start and a.kill_pod  # the sandbox goes: nothing more runs


def test_a_sidecar_starts_before_the_next_init_container_keeps_running_and_is_restarted() -> None:
    from agents.kubelet.probes import STARTUP, ProbeResults

    p = with_inits(pod("app"), ("side", True), ("setup", False))
    assert [s.name for s in compute_pod_actions(p, _snap(), now=0).start] == ["side"]
    assert [s.name for s in compute_pod_actions(p, _snap(_c("side", "running")), now=0).start] == ["setup"]
    p["spec"]["initContainers"][0]["startupProbe"] = {"exec": {"command": ["true"]}}
    probes = ProbeResults()
    probes.set("side0", STARTUP, None)
    assert compute_pod_actions(p, _snap(_c("side", "running")), now=0, probes=probes).start == []  # not started yet
    probes.set("side0", STARTUP, True)
    assert [s.name for s in compute_pod_actions(p, _snap(_c("side", "running")), now=0, probes=probes).start] == \
        ["setup"]
    a = compute_pod_actions(p, _snap(_c("side", "exited", 1), _c("setup", "exited", 0), running(p, "app")), now=0)
    assert [(s.name, s.restart_count) for s in a.start] == [("side", 1)]  # a sidecar always restarts


def test_sidecars_stop_with_the_pod_once_the_app_containers_are_done() -> None:
    p = with_inits(pod("app", policy="Never"), ("side", True))
    a = compute_pod_actions(p, _snap(_c("side", "running"), exited(p, "app", 0)), now=0)
    assert a.kill_pod and not a.start


def test_a_finished_pod_never_runs_again() -> None:
    p = pod("a", policy="OnFailure")
    p["status"] = {"phase": "Succeeded"}
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(ready=False),), (exited(p, "a", 0),)), now=0)
    assert a.nothing
    p = pod("a", policy="OnFailure")  # not yet written as Succeeded: no new sandbox just to run nothing
    a = compute_pod_actions(p, PodSnapshot(UID, (sandbox(ready=False),), (exited(p, "a", 0),)), now=0)
    assert not a.create_sandbox and not a.start


def test_a_container_that_ran_ten_minutes_is_restarted_at_once_after_a_long_backoff() -> None:
    p = pod("a")
    backoff = RestartBackoff(10, 300)
    key = backoff_key(UID, p["spec"]["containers"][0])
    for t in range(6):
        backoff.next(key, 100 + t)
    assert backoff.duration(key) == 300
    soon = PodSnapshot(UID, (sandbox(),), (exited(p, "a", 1, restarts=6, finished=400.0),))
    assert compute_pod_actions(p, soon, now=401, backoff=backoff).start == []  # crashed again soon: held 5 min
    late = PodSnapshot(UID, (sandbox(),), (exited(p, "a", 1, restarts=6, finished=105 + 601.0),))
    assert [s.name for s in compute_pod_actions(p, late, now=707, backoff=backoff).start] == ["a"]
    backoff.next(key, 707)
    assert backoff.duration(key) == 10  # and the next backoff starts from the beginning
