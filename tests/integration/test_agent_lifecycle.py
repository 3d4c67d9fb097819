"""Container lifecycle on the real Docker engine: probes (readiness flips Ready and kubectl's READY
column, a failing liveness probe restarts the container with backoff, a startup probe gates the
others), init containers and native sidecars, hooks, /etc/hosts, termination messages and
Job-style pods that finish.

Same cluster shape as tests/integration/test_agent.py (a control plane with --timing fast, crash-loop
backoff 2 s doubling, and one `minikube-py agent`), except that the Node is created first with a
podCIDR no Docker network on the engine uses, so this module runs beside other agent clusters on a
shared engine; teardown removes only what carries this agent's label.  Probe periods are 1 s.
"""

from __future__ import annotations

import ipaddress
import json
import random
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("docker")

from minikube_py.cli.launch import start_server, stop_server  # noqa: E402
from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, wait_for  # noqa: E402

docker_client = base.docker_client


def _free_subnet(docker_client: Any) -> str:
    """A /24 of 10.244.0.0/16 that no Docker network on this engine uses: every test cluster's
    first node would get 10.244.0.0/24, and clusters of other test runs share the engine."""
    used = [ipaddress.ip_network(cfg["Subnet"]) for net in docker_client.networks.list()
            for cfg in (net.attrs.get("IPAM") or {}).get("Config") or [] if "." in cfg.get("Subnet", "")]
    free = [f"10.244.{n}.0/24" for n in range(64, 250)
            if not any(ipaddress.ip_network(f"10.244.{n}.0/24").overlaps(u) for u in used)]
    return random.choice(free)


@pytest.fixture(scope="module")
def agent_cluster(docker_client: Any, kubectl_bin: Path, tmp_path_factory: pytest.TempPathFactory,
                  request: pytest.FixtureRequest) -> Iterator[AgentCluster]:
    """tests/integration/test_agent.py's cluster, with the Node created first with a podCIDR no
    network on the engine has (the agent takes the Node over and keeps its spec)."""
    data_dir = tmp_path_factory.mktemp("lifecycle-cluster")
    node = f"agent-{uuid.uuid4().hex[:6]}"
    server = start_server(data_dir, "sqlite", control_plane=True, extra=("--timing", "fast"))

    def kubectl(*args: str, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run([str(kubectl_bin), "--kubeconfig", str(server.kubeconfig), *args], input=input,
                              capture_output=True, text=True, timeout=90)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} exited {proc.returncode}: {proc.stderr}")
        return proc

    cluster = AgentCluster(server, node, kubectl, None, data_dir / "agent.log")  # type: ignore[arg-type]
    try:
        subnet = _free_subnet(docker_client)
        kubectl("create", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "Node", "metadata": {"name": node},
                                                       "spec": {"podCIDR": subnet, "podCIDRs": [subnet]}}))
        cluster.start_agent()
        yield cluster
    finally:
        if cluster.agent is not None:
            stop_server(cluster.agent)
        stop_server(server.process)
        base._cleanup(docker_client, node)
        if request.node.session.testsfailed:
            sys.stderr.write(f"\n--- agent log ---\n{cluster.log_file.read_text(errors='replace')[-8000:]}\n"
                             f"--- server log ---\n{server.log()[-4000:]}\n")
    assert base._ours(docker_client, node) == ([], [])

SLEEP = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"]  # stops on SIGTERM


def _apply(c: AgentCluster, pod: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps(pod))


def _pod(name: str, containers: list[dict[str, Any]], **spec: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 2, "containers": containers, **spec}}


def _main(**extra: Any) -> dict[str, Any]:
    return {"name": "main", "image": "busybox:latest", "command": SLEEP, **extra}


def _status(c: AgentCluster, name: str, container: str = "main", init: bool = False) -> dict[str, Any]:
    field = "initContainerStatuses" if init else "containerStatuses"
    for s in c.get("pod", name)["status"].get(field) or []:
        if s["name"] == container:
            return dict(s)
    return {}


def _condition(c: AgentCluster, name: str, kind: str) -> str:
    for cond in c.get("pod", name)["status"].get("conditions") or []:
        if cond["type"] == kind:
            return str(cond["status"])
    return ""


