"""logs, exec, attach and cp through the apiserver to the node agent, with real kubectl and real containers.

The apiserver dials the agent's streaming port with its kubelet-client certificate and relays;
kubectl 1.35 speaks WebSocket v5, the official Python client v4.  Same cluster shape as
tests/integration/test_agent.py (its fixtures, imported): a control plane with --timing fast and one
`minikube-py agent` on a free streaming port; teardown removes only what carries this agent's label.
"""

from __future__ import annotations

import json
import os
import pty
import select
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("docker")

from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, _running, wait_for  # noqa: E402

agent_cluster = base.agent_cluster  # the fixtures, one cluster for this module
docker_client = base.docker_client


def _apply_pod(c: AgentCluster, name: str, containers: list[dict[str, Any]], policy: str = "Always") -> Any:
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": policy, "terminationGracePeriodSeconds": 1, "containers": containers}}))
    return wait_for(f"{name} Running", lambda: _running(c, name), timeout=60)


def _busybox(name: str, script: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "image": "busybox:latest", "command": ["sh", "-c", script], **extra}


@pytest.fixture(scope="module")
def talker(agent_cluster: AgentCluster) -> str:
    """A two-container pod: `main` prints to stdout and stderr, then a line every 0.3 s; `side` sleeps."""
    _apply_pod(agent_cluster, "talker", [
        _busybox("main", "echo one; sleep 0.1; echo two >&2; sleep 0.1; echo three; i=0; while true; do i=$((i+1)); echo tick $i; "
                         "sleep 0.3; done"),
        _busybox("side", "echo side-says-hi; sleep 3600")])
    return "talker"


def test_logs_show_stdout_and_stderr_in_order_and_tail_and_container(agent_cluster: AgentCluster,
                                                                     talker: str) -> None:
    c = agent_cluster
    def two_ticks() -> str | None:
        text = c.kubectl("logs", talker, "-c", "main").stdout
        return text if "tick 2" in text else None

    out = wait_for("two ticks", two_ticks)
    assert out.startswith("one\ntwo\nthree\ntick 1\n")
    tail = c.kubectl("logs", talker, "-c", "main", "--tail", "2").stdout.splitlines()
    assert len(tail) == 2 and all(line.startswith("tick ") for line in tail)
    assert c.kubectl("logs", talker, "-c", "side").stdout == "side-says-hi\n"
    assert c.kubectl("logs", talker, "-c", "main", "--limit-bytes", "5").stdout == "one\nt"


def test_logs_timestamps_are_rfc3339_with_nine_digits(agent_cluster: AgentCluster, talker: str) -> None:
    lines = agent_cluster.kubectl("logs", talker, "-c", "side", "--timestamps").stdout.splitlines()
    assert len(lines) == 1
    stamp, text = lines[0].split(" ", 1)
    assert text == "side-says-hi"
    assert len(stamp) == len("2026-12-01T21:00:00.123456789Z") and stamp.endswith("Z") and stamp[19] == "."
    wait_for("ten ticks", lambda: "tick 10\n" in agent_cluster.kubectl("logs", talker, "-c", "main").stdout)
    recent = agent_cluster.kubectl("logs", talker, "-c", "main", "--since", "1s").stdout.splitlines()
    assert recent and all(line.startswith("tick ") for line in recent) and len(recent) <= 5


def test_logs_errors_name_the_container_as_kube_apiserver_does(agent_cluster: AgentCluster, talker: str) -> None:
    c = agent_cluster
    r = c.kubectl("logs", talker, "-c", "nope", check=False)
    assert r.returncode == 1
    assert "container nope is not valid for pod talker" in r.stderr
    r = c.kubectl("logs", talker, "-p", "-c", "side", check=False)
    assert 'previous terminated container "side" in pod "talker" not found' in r.stderr
    r = c.kubectl("get", "--raw", f"/api/v1/namespaces/default/pods/{talker}/log", check=False)
    assert "a container name must be specified for pod talker, choose one of: [main side]" in r.stderr


