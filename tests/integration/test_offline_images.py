"""The offline images (minikube_py/deploy/offline.py) and `minikube-py image`, on the real Docker engine.

Each image is built when missing, then run: busybox runs a shell, the pause image stops at once on
SIGTERM (as a pod sandbox must), nginx answers HTTP on its container's address and its access log
reaches `docker logs`. `image load` finds a present image and fails in one line on a missing one.
Every container started here carries io.minikube-py.test=1 and is removed by id in teardown, even
when a test fails; only our own containers' addresses are contacted.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator

import pytest

from minikube_py.deploy import offline

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI and a Docker engine")

Run = Callable[..., str]
TEST_LABEL = "io.minikube-py.test=1"
CLI = [sys.executable, "-m", "minikube_py.cli.main"]


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def run_container() -> Iterator[Run]:
    """`docker run -d --label io.minikube-py.test=1 ...`; returns the id; teardown removes them all."""
    created: list[str] = []

    def run(*args: str) -> str:
        proc = docker("run", "-d", "--label", TEST_LABEL, "--name", f"mkpy-test-{uuid.uuid4().hex[:8]}", *args)
        assert proc.returncode == 0, proc.stderr
        cid = proc.stdout.strip()
        created.append(cid)
        return cid

    yield run
    for cid in created:
        docker("rm", "-f", "-v", cid)


def _labels(image: str) -> dict[str, str]:
    proc = docker("image", "inspect", "--format", "{{json .Config.Labels}}", image)
    assert proc.returncode == 0, f"{image} is missing after ensure: {proc.stderr}"
    return json.loads(proc.stdout) or {}


@pytest.mark.parametrize("ensure, name", [(offline.ensure_busybox, "busybox:latest"),
                                          (offline.ensure_pause, "registry.k8s.io/pause:3.10"),
                                          (offline.ensure_nginx, "nginx:latest")])
def test_image_exists_after_ensure(ensure: Callable[[], str], name: str) -> None:
    assert ensure() == name
    assert _labels(name).get("io.minikube-py.image") == "offline"
    assert ensure() == name  # a second call finds it and builds nothing


def test_busybox_runs_a_shell() -> None:
    offline.ensure_busybox()
    proc = docker("run", "--rm", "--label", TEST_LABEL, "busybox:latest", "sh", "-c", "echo hi; id -u; ls /bin/nc")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["hi", "0", "/bin/nc"]


def test_pause_stops_promptly_on_sigterm(run_container: Run) -> None:
    offline.ensure_pause()
    cid = run_container("registry.k8s.io/pause:3.10")
    time.sleep(0.5)
    state = docker("inspect", "--format", "{{.State.Running}} {{.Config.User}}", cid).stdout.split()
    assert state == ["true", "65535:65535"]
    started = time.monotonic()
    proc = docker("stop", "-t", "10", cid)
    took = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr
    assert took < 2.0, f"docker stop took {took:.1f} s: the pause process ignored SIGTERM"
    exit_code = docker("inspect", "--format", "{{.State.ExitCode}}", cid).stdout.strip()
    assert exit_code != "137", "the pause container was SIGKILLed"


def _container_ip(cid: str) -> str:
    fmt = "{{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}"
    ips = docker("inspect", "--format", fmt, cid).stdout.split()
    assert ips, f"container {cid} has no IP address"
    return ips[0]


def test_nginx_serves_and_logs_to_stdout(run_container: Run) -> None:
    offline.ensure_nginx()
    cid = run_container("nginx:latest")
    url = f"http://{_container_ip(cid)}:80/"  # our own container's address
    deadline = time.monotonic() + 15
    status, body = 0, b""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # noqa: S310 (our container)
                status, body = resp.status, resp.read()
            break
        except OSError:
            time.sleep(0.2)
    assert status == 200, f"nginx did not answer on {url}; logs:\n{docker('logs', cid).stderr}"
    assert b"nginx" in body.lower()
    logs = ""
    while time.monotonic() < deadline + 5:
        logs = docker("logs", cid).stdout
        if '"GET / HTTP/1.1" 200' in logs:
            break
        time.sleep(0.2)
    assert '"GET / HTTP/1.1" 200' in logs, f"no access-log line on stdout:\n{logs}"


def test_image_load_present_and_missing() -> None:
    offline.ensure_busybox()
    ok = subprocess.run([*CLI, "image", "load", "busybox:latest"], capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr
    image_id = docker("image", "inspect", "--format", "{{.Id}}", "busybox:latest").stdout.strip()
    assert f'Image: "busybox:latest" with ID "{image_id}" found to be already present' in ok.stdout

    missing = f"minikube-py-test/absent-{uuid.uuid4().hex[:8]}:1"
    bad = subprocess.run([*CLI, "image", "load", "busybox:latest", missing], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 1
    lines = bad.stderr.strip().splitlines()
    assert len(lines) == 1, bad.stderr
    assert lines[0].startswith("minikube-py: error: ") and missing in lines[0]
    assert "docker build" in lines[0] and "Traceback" not in bad.stderr
    assert bad.stdout == ""  # nothing is reported as loaded when one image is missing


def test_build_offline_cli_only_subset() -> None:
    proc = subprocess.run([*CLI, "image", "build-offline", "--only", "busybox,pause"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "==> ready: busybox:latest, registry.k8s.io/pause:3.10" in proc.stdout
    unknown = subprocess.run([*CLI, "image", "build-offline", "--only", "busybox,redis"], capture_output=True,
                             text=True, timeout=60)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "minikube-py: error: unknown image redis: choose from busybox, pause, nginx"
