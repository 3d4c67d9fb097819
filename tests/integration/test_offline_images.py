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
from pathlib import Path

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


@pytest.fixture
def scratch_tag() -> Iterator[Callable[[str], str]]:
    """Unique image names for fresh builds; teardown removes exactly those images."""
    made: list[str] = []

    def tag(what: str) -> str:
        made.append(f"minikube-py-test/{what}:{uuid.uuid4().hex[:8]}")
        return made[-1]

    yield tag
    for name in made:
        docker("rmi", name)


def test_fresh_builds_of_busybox_and_pause(scratch_tag: Callable[[str], str], run_container: Run,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """Build both under new names, whatever is already present, so the build path runs every time."""
    busybox = offline.ensure_busybox(scratch_tag("busybox"))
    pause = offline.ensure_pause(scratch_tag("pause"))
    out = capsys.readouterr().out
    assert f"==> building {busybox} from /bin/busybox" in out and f"==> building {pause} from" in out
    assert _labels(busybox).get("io.minikube-py.image") == "offline"
    listing = docker("run", "--rm", "--label", TEST_LABEL, busybox, "ls", "/bin").stdout.split()
    applets = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True).stdout.split()
    assert set(applets) <= set(listing) and {"sh", "nc", "httpd", "wget", "env", "id"} <= set(listing)
    cid = run_container(pause)
    assert docker("inspect", "--format", "{{.State.Running}}", cid).stdout.strip() == "true"
    assert offline.ensure_pause(pause) == pause
    assert f"==> {pause} present" in capsys.readouterr().out


def test_missing_host_binaries_say_what_to_install(monkeypatch: pytest.MonkeyPatch,
                                                   scratch_tag: Callable[[str], str]) -> None:
    monkeypatch.setattr(offline, "BUSYBOX_BINARY", Path("/nonexistent/busybox"))
    monkeypatch.setattr(offline, "CATATONIT_BINARY", Path("/nonexistent/catatonit"))
    with pytest.raises(offline.BuildError, match=r"apt-get install busybox-static"):
        offline.ensure_busybox(scratch_tag("busybox"))
    with pytest.raises(offline.BuildError, match=r"apt-get install catatonit"):
        offline.ensure_pause(scratch_tag("pause"))


def test_static_elf_check(tmp_path: Path) -> None:
    assert offline.is_static_elf(Path("/bin/busybox"))  # busybox-static
    assert offline.is_static_elf(Path("/usr/bin/catatonit"))
    assert not offline.is_static_elf(Path(sys.executable))  # CPython needs the dynamic loader
    (tmp_path / "script").write_text("#!/bin/sh\necho hi\n")
    assert not offline.is_static_elf(tmp_path / "script")


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


def test_pause_reaps_orphans_in_a_shared_pid_namespace(run_container: Run) -> None:
    """An orphan of a container joined to the sandbox's PID namespace is reparented to pause and reaped."""
    offline.ensure_busybox()
    pause = run_container(offline.ensure_pause())
    script = ('sh -c "sleep 1 & exit"; sleep 0.3; ps -o pid,ppid,stat,comm; echo ---; sleep 1.5; '
              "ps -o pid,ppid,stat,comm")
    proc = docker("run", "--rm", "--label", TEST_LABEL, "--pid", f"container:{pause}", "busybox:latest", "sh", "-c",
                  script)
    assert proc.returncode == 0, proc.stderr
    during, after = (part.splitlines()[1:] for part in proc.stdout.split("---"))
    assert ["1", "0", "S", "pause"] in [line.split() for line in during]
    assert any(line.split()[1:] == ["1", "S", "sleep"] for line in during), proc.stdout
    assert not any("sleep" in line or " Z " in line for line in after), proc.stdout


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
    page = docker("exec", cid, "cat", "/usr/share/nginx/html/index.html").stdout  # where the official image serves
    assert body.decode() == page and "Welcome to nginx!" in page
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


@pytest.mark.parametrize("name, hint", [("nginx", "--only nginx"), ("busybox:latest", "--only busybox"),
                                        ("registry.k8s.io/pause:3.10", "--only pause"),
                                        ("example.com/app:v1", "docker pull example.com/app:v1")])
def test_missing_image_hint(name: str, hint: str) -> None:
    from minikube_py.cli.image import _how_to_get

    assert hint in _how_to_get(name)


def test_build_offline_cli_only_subset() -> None:
    proc = subprocess.run([*CLI, "image", "build-offline", "--only", "busybox,pause"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "==> ready: busybox:latest, registry.k8s.io/pause:3.10" in proc.stdout
    unknown = subprocess.run([*CLI, "image", "build-offline", "--only", "busybox,redis"], capture_output=True,
                             text=True, timeout=60)
    assert unknown.returncode == 1
    assert unknown.stderr.strip() == "minikube-py: error: unknown image redis: choose from busybox, pause, nginx"