def _events(c: AgentCluster, name: str) -> list[dict[str, Any]]:
    uid = c.get("pod", name)["metadata"]["uid"]
    return list(c.get("events", "--field-selector", f"involvedObject.uid={uid}")["items"])


def _container(docker_client: Any, c: AgentCluster, pod: str, name: str = "main") -> Any:
    cid = _status(c, pod, name).get("containerID", "").removeprefix("docker://")
    return docker_client.containers.get(cid)


def _ready_column(c: AgentCluster, name: str) -> str:
    return c.kubectl("get", "pod", name, "--no-headers").stdout.split()[1]


def test_readiness_probe_flips_ready_and_kubectls_ready_column(agent_cluster: AgentCluster,
                                                               docker_client: Any) -> None:
    c = agent_cluster
    probe = {"exec": {"command": ["cat", "/tmp/ready"]}, "periodSeconds": 1}
    _apply(c, _pod("ready", [_main(readinessProbe=probe)]))
    wait_for("running", lambda: "running" in _status(c, "ready").get("state", {}))
    assert _status(c, "ready")["ready"] is False and _status(c, "ready")["started"] is True
    assert _condition(c, "ready", "Ready") == "False" and _ready_column(c, "ready") == "0/1"
    _container(docker_client, c, "ready").exec_run(["touch", "/tmp/ready"])
    wait_for("Ready", lambda: _condition(c, "ready", "Ready") == "True", 20)
    assert _condition(c, "ready", "ContainersReady") == "True" and _ready_column(c, "ready") == "1/1"
    _container(docker_client, c, "ready").exec_run(["rm", "/tmp/ready"])
    wait_for("not Ready again", lambda: _condition(c, "ready", "Ready") == "False", 20)
    assert _status(c, "ready")["restartCount"] == 0  # readiness never restarts
    unhealthy = [e["message"] for e in _events(c, "ready") if e["reason"] == "Unhealthy"]
    assert unhealthy and unhealthy[0].startswith("Readiness probe failed: cat: can't open '/tmp/ready'"), unhealthy


