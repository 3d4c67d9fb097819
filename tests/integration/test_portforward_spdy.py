"""SPDY/3.1 exec/attach (kubectl 1.20, 1.24, 1.28) and port-forward for every kubectl (SPDY before
1.31, SPDY inside a WebSocket after), the Python client's port-forward and mkctl's, all through
the apiserver to a real node agent and real containers.

Same cluster shape as tests/integration/test_agent.py (its fixtures, imported): a control plane
with --timing fast and one `minikube-py agent`.  The pod serves HTTP with busybox httpd on 8080;
nothing listens on 81 (the refused port).
"""

from __future__ import annotations

import hashlib
import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("docker")

from tests.fixtures.kubectl import _fetch_or_skip  # noqa: E402
from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import AgentCluster, wait_for  # noqa: E402

agent_cluster = base.agent_cluster  # the fixtures, one cluster for this module
docker_client = base.docker_client

SPDY_EXEC_MINORS = (20, 24, 28)
PORTFORWARD_MINORS = (20, 24, 28, 32, 35)
PAGE = "hello through port-forward"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def web(agent_cluster: AgentCluster) -> str:
    agent_cluster.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pf-web", "labels": {"app": "pf-web"}},
         "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
             "name": "main", "image": "busybox:latest", "ports": [{"containerPort": 8080}],
             "command": ["sh", "-c", f"mkdir -p /www && echo '{PAGE}' > /www/index.html && "
                                     "exec httpd -f -p 8080 -h /www"]}]}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pf-web-svc"},
         "spec": {"selector": {"app": "pf-web"}, "ports": [{"port": 80, "targetPort": 8080}]}},
        # one echo pod per kubectl: the agent's containers get Docker's StdinOnce (docker-py sets it for
        # stdin_open without detach), so a container's stdin closes when its first attach ends
        *({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"pf-echo-{minor}"},
           "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
               "name": "main", "image": "busybox:latest", "stdin": True,
               "command": ["sh", "-c", 'while read line; do echo "got $line"; done']}]}} for minor in SPDY_EXEC_MINORS),
    ]}))
    for name in ("pf-web", *(f"pf-echo-{m}" for m in SPDY_EXEC_MINORS)):
        wait_for(f"{name} Running", lambda n=name: agent_cluster.get("pod", n)["status"].get("phase") == "Running",
                 timeout=120)
    return "pf-web"


def _kubectl(c: AgentCluster, minor: int) -> list[str]:
    return [str(_fetch_or_skip(minor)), "--kubeconfig", str(c.server.kubeconfig)]


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return data


