"""`minikube-py image build-offline` and `minikube-py image load`: images for a node with no registry.

build-offline builds, only when missing, the images the tests and the README use (busybox, the
pause image, nginx; minikube_py/deploy/offline.py). load is `kind load docker-image`: it gets local
images onto the node; on this single-node setup the node's engine is the local one, so it checks
that each image is there and says so, or names the missing one and how to get it.
Called by minikube_py/cli/main.py; failures are UserError (one line, non-zero exit).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess

from ..deploy import offline
from ..deploy.images import BuildError
from .main import UserError


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    i = sub.add_parser("image", help="build the offline images, or load images onto the node")
    isub = i.add_subparsers(dest="image_command", metavar="SUBCOMMAND")
    b = isub.add_parser("build-offline", help="build busybox, the pause image and nginx locally, when missing "
                                              "(no registry needed)")
    b.add_argument("--only", default="", help=f"a comma-separated subset of {','.join(offline.BUILDERS)}")
    ld = isub.add_parser("load", help="load local Docker images onto the node (as `kind load docker-image`)")
    ld.add_argument("images", nargs="+", metavar="IMAGE")


def run_image(args: argparse.Namespace) -> int:
    if args.image_command == "build-offline":
        only = [w.strip() for w in args.only.split(",") if w.strip()]
        try:
            names = offline.ensure_all(only or None)
        except BuildError as exc:
            raise UserError(str(exc)) from None
        print(f"==> ready: {', '.join(names)}", flush=True)
        return 0
    if args.image_command == "load":
        return load_images(args.images)
    raise UserError("missing subcommand: `minikube-py image build-offline` or `minikube-py image load IMAGE...`")


def _image_id(name: str) -> str | None:
    proc = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", name], capture_output=True, text=True)
    if proc.returncode == 0:
        return proc.stdout.strip()
    if "No such image" in proc.stderr or "No such object" in proc.stderr:
        return None
    raise UserError(f"docker image inspect {name} failed: {proc.stderr.strip().splitlines()[-1:] or ['?']} "
                    "(is the Docker daemon running?)")


def _how_to_get(name: str) -> str:
    offline_names = {offline.BUSYBOX_IMAGE: "busybox", offline.PAUSE_IMAGE: "pause", offline.NGINX_IMAGE: "nginx"}
    bare = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
    if bare in offline_names:
        return f"build it with `minikube-py image build-offline --only {offline_names[bare]}`"
    return f"build it (`docker build -t {name} ...`) or pull it (`docker pull {name}`) where a registry is reachable"


def load_images(names: list[str]) -> int:
    if shutil.which("docker") is None:
        raise UserError("docker is not installed: run `apt-get install docker.io` and start dockerd")
    found: list[tuple[str, str]] = []
    for name in names:
        image_id = _image_id(name)
        if image_id is None:
            raise UserError(f"image {name!r} is not present in the local Docker engine: {_how_to_get(name)}, "
                            "then run `minikube-py image load` again")
        found.append((name, image_id))
    for name, image_id in found:
        print(f'Image: "{name}" with ID "{image_id}" found to be already present on the node '
              "(this single node uses the local Docker engine)", flush=True)
    return 0
