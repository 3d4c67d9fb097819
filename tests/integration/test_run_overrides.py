"""`run --overrides` with mkctl beside the real kubectl 1.35: the Pod generated under each
override type is the same object (client dry run), and the one created carries the override."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.fixtures.server import RunningServer

pytestmark = pytest.mark.kubectl

MKCTL = [sys.executable, "-m", "minikube_py.cli.mkctl"]
CASES = [
    ("merge", {"metadata": {"labels": {"tier": "front"}},
               "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "side", "image": "busybox"}]}}),
    ("strategic", {"spec": {"containers": [{"name": "web", "imagePullPolicy": "Never"},
                                           {"name": "side", "image": "busybox"}]}}),
    ("json", [{"op": "add", "path": "/spec/hostname", "value": "h1"},
              {"op": "replace", "path": "/spec/restartPolicy", "value": "Never"}]),
]


def _run(prefix: list[str], server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, "--kubeconfig", str(server.kubeconfig), *args], capture_output=True, text=True,
                          timeout=60)


@pytest.mark.parametrize(("override_type", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_run_overrides_generate_what_kubectl_generates(kubectl_bin: Path, apiserver: RunningServer,
                                                       override_type: str, fragment: object) -> None:
    args = ("run", "web", "--image=nginx", "--dry-run=client", "-o", "json", f"--overrides={json.dumps(fragment)}",
            f"--override-type={override_type}")
    theirs = _run([str(kubectl_bin)], apiserver, *args)
    ours = _run(MKCTL, apiserver, *args)
    assert theirs.returncode == 0, theirs.stderr
    assert ours.returncode == 0, ours.stderr
    assert json.loads(ours.stdout) == json.loads(theirs.stdout)


def test_the_created_pod_carries_the_override(kubectl_bin: Path, apiserver: RunningServer) -> None:
    name = f"ovr-{uuid.uuid4().hex[:6]}"
    fragment = {"apiVersion": "v1", "spec": {"nodeSelector": {"disk": "ssd"}, "terminationGracePeriodSeconds": 5}}
    made = _run(MKCTL, apiserver, "run", name, "--image=nginx", f"--overrides={json.dumps(fragment)}")
    assert made.returncode == 0, made.stderr
    assert made.stdout == f"pod/{name} created\n"
    got = json.loads(_run([str(kubectl_bin)], apiserver, "get", "pod", name, "-o", "json").stdout)
    assert got["spec"]["nodeSelector"] == {"disk": "ssd"} and got["spec"]["terminationGracePeriodSeconds"] == 5
    assert got["spec"]["containers"][0]["image"] == "nginx"


def test_a_bad_override_fails_like_kubectls(kubectl_bin: Path, apiserver: RunningServer) -> None:
    args = ("run", "bad", "--image=nginx", "--dry-run=client", "--overrides={not json")
    theirs = _run([str(kubectl_bin)], apiserver, *args)
    ours = _run(MKCTL, apiserver, *args)
    assert (ours.returncode, ours.stdout, ours.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr)