def test_logs_follow_sees_a_new_line(agent_cluster: AgentCluster, talker: str, kubectl_bin: Path) -> None:
    c = agent_cluster
    proc = subprocess.Popen([str(kubectl_bin), "--kubeconfig", str(c.server.kubeconfig), "logs", "-f", talker,
                             "-c", "main", "--tail", "1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
        second = proc.stdout.readline().decode()  # printed after kubectl started following
        n1, n2 = int(first.split()[1]), int(second.split()[1])
        assert first.startswith("tick ") and n2 == n1 + 1
    finally:
        proc.kill()
        proc.wait()


def test_exec_passes_stdout_stderr_and_the_exit_code(agent_cluster: AgentCluster, talker: str) -> None:
    r = agent_cluster.kubectl("exec", talker, "-c", "side", "--", "sh", "-c", "echo out; echo err >&2; exit 3",
                              check=False)
    assert (r.returncode, r.stdout) == (3, "out\n")
    assert "err\n" in r.stderr and "command terminated with exit code 3" in r.stderr
    ok = agent_cluster.kubectl("exec", talker, "-c", "side", "--", "cat", "/etc/hostname")
    assert ok.stdout.strip() == talker
    missing = agent_cluster.kubectl("exec", talker, "-c", "side", "--", "no-such-command", check=False)
    # as with dockershim: Docker's OCI error on the stream, and its exit code 126
    assert missing.returncode == 126 and '"no-such-command": executable file not found' in missing.stdout
    assert "command terminated with exit code 126" in missing.stderr


def test_exec_stdin_reaches_the_command_and_its_eof_ends_it(agent_cluster: AgentCluster, talker: str) -> None:
    r = agent_cluster.kubectl("exec", "-i", talker, "-c", "side", "--", "sh", "-c", "cat; echo done",
                              input="hello\nworld\n")
    assert r.stdout == "hello\nworld\ndone\n"


def _read_until(fd: int, needle: bytes, timeout: float = 20.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {needle!r} in {seen!r}")
        ready, _, _ = select.select([fd], [], [], left)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    return seen


def test_exec_it_under_a_pty_shows_a_prompt_and_output(agent_cluster: AgentCluster, talker: str,
                                                       kubectl_bin: Path) -> None:
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on a terminal
        os.execv(str(kubectl_bin), [str(kubectl_bin), "--kubeconfig", str(agent_cluster.server.kubeconfig),
                                    "exec", "-it", talker, "-c", "side", "--", "sh"])
    try:
        _read_until(fd, b"# ")
        os.write(fd, b"echo $((6*7)); stty size\r")
        out = _read_until(fd, b"42")
        assert b"42" in out
        os.write(fd, b"exit 5\r")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


def _attach_and_answer(argv: list[str], line: str, timeout: float = 30) -> str:
    """Attach with stdin kept open (a container with `stdin: true` and no stdinOnce keeps its stdin
    across attaches, as on Kubernetes, so the session lasts until the client leaves): type a line,
    wait for the container's answer, leave."""
    import select

    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None
    out = b""
    try:
        proc.stdin.write(line.encode() + b"\n")
        proc.stdin.flush()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and b"got:" + line.encode() not in out:
            ready, _, _ = select.select([proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                out += chunk
    finally:
        proc.kill()
        proc.wait()
    return out.decode(errors="replace")


def test_kubectl_attach_to_a_stdin_container(agent_cluster: AgentCluster, kubectl_bin: Path) -> None:
    c = agent_cluster
    _apply_pod(c, "echoer", [_busybox("main", "while read line; do echo got:$line; done", stdin=True)])
    argv = [str(kubectl_bin), "--kubeconfig", str(c.server.kubeconfig), "attach", "-i", "echoer"]
    assert "got:ping" in _attach_and_answer(argv, "ping")
    assert "got:again" in _attach_and_answer(argv, "again")  # stdin stayed open: a second attach works


def test_kubectl_cp_both_ways(agent_cluster: AgentCluster, talker: str, tmp_path: Path) -> None:
    c = agent_cluster
    src = tmp_path / "payload.bin"
    src.write_bytes(os.urandom(300_000))
    c.kubectl("cp", str(src), f"{talker}:/tmp/payload.bin", "-c", "side")
    back = tmp_path / "back.bin"
    c.kubectl("cp", f"{talker}:/tmp/payload.bin", str(back), "-c", "side")
    assert back.read_bytes() == src.read_bytes()


def test_logs_previous_shows_the_run_before_a_restart(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "restarter"},
        "spec": {"restartPolicy": "Always", "terminationGracePeriodSeconds": 1,
                 "containers": [_busybox("main", "echo run-$(date +%s%N); sleep 1; exit 1")]}}))

    def restarted() -> Any:
        pod = c.get("pod", "restarter")
        statuses = pod["status"].get("containerStatuses") or []
        return pod if statuses and statuses[0]["restartCount"] >= 1 else None

    wait_for("restarter restarted", restarted, timeout=60)
    previous = c.kubectl("logs", "-p", "restarter").stdout
    assert previous.startswith("run-") and previous.count("\n") == 1
    current = wait_for("the current run's log", lambda: c.kubectl("logs", "restarter").stdout or None)
    assert current.startswith("run-") and current != previous


def test_the_agent_refuses_a_client_without_the_apiservers_certificate(agent_cluster: AgentCluster,
                                                                       talker: str) -> None:
    c = agent_cluster
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    url = f"https://127.0.0.1:{c.streaming_port}/containerLogs/default/talker/main"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, context=ctx, timeout=10)
    assert info.value.code == 401
    assert json.loads(info.value.read())["reason"] == "Unauthorized"


def test_the_agent_refuses_a_ca_signed_client_that_is_not_the_apiserver(agent_cluster: AgentCluster, talker: str,
                                                                        tmp_path: Path) -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    pki = agent_cluster.server.data_dir / "pki"
    ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
    ca_key = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
    assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mallory")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=1)).not_valid_after(now + dt.timedelta(hours=1))
            .sign(ca_key, hashes.SHA256()))
    (tmp_path / "c.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "c.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(tmp_path / "c.crt", tmp_path / "c.key")
    url = f"https://127.0.0.1:{agent_cluster.streaming_port}/containerLogs/default/talker/main"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(url, context=ctx, timeout=10)
    assert info.value.code == 403
    assert "mallory" in json.loads(info.value.read())["message"]


def test_the_python_clients_stream_exec_over_v4(agent_cluster: AgentCluster, talker: str) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    from kubernetes.stream import stream

    api = kubernetes.client.CoreV1Api(kubernetes.config.new_client_from_config(
        config_file=str(agent_cluster.server.kubeconfig)))
    out = stream(api.connect_get_namespaced_pod_exec, talker, "default", container="side",
                 command=["sh", "-c", "echo from-python; echo oops >&2"], stderr=True, stdin=False, stdout=True,
                 tty=False)
    assert "from-python" in out
    ws = stream(api.connect_get_namespaced_pod_exec, talker, "default", container="side",
                command=["sh", "-c", "read x; echo got-$x; exit 4"], stderr=True, stdin=True, stdout=True,
                tty=False, _preload_content=False)
    ws.write_stdin("abc\n")
    ws.run_forever(timeout=20)
    assert ws.read_stdout() == "got-abc\n"
    assert ws.returncode == 4
    ws.close()


def _agent_ssl(c: AgentCluster) -> ssl.SSLContext:
    """What the apiserver shows the agent: its kubelet-client certificate."""
    pki = c.server.data_dir / "pki"
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.load_cert_chain(pki / "kubelet-client.crt", pki / "kubelet-client.key")
    return ctx


def test_the_agents_port_forward_carries_bytes_both_ways_and_says_why_it_cannot(agent_cluster: AgentCluster) -> None:
    import asyncio

    import aiohttp

    c = agent_cluster
    pod = _apply_pod(c, "web", [_busybox("main", "mkdir -p /www && echo hello-web > /www/index.html && "
                                                 "exec httpd -f -p 8080 -h /www")])

    async def forward(port: int) -> tuple[bytes, list[Any]]:
        url = f"https://127.0.0.1:{c.streaming_port}/portForward/default/web?port={port}"
        texts: list[Any] = []
        got = b""
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, ssl=_agent_ssl(c), protocols=("portforward.minikube-py.io",)) as ws:
                await ws.send_bytes(b"GET / HTTP/1.0\r\n\r\n")
                await ws.send_str(json.dumps({"eof": True}))
                async for msg in ws:
                    if msg.type == aiohttp.WSMsgType.BINARY:
                        got += msg.data
                    elif msg.type == aiohttp.WSMsgType.TEXT:
                        texts.append(json.loads(msg.data))
                        if texts[-1].get("eof"):
                            break
        return got, texts

    def served() -> Any:
        got, texts = asyncio.run(forward(8080))
        return (got, texts) if b"hello-web" in got else None

    got, texts = wait_for("httpd answers through the agent", served)
    assert got.startswith(b"HTTP/1.") and texts == [{"eof": True}]
    _, refused = asyncio.run(forward(81))
    assert refused == [{"error": f"dial tcp {pod['status']['podIP']}:81: connect: connection refused"}]


