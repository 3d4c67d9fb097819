"""Build the container images docker-compose.yml uses, offline: `python -m minikube_py.deploy.images`.

No registry is reachable on the machines minikube-py is developed on, so nothing can be pulled:
  1. the base image (Debian bookworm minbase + python3, python3-venv, etcd-server) is made with
     debootstrap and `docker import`, only when it is missing;
  2. the wheels of minikube-py and its dependencies are built on the host (same CPython 3.11);
  3. `docker build` installs them into the base with no network (minikube_py/deploy/Dockerfile).
Called by the README's compose instructions and by tests/e2e; prints progress at every step and
says what to do on every failure.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_IMAGE = "minikube-py/base:bookworm"
IMAGE = "minikube-py/minikube-py:dev"
BASE_PACKAGES = ["python3", "python3-venv", "etcd-server", "ca-certificates", "iproute2"]
MIRROR = "http://deb.debian.org/debian"
ROOT = Path(__file__).resolve().parents[2]


class BuildError(RuntimeError):
    """A step failed; the message says which and what to do."""


def step(text: str) -> float:
    print(f"==> {text}", flush=True)
    return time.monotonic()


def done(started: float) -> None:
    print(f"    ({time.monotonic() - started:.0f} s)", flush=True)


def run_step(cmd: list[str], what: str, **kw: object) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-15:])
        raise BuildError(f"{what} failed (exit {proc.returncode}):\n{tail}")


def image_exists(name: str) -> bool:
    return subprocess.run(["docker", "image", "inspect", name], capture_output=True).returncode == 0


def build_base(name: str = BASE_IMAGE) -> None:
    if image_exists(name):
        print(f"==> base image {name} present", flush=True)
        return
    if shutil.which("debootstrap") is None:
        raise BuildError(f"base image {name} is missing and debootstrap is not installed: "
                         "run `apt-get install debootstrap` (or build a Debian bookworm image with "
                         f"{', '.join(BASE_PACKAGES)} and tag it {name})")
    started = step(f"building {name} with debootstrap (about a minute, once)")
    with tempfile.TemporaryDirectory(prefix="minikube-py-rootfs-") as tmp:
        rootfs = Path(tmp) / "rootfs"
        run_step(["debootstrap", "--variant=minbase", f"--include={','.join(BASE_PACKAGES)}", "bookworm",
              str(rootfs), MIRROR], "debootstrap (needs root and access to the Debian mirror)")
        for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
            shutil.rmtree(rootfs / cache, ignore_errors=True)
        tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
        run_step(["docker", "import", "-", name], "docker import", stdin=tar.stdout)
        tar.wait()
    done(started)


def build_image(name: str = IMAGE, base: str = BASE_IMAGE) -> None:
    started = step("building wheels of minikube-py and its dependencies on the host")
    with tempfile.TemporaryDirectory(prefix="minikube-py-image-") as tmp:
        context = Path(tmp)
        run_step([sys.executable, "-m", "pip", "wheel", "--quiet", "--wheel-dir", str(context / "wheelhouse"),
              str(ROOT)], "pip wheel (needs PyPI, or a wheel cache)")
        shutil.copy(ROOT / "minikube_py" / "deploy" / "Dockerfile", context / "Dockerfile")
        done(started)
        started = step(f"docker build {name} (offline, from {base})")
        run_step(["docker", "build", "--network", "none", "--build-arg", f"BASE={base}", "-t", name, str(context)],
             "docker build")
    done(started)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m minikube_py.deploy.images", description=__doc__.splitlines()[0])
    p.add_argument("--if-missing", action="store_true", help=f"do nothing when {IMAGE} already exists")
    args = p.parse_args(argv)
    if shutil.which("docker") is None:
        print("error: docker is not installed: install docker.io and start dockerd", file=sys.stderr)
        return 1
    try:
        if args.if_missing and image_exists(IMAGE):
            print(f"==> {IMAGE} present", flush=True)
            return 0
        build_base()
        build_image()
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"==> ready: {IMAGE} (docker-compose up -d starts etcd and the master)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