def test_failing_liveness_probe_restarts_the_container_with_backoff(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    # busybox httpd serves /tmp: /healthz is missing, so the probe gets a 404
    web = {"name": "main", "image": "busybox:latest", "command": ["httpd", "-f", "-p", "8080", "-h", "/tmp"],
           "ports": [{"name": "web", "containerPort": 8080}],
           "livenessProbe": {"httpGet": {"path": "/healthz", "port": "web"}, "periodSeconds": 1,
                             "failureThreshold": 2}}
    _apply(c, _pod("alive", [web], terminationGracePeriodSeconds=1))
    wait_for("restartCount >= 3", lambda: _status(c, "alive").get("restartCount", 0) >= 3, 90)
    events = _events(c, "alive")
    unhealthy = [e["message"] for e in events if e["reason"] == "Unhealthy"]
    # (a probe right after a restart may also find httpd not listening yet: connection refused)
    assert any(m.endswith("Liveness probe failed: HTTP probe failed with statuscode: 404") for m in unhealthy), unhealthy
    killing = [e["message"] for e in events if e["reason"] == "Killing"]
    assert any(m.endswith("Container main failed liveness probe, will be restarted") for m in killing), killing
    wait_for("BackOff event", lambda: any(e["reason"] == "BackOff" for e in _events(c, "alive")), 30)
    last = _status(c, "alive")["lastState"]["terminated"]
    assert last["exitCode"] != 0 and last["reason"] == "Error"
    described = c.kubectl("describe", "pod", "alive").stdout
    assert "http-get http://:web/healthz delay=0s timeout=1s period=1s #success=1 #failure=2" in described, described


def test_startup_probe_gates_liveness_and_readiness(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    main = _main(command=["sh", "-c", "sleep 4; touch /tmp/up; trap 'exit 0' TERM; while true; do sleep 1; done"],
                 startupProbe={"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1,
                               "failureThreshold": 30},
                 livenessProbe={"exec": {"command": ["test", "-f", "/tmp/up"]}, "periodSeconds": 1,
                                "failureThreshold": 1},
                 readinessProbe={"tcpSocket": {"port": 9}, "periodSeconds": 1})  # nothing listens on 9
    _apply(c, _pod("startup", [main]))
    wait_for("running", lambda: "running" in _status(c, "startup").get("state", {}))
    assert _status(c, "startup")["started"] is False and _status(c, "startup")["ready"] is False
    wait_for("started", lambda: _status(c, "startup").get("started") is True, 30)
    # the liveness probe (which would have failed during the first 4 s) never killed it
    assert _status(c, "startup")["restartCount"] == 0
    wait_for("readiness failing on port 9", lambda: any(
        e["reason"] == "Unhealthy" and e["message"].startswith("Readiness probe failed: dial tcp ")
        and e["message"].endswith(":9: connect: connection refused") for e in _events(c, "startup")), 20)
    assert _status(c, "startup")["ready"] is False and _condition(c, "startup", "Ready") == "False"


def _stamp(s: dict[str, Any], key: str) -> str:
    state = s["state"].get("terminated") or s["state"].get("running") or {}
    return str(state.get(key) or "")


def test_init_containers_run_in_order_before_the_app(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    inits = [{"name": "one", "image": "busybox:latest", "command": ["sleep", "3"]},
             {"name": "two", "image": "busybox:latest", "command": ["sleep", "2"]}]
    _apply(c, _pod("inits", [_main()], initContainers=inits))
    wait_for("Init:0/2", lambda: c.kubectl("get", "pod", "inits", "--no-headers").stdout.split()[2] == "Init:0/2", 20)
    assert _condition(c, "inits", "Initialized") == "False"
    assert _status(c, "inits")["state"] == {"waiting": {"reason": "PodInitializing"}}
    wait_for("Init:1/2", lambda: c.kubectl("get", "pod", "inits", "--no-headers").stdout.split()[2] == "Init:1/2", 20)
    wait_for("Running", lambda: c.get("pod", "inits")["status"]["phase"] == "Running", 30)
    one, two = _status(c, "inits", "one", init=True), _status(c, "inits", "two", init=True)
    app = _status(c, "inits")
    assert one["state"]["terminated"]["reason"] == "Completed" and one["ready"] is True
    assert _stamp(one, "finishedAt") <= _stamp(two, "startedAt")  # RFC 3339 in UTC: compared as text
    assert _stamp(two, "finishedAt") <= _stamp(app, "startedAt")
    assert _condition(c, "inits", "Initialized") == "True"
    described = c.kubectl("describe", "pod", "inits").stdout
    assert "Init Containers:" in described and "Completed" in described, described


def test_a_failing_init_container_fails_a_never_pod_and_crash_loops_otherwise(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    bad = [{"name": "bad", "image": "busybox:latest", "command": ["sh", "-c", "exit 3"]}]
    _apply(c, _pod("init-never", [_main()], initContainers=bad, restartPolicy="Never"))
    _apply(c, _pod("init-always", [_main()], initContainers=bad))
    wait_for("Failed", lambda: c.get("pod", "init-never")["status"]["phase"] == "Failed", 30)
    s = _status(c, "init-never", "bad", init=True)
    assert s["state"]["terminated"]["exitCode"] == 3 and s["state"]["terminated"]["reason"] == "Error"
    assert "Init:Error" in c.kubectl("get", "pod", "init-never", "--no-headers").stdout
    assert "running" not in _status(c, "init-never").get("state", {})  # the app never ran
    wait_for("restarted twice", lambda: _status(c, "init-always", "bad", init=True).get("restartCount", 0) >= 2, 60)
    assert c.get("pod", "init-always")["status"]["phase"] == "Pending"
    wait_for("Init:CrashLoopBackOff", lambda: "Init:CrashLoopBackOff" in c.kubectl(
        "get", "pod", "init-always", "--no-headers").stdout, 30)


def test_a_native_sidecar_runs_beside_the_app_and_is_restarted(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    side = {"name": "side", "image": "busybox:latest", "restartPolicy": "Always",
            "command": ["httpd", "-f", "-p", "7000", "-h", "/"],
            "startupProbe": {"tcpSocket": {"port": 7000}, "periodSeconds": 1}}
    # the next init container only starts once the sidecar has started: it reaches it on localhost
    check = {"name": "check", "image": "busybox:latest",
             "command": ["sh", "-c", "printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc localhost 7000 | grep -q HTTP/1"]}
    _apply(c, _pod("sidecar", [_main()], initContainers=[side, check]))
    wait_for("Running 2/2", lambda: c.kubectl("get", "pod", "sidecar", "--no-headers").stdout.split()[1:3]
             == ["2/2", "Running"], 40)
    assert _status(c, "sidecar", "check", init=True)["state"]["terminated"]["exitCode"] == 0
    s = _status(c, "sidecar", "side", init=True)
    assert "running" in s["state"] and s["started"] is True and s["ready"] is True
    docker_client.containers.get(s["containerID"].removeprefix("docker://")).kill()
    wait_for("sidecar restarted", lambda: _status(c, "sidecar", "side", init=True).get("restartCount") == 1
             and "running" in _status(c, "sidecar", "side", init=True)["state"], 40)
    assert _status(c, "sidecar", "check", init=True)["restartCount"] == 0  # init containers are not run again
    assert _status(c, "sidecar")["restartCount"] == 0


def test_the_pods_hosts_file_has_its_ip_hostname_and_host_aliases(agent_cluster: AgentCluster,
                                                                 docker_client: Any) -> None:
    c = agent_cluster
    _apply(c, _pod("hosts", [_main()], hostname="web-0", subdomain="web",
                   hostAliases=[{"ip": "10.1.2.3", "hostnames": ["foo.local", "bar.local"]}]))
    wait_for("running", lambda: "running" in _status(c, "hosts").get("state", {}))
    ip = c.get("pod", "hosts")["status"]["podIP"]
    code, out = _container(docker_client, c, "hosts").exec_run(["cat", "/etc/hosts"])
    hosts = out.decode()
    assert code == 0 and hosts.startswith("# Kubernetes-managed hosts file.\n127.0.0.1\tlocalhost\n"), hosts
    assert f"{ip}\tweb-0.web.default.svc.cluster.local\tweb-0\n" in hosts
    assert hosts.endswith("# Entries added by HostAliases.\n10.1.2.3\tfoo.local\tbar.local\n")
    # on the host network: the node's own file, then the aliases
    _apply(c, _pod("hosts-hostnet", [_main()], hostNetwork=True,
                   hostAliases=[{"ip": "10.1.2.4", "hostnames": ["baz.local"]}]))
    wait_for("running", lambda: "running" in _status(c, "hosts-hostnet").get("state", {}))
    code, out = _container(docker_client, c, "hosts-hostnet").exec_run(["cat", "/etc/hosts"])
    with open("/etc/hosts") as f:
        node_hosts = f.read()
    assert out.decode() == ("# Kubernetes-managed hosts file (host network).\n" + "\n".join(node_hosts.splitlines()) +
                            "\n\n# Entries added by HostAliases.\n10.1.2.4\tbaz.local\n")


def test_job_style_pods_finish_succeeded_or_failed_with_their_messages(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    ok = {"name": "main", "image": "busybox:latest",
          "command": ["sh", "-c", "echo all good > /dev/termination-log"]}
    bad = {"name": "main", "image": "busybox:latest", "terminationMessagePath": "/tmp/why",
           "command": ["sh", "-c", "echo 'disk on fire' > /tmp/why; exit 4"]}
    logs = {"name": "main", "image": "busybox:latest", "terminationMessagePolicy": "FallbackToLogsOnError",
            "command": ["sh", "-c", "echo first >&2; echo last words >&2; exit 1"]}
    _apply(c, _pod("job-ok", [ok], restartPolicy="OnFailure"))
    _apply(c, _pod("job-bad", [bad], restartPolicy="Never"))
    _apply(c, _pod("job-logs", [logs], restartPolicy="Never"))
    wait_for("Succeeded", lambda: c.get("pod", "job-ok")["status"]["phase"] == "Succeeded", 40)
    wait_for("Failed", lambda: c.get("pod", "job-bad")["status"]["phase"] == "Failed", 40)
    wait_for("Failed", lambda: c.get("pod", "job-logs")["status"]["phase"] == "Failed", 40)
    done = _status(c, "job-ok")["state"]["terminated"]
    assert (done["exitCode"], done["reason"], done["message"]) == (0, "Completed", "all good\n")
    failed = _status(c, "job-bad")["state"]["terminated"]
    assert (failed["exitCode"], failed["reason"], failed["message"]) == (4, "Error", "disk on fire\n")
    assert _status(c, "job-logs")["state"]["terminated"]["message"] == "first\nlast words\n"
    ready = {cond["type"]: cond for cond in c.get("pod", "job-ok")["status"]["conditions"]}
    assert ready["Ready"]["status"] == "False" and ready["Ready"]["reason"] == "PodCompleted"
    assert "Completed" in c.kubectl("get", "pod", "job-ok", "--no-headers").stdout
    assert "Error" in c.kubectl("get", "pod", "job-bad", "--no-headers").stdout
    assert _condition(c, "job-bad", "Ready") == "False"
    for name in ("job-ok", "job-bad"):  # no further restarts
        assert _status(c, name)["restartCount"] == 0


def test_post_start_and_pre_stop_hooks_and_sidecars_stop_last(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    # the sidecar prints what reaches localhost:9000; it ignores SIGTERM (sh as PID 1), so it lives
    # until its SIGKILL, after the app container's preStop has sent it a line
    listener = {"name": "listener", "image": "busybox:latest", "restartPolicy": "Always",
                "command": ["sh", "-c", "while true; do nc -l -p 9000; done"],
                "startupProbe": {"tcpSocket": {"port": 9000}, "periodSeconds": 1, "failureThreshold": 30}}
    main = _main(lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "echo hello > /tmp/hook"]}},
                            "preStop": {"exec": {"command": ["sh", "-c", "echo bye-from-prestop | nc -w 1 localhost 9000"]}}})
    _apply(c, _pod("hooks", [main], initContainers=[listener], terminationGracePeriodSeconds=6))
    wait_for("Running", lambda: c.get("pod", "hooks")["status"]["phase"] == "Running", 30)
    code, out = _container(docker_client, c, "hooks").exec_run(["cat", "/tmp/hook"])
    assert (code, out) == (0, b"hello\n")
    side = docker_client.containers.get(_status(c, "hooks", "listener", init=True)["containerID"].removeprefix(
        "docker://"))
    app = _container(docker_client, c, "hooks")
    c.kubectl("delete", "pod", "hooks", "--wait=false")

    def said_bye() -> bool:
        side.reload()
        return b"bye-from-prestop" in side.logs()
    wait_for("the preStop hook's line at the sidecar", said_bye, 10, every=0.2)

    def app_stopped() -> bool:
        app.reload()
        return bool(app.status == "exited")
    wait_for("the app container stopped", app_stopped, 10, every=0.2)
    side.reload()
    assert side.status == "running"  # the sidecar outlives the app container
    wait_for("pod gone", lambda: c.kubectl("get", "pod", "hooks", check=False).returncode != 0, 30)


def test_a_failing_post_start_hook_kills_and_restarts_the_container(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    _apply(c, _pod("badhook", [_main(lifecycle={"postStart": {"exec": {"command": ["sh", "-c", "exit 7"]}}})],
                   terminationGracePeriodSeconds=1))
    wait_for("restarted", lambda: _status(c, "badhook").get("restartCount", 0) >= 1, 40)
    events = _events(c, "badhook")
    failed = [e["message"] for e in events if e["reason"] == "FailedPostStartHook"]
    assert failed and failed[0].startswith("Exec lifecycle hook ([sh -c exit 7]) for Container \"main\" in Pod "
                                           "\"badhook_default(") and "exited with 7" in failed[0], failed
    assert any(e["reason"] == "Killing" and e["message"] == "FailedPostStartHook" for e in events)


def test_a_failing_pre_stop_hook_is_an_event_and_the_container_still_stops(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    _apply(c, _pod("badstop", [_main(lifecycle={"preStop": {"exec": {"command": ["sh", "-c", "exit 2"]}}})]))
    wait_for("running", lambda: "running" in _status(c, "badstop").get("state", {}), 30)
    uid = c.get("pod", "badstop")["metadata"]["uid"]
    c.kubectl("delete", "pod", "badstop", "--wait=false")
    wait_for("pod gone", lambda: c.kubectl("get", "pod", "badstop", check=False).returncode != 0, 30)
    events = c.get("events", "--field-selector", f"involvedObject.uid={uid}")["items"]
    failed = [e["message"] for e in events if e["reason"] == "FailedPreStopHook"]
    assert failed and "exited with 2" in failed[0], failed