def _mkctl(c: AgentCluster, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    import sys

    return subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", str(c.server.kubeconfig),
                           *args], input=input, capture_output=True, text=True, timeout=60)


def test_mkctl_logs_exec_and_attach(agent_cluster: AgentCluster, talker: str) -> None:
    c = agent_cluster
    r = _mkctl(c, "logs", talker, "-c", "side")
    assert (r.returncode, r.stdout) == (0, "side-says-hi\n"), r.stderr
    r = _mkctl(c, "exec", talker, "-c", "side", "--", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert (r.returncode, r.stdout) == (3, "out\n")
    assert r.stderr == "err\ncommand terminated with exit code 3\n"
    r = _mkctl(c, "exec", "-i", talker, "-c", "side", "--", "sh", "-c", "cat; echo done", input="a\nb\n")
    assert (r.returncode, r.stdout) == (0, "a\nb\ndone\n"), r.stderr
    r = _mkctl(c, "exec", talker, "-c", "nope", "--", "true")
    assert r.returncode == 1 and "container nope is not valid for pod talker" in r.stderr
    _apply_pod(c, "echoer-mk", [_busybox("main", "while read line; do echo got:$line; done", stdin=True)])
    import sys

    argv = [sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", str(c.server.kubeconfig), "attach", "-i",
            "echoer-mk"]
    assert "got:pong" in _attach_and_answer(argv, "pong")


def test_mkctl_exec_it_under_a_pty_sends_the_terminal_size(agent_cluster: AgentCluster, talker: str) -> None:
    import fcntl
    import struct
    import sys
    import termios

    pid, fd = pty.fork()
    if pid == 0:
        os.execv(sys.executable, [sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig",
                                  str(agent_cluster.server.kubeconfig), "exec", "-it", talker, "-c", "side", "--",
                                  "sh"])
    try:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 33, 101, 0, 0))
        _read_until(fd, b"# ")
        os.write(fd, b"stty size; exit 6\r")
        assert b"33 101" in _read_until(fd, b"33 101")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 6
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)