@pytest.fixture
def forwards() -> Iterator[list[subprocess.Popen[str]]]:
    procs: list[subprocess.Popen[str]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.communicate()


def _start_forward(argv: list[str], procs: list[subprocess.Popen[str]], count: int) -> subprocess.Popen[str]:
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    procs.append(proc)
    assert proc.stdout is not None
    for _ in range(count):
        line = proc.stdout.readline()
        if not line.startswith("Forwarding from 127.0.0.1:"):
            proc.kill()
            raise AssertionError(f"port-forward printed {line!r}: {proc.communicate()[1]}")
    return proc


@pytest.mark.parametrize("minor", SPDY_EXEC_MINORS, ids=[f"kubectl-1.{m}" for m in SPDY_EXEC_MINORS])
def test_exec_over_spdy_output_stdin_and_exit_code(agent_cluster: AgentCluster, web: str, minor: int) -> None:
    kubectl = _kubectl(agent_cluster, minor)
    r = subprocess.run([*kubectl, "exec", web, "--", "sh", "-c", "echo out; echo err >&2; exit 3"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (3, "out\n"), r.stderr
    assert "err\n" in r.stderr and "command terminated with exit code 3" in r.stderr
    r = subprocess.run([*kubectl, "exec", "-i", web, "--", "cat"], input="piped\nlines\n", capture_output=True,
                       text=True, timeout=60)
    assert (r.returncode, r.stdout) == (0, "piped\nlines\n"), r.stderr
    r = subprocess.run([*kubectl, "exec", web, "-c", "nope", "--", "true"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "container nope is not valid for pod pf-web" in r.stderr


@pytest.mark.parametrize("minor", SPDY_EXEC_MINORS, ids=[f"kubectl-1.{m}" for m in SPDY_EXEC_MINORS])
def test_attach_over_spdy_reaches_the_running_process(agent_cluster: AgentCluster, web: str, minor: int) -> None:
    proc = subprocess.Popen([*_kubectl(agent_cluster, minor), "attach", "-i", f"pf-echo-{minor}"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(f"ping-{minor}\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "no output from kubectl attach within 30 s"
        assert proc.stdout.readline() == f"got ping-{minor}\n"
    finally:
        proc.kill()
        proc.communicate()


@pytest.mark.parametrize("minor", PORTFORWARD_MINORS, ids=[f"kubectl-1.{m}" for m in PORTFORWARD_MINORS])
def test_port_forward_answers_and_a_refused_port_says_why(agent_cluster: AgentCluster, web: str, minor: int,
                                                          forwards: list[subprocess.Popen[str]]) -> None:
    local, refused = _free_port(), _free_port()
    proc = _start_forward([*_kubectl(agent_cluster, minor), "port-forward", "--address", "127.0.0.1", f"pod/{web}",
                           f"{local}:8080", f"{refused}:81"], forwards, 2)
    for _ in range(3):  # one connection after another, each its own stream pair
        reply = _get(local)
        assert reply.startswith(b"HTTP/1.") and reply.endswith(f"{PAGE}\n".encode()), reply
    assert _get(refused) == b""
    if minor < 23:  # kubectl then goes on: the next connection works
        assert _get(local).endswith(f"{PAGE}\n".encode())
        proc.terminate()
    else:  # kubectl >= 1.23 closes its connection after a forwarding error and exits (as with a real kubelet)
        proc.wait(20)
    _, err = proc.communicate(timeout=20)
    assert f"an error occurred forwarding {refused} -> 81: error forwarding port 81 to pod " in err, err
    assert "connect: connection refused" in err, err
    if minor >= 23:  # 1.24 logs it and exits 0; 1.28 and later return it as their error (exit 1)
        assert "lost connection to pod" in err, err
        assert proc.returncode == (0 if minor < 28 else 1), err


def test_python_clients_port_forward(agent_cluster: AgentCluster, web: str) -> None:
    from kubernetes import client, config
    from kubernetes.stream import portforward

    api = client.CoreV1Api(config.new_client_from_config(str(agent_cluster.server.kubeconfig)))
    pf = portforward(api.connect_get_namespaced_pod_portforward, web, "default", ports="8080,81")
    sock = pf.socket(8080)
    sock.settimeout(20)
    sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    assert data.endswith(f"{PAGE}\n".encode()), data
    assert pf.error(8080) is None
    wait_for("the refused port's error", lambda: pf.error(81), timeout=20)
    assert "connect: connection refused" in str(pf.error(81))


def test_mkctl_port_forward(agent_cluster: AgentCluster, web: str, forwards: list[subprocess.Popen[str]]) -> None:
    local, refused = _free_port(), _free_port()
    proc = _start_forward([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig",
                           str(agent_cluster.server.kubeconfig), "port-forward", f"pod/{web}", f"{local}:8080",
                           f"{refused}:81", ":8080"], forwards, 3)
    for _ in range(2):
        assert _get(local).endswith(f"{PAGE}\n".encode())
    assert _get(refused) == b""
    assert _get(local).endswith(f"{PAGE}\n".encode())  # mkctl goes on after an error, as kubectl 1.20 did
    proc.terminate()
    out, err = proc.communicate(timeout=20)
    assert f"Handling connection for {local}" in out
    assert f"an error occurred forwarding {refused} -> 81: error forwarding port 81 to pod " in err, err
    assert "connect: connection refused" in err, err


def test_exec_with_a_terminal_over_spdy_sends_its_size(agent_cluster: AgentCluster, web: str) -> None:
    """kubectl 1.28 -it on a pseudo-terminal of 31x97: the resize stream reaches the container's tty."""
    import fcntl
    import pty
    import struct
    import termios

    argv = [*_kubectl(agent_cluster, 28), "exec", "-it", web, "--", "sh", "-c", "sleep 1; stty size; exit 4"]
    pid, fd = pty.fork()
    if pid == 0:  # the child: kubectl on the terminal
        os.execv(argv[0], argv)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 31, 97, 0, 0))
    out = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if ready:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # the child exited: EIO
                break
            if not chunk:
                break
            out += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert b"31 97" in out, out
    assert os.waitstatus_to_exitcode(status) == 4, out


@pytest.mark.parametrize("minor", (20, 28), ids=["kubectl-1.20", "kubectl-1.28"])
def test_kubectl_cp_moves_a_large_file_both_ways_over_spdy(agent_cluster: AgentCluster, web: str, minor: int,
                                                            tmp_path: Path) -> None:
    """kubectl cp is exec of tar: 3 MiB of random bytes in through stdin and out through stdout."""
    kubectl = _kubectl(agent_cluster, minor)
    original = tmp_path / "blob.bin"
    original.write_bytes(os.urandom(3 << 20))
    r = subprocess.run([*kubectl, "cp", str(original), f"{web}:/tmp/blob-{minor}.bin"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    back = tmp_path / "back.bin"
    r = subprocess.run([*kubectl, "cp", f"{web}:/tmp/blob-{minor}.bin", str(back)], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    assert back.read_bytes() == original.read_bytes()


@pytest.mark.parametrize("minor", (28, 35), ids=["kubectl-1.28", "kubectl-1.35"])
def test_port_forward_carries_a_large_response(agent_cluster: AgentCluster, web: str, minor: int,
                                               forwards: list[subprocess.Popen[str]]) -> None:
    blob = "/www/big.bin"
    subprocess.run([*_kubectl(agent_cluster, 35), "exec", web, "--", "sh", "-c",
                    f"head -c 4194304 /dev/urandom > {blob}"], check=True, capture_output=True, timeout=60)
    want = subprocess.run([*_kubectl(agent_cluster, 35), "exec", web, "--", "md5sum", blob], check=True,
                          capture_output=True, text=True, timeout=60).stdout.split()[0]
    local = _free_port()
    _start_forward([*_kubectl(agent_cluster, minor), "port-forward", "--address", "127.0.0.1", f"pod/{web}",
                    f"{local}:8080"], forwards, 1)
    with socket.create_connection(("127.0.0.1", local), timeout=30) as s:
        s.sendall(b"GET /big.bin HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(1 << 16):
            data += chunk
    body = data.partition(b"\r\n\r\n")[2]
    assert len(body) == 4 << 20 and hashlib.md5(body).hexdigest() == want  # noqa: S324 - a checksum, not security


@pytest.mark.parametrize("minor", (20, 35), ids=["kubectl-1.20", "kubectl-1.35"])
def test_port_forward_to_a_service_reaches_its_pods_target_port(agent_cluster: AgentCluster, web: str, minor: int,
                                                                 forwards: list[subprocess.Popen[str]]) -> None:
    local = _free_port()
    _start_forward([*_kubectl(agent_cluster, minor), "port-forward", "--address", "127.0.0.1", "svc/pf-web-svc",
                    f"{local}:80"], forwards, 1)
    assert _get(local).endswith(f"{PAGE}\n".encode())