def test_kubectl_attach_it_to_a_tty_container(agent_cluster: AgentCluster, kubectl_bin: Path) -> None:
    c = agent_cluster
    _apply_pod(c, "shell", [{"name": "main", "image": "busybox:latest", "command": ["sh"], "stdin": True,
                             "tty": True}])
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(str(kubectl_bin), [str(kubectl_bin), "--kubeconfig", str(c.server.kubeconfig), "attach", "-it",
                                    "shell"])
    try:
        _read_until(fd, b"try pressing enter")
        os.write(fd, b"echo attached-$((2+3))\r")
        assert b"attached-5" in _read_until(fd, b"attached-5")
    finally:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        os.close(fd)


def test_logs_of_a_container_that_cannot_start_and_of_an_unbound_pod_say_why(agent_cluster: AgentCluster,
                                                                             talker: str) -> None:
    c = agent_cluster
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ghost"},
        "spec": {"containers": [{"name": "main", "image": "minikube-py.invalid/none:1",
                                 "imagePullPolicy": "Never"}]}}))

    def waiting() -> Any:
        statuses = c.get("pod", "ghost")["status"].get("containerStatuses") or []
        return statuses and statuses[0]["state"].get("waiting", {}).get("reason") == "ErrImageNeverPull"

    wait_for("ghost ErrImageNeverPull", waiting)
    r = c.kubectl("logs", "ghost", check=False)
    assert r.returncode == 1
    assert 'container "main" in pod "ghost" is waiting to start: ErrImageNeverPull' in r.stderr
    r = _mkctl(c, "exec", "ghost", "--", "true")  # kubectl would retry over SPDY after the failed upgrade
    assert r.returncode == 1 and 'container not found ("main")' in r.stderr
    c.kubectl("apply", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nowhere"},
        "spec": {"nodeSelector": {"no-such": "node"}, "containers": [{"name": "main", "image": "busybox:latest"}]}}))
    r = c.kubectl("logs", "nowhere", check=False)
    assert r.returncode == 1 and "pod nowhere does not have a host assigned" in r.stderr
    c.kubectl("delete", "pod", "ghost", "nowhere", "--wait=false")


def test_an_agent_whose_streaming_port_is_taken_says_so_and_registers_nothing(agent_cluster: AgentCluster,
                                                                              talker: str) -> None:
    import socket
    import sys

    c = agent_cluster
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "minikube_py.cli.main", "agent", "--kubeconfig",
                            str(c.server.kubeconfig), "--node-name", "portless", "--node-ip", "127.0.0.1",
                            "--timing", "fast", "--data-dir", str(c.server.data_dir / "portless"),
                            "--streaming-port", str(port), "--log-level", "warning"],
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port} for logs/exec/attach: the address is in use" in r.stderr
    assert "Traceback" not in r.stderr
    assert c.kubectl("get", "node", "portless", check=False).returncode == 1


def test_a_quiet_followed_log_ends_on_the_agent_when_the_client_leaves(agent_cluster: AgentCluster, talker: str,
                                                                        kubectl_bin: Path) -> None:
    c = agent_cluster
    proc = subprocess.Popen([str(kubectl_bin), "--kubeconfig", str(c.server.kubeconfig), "logs", "-f", talker,
                             "-c", "side"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    assert proc.stdout.readline() == b"side-says-hi\n"
    proc.kill()
    proc.wait()
    wait_for("the agent ends the followed log", lambda: "default/talker: the followed log of" in
             c.log_file.read_text(errors="replace"), timeout=30)


def test_kubectl_run_i_rm_attaches_shows_the_output_and_deletes_the_pod(agent_cluster: AgentCluster,
                                                                       talker: str) -> None:
    c = agent_cluster
    r = c.kubectl("run", "oneshot", "-i", "--rm", "--restart=Never", "--image=busybox:latest", "--",
                  "sh", "-c", "read x; echo hello-$x", input="run\n")
    assert "hello-run" in r.stdout
    assert 'pod "oneshot" deleted' in r.stdout + r.stderr
