"""Build the small images pods use here, offline: busybox, the pause image, nginx.

The machines minikube-py runs on reach no container registry, so `busybox`, `nginx` and the
pod sandbox's `registry.k8s.io/pause:3.10` cannot be pulled. Each one is built locally, only
when it is missing, under the name a user would pull, so the same manifests work unchanged
where a registry is reachable:
  - busybox:latest: `FROM scratch` + Debian busybox-static's /bin/busybox with its applet links;
  - registry.k8s.io/pause:3.10: `FROM scratch` + Debian's static `catatonit` in pause mode (`-P`):
    holds the pod's namespaces, reaps children, exits at once on SIGTERM or SIGINT;
  - nginx:latest: the project's debootstrap base (minikube_py/deploy/images.py) + Debian's nginx,
    logging to stdout and stderr as the official image does, so `kubectl logs` shows requests.
Called by `minikube-py image build-offline` (minikube_py/cli/image.py), by .ci/run and by the
node agent's tests. Every image carries the label io.minikube-py.image=offline; every step prints
a progress line and every failure raises BuildError saying what to do.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from .images import BASE_IMAGE, BuildError, _done, _run, _step, build_base, image_exists

BUSYBOX_IMAGE = "busybox:latest"
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
NGINX_IMAGE = "nginx:latest"
LABEL = "io.minikube-py.image=offline"
BUSYBOX_BINARY = Path("/bin/busybox")
CATATONIT_BINARY = Path("/usr/bin/catatonit")

# the passwd and group files of the official busybox image (root and nobody), so `id` and `whoami` answer
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
_GROUP = "root:x:0:\nnobody:x:65534:\n"

_BUSYBOX_DOCKERFILE = """\
FROM scratch
COPY rootfs/ /
CMD ["sh"]
"""

# as the upstream pause image: one static binary, run as 65535:65535
_PAUSE_DOCKERFILE = """\
FROM scratch
COPY catatonit /pause
USER 65535:65535
ENTRYPOINT ["/pause", "-P"]
"""

# Debian's nginx on the base; logs to the container's stdout/stderr (the official image's symlinks);
# Debian's default site listens on 80 and serves /var/www/html/index.nginx-debian.html
_NGINX_DOCKERFILE = """\
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null \\
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb \\
 && ln -sf /dev/stdout /var/log/nginx/access.log \\
 && ln -sf /dev/stderr /var/log/nginx/error.log
EXPOSE 80
STOPSIGNAL SIGQUIT
CMD ["nginx", "-g", "daemon off;"]
"""


def _require_docker() -> None:
    if shutil.which("docker") is None:
        raise BuildError("docker is not installed: run `apt-get install docker.io` and start dockerd")
    proc = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise BuildError("the Docker daemon does not answer: start it (`dockerd &`, or "
                         "`systemctl start docker`) and try again")


def _present(name: str) -> bool:
    if image_exists(name):
        print(f"==> {name} present", flush=True)
        return True
    return False


def _build(name: str, context: Path, dockerfile: str, *, network: bool = False,
           build_args: dict[str, str] | None = None) -> None:
    (context / "Dockerfile").write_text(dockerfile)
    cmd = ["docker", "build", "--label", LABEL, "-t", name]
    if not network:
        cmd += ["--network", "none"]
    for key, value in (build_args or {}).items():
        cmd += ["--build-arg", f"{key}={value}"]
    _run(cmd + [str(context)], f"docker build {name}")


def ensure_busybox(name: str = BUSYBOX_IMAGE) -> str:
    """Build busybox (FROM scratch + the host's busybox-static with its applet links) when missing."""
    _require_docker()
    if _present(name):
        return name
    if not BUSYBOX_BINARY.is_file():
        raise BuildError(f"{name} is missing and {BUSYBOX_BINARY} is not installed: run "
                         "`apt-get install busybox-static`")
    started = _step(f"building {name} from {BUSYBOX_BINARY} (Debian busybox-static, offline, a few seconds)")
    listing = subprocess.run([str(BUSYBOX_BINARY), "--list"], capture_output=True, text=True)
    applets = [a for a in listing.stdout.split() if a and "/" not in a and a != "busybox"]
    if listing.returncode != 0 or "sh" not in applets:
        raise BuildError(f"`{BUSYBOX_BINARY} --list` gave no applets: reinstall busybox-static "
                         "(`apt-get install --reinstall busybox-static`)")
    with tempfile.TemporaryDirectory(prefix="minikube-py-busybox-") as tmp:
        context = Path(tmp)
        rootfs = context / "rootfs"
        for d in ("bin", "etc", "root", "home", "var/www", "usr/bin", "usr/sbin", "sbin"):
            (rootfs / d).mkdir(parents=True, exist_ok=True)
        tmpdir = rootfs / "tmp"
        tmpdir.mkdir()
        tmpdir.chmod(0o1777)
        shutil.copy2(BUSYBOX_BINARY, rootfs / "bin" / "busybox")
        (rootfs / "bin" / "busybox").chmod(0o755)
        for applet in applets:  # relative links, as the official image has them: /bin/sh -> busybox
            (rootfs / "bin" / applet).symlink_to("busybox")
        (rootfs / "etc" / "passwd").write_text(_PASSWD)
        (rootfs / "etc" / "group").write_text(_GROUP)
        _build(name, context, _BUSYBOX_DOCKERFILE)
    print(f"    {len(applets)} applets linked in /bin", flush=True)
    _done(started)
    return name


def ensure_pause(name: str = PAUSE_IMAGE) -> str:
    """Build the pod sandbox image (FROM scratch + Debian's static catatonit, pause mode) when missing."""
    _require_docker()
    if _present(name):
        return name
    if not CATATONIT_BINARY.is_file():
        raise BuildError(f"{name} is missing and {CATATONIT_BINARY} is not installed: run "
                         "`apt-get install catatonit`")
    probe = subprocess.run(["file", "-L", str(CATATONIT_BINARY)], capture_output=True, text=True)
    if probe.returncode == 0 and "statically linked" not in probe.stdout:
        raise BuildError(f"{CATATONIT_BINARY} is not statically linked, so it cannot run FROM scratch: install "
                         f"Debian's catatonit package (static), or build a pause image and tag it {name}")
    started = _step(f"building {name} from {CATATONIT_BINARY} (Debian catatonit, pause mode, offline)")
    with tempfile.TemporaryDirectory(prefix="minikube-py-pause-") as tmp:
        context = Path(tmp)
        shutil.copy2(CATATONIT_BINARY, context / "catatonit")
        (context / "catatonit").chmod(0o755)
        _build(name, context, _PAUSE_DOCKERFILE)
    _done(started)
    return name


def ensure_nginx(name: str = NGINX_IMAGE, base: str = BASE_IMAGE) -> str:
    """Build nginx (the debootstrap base + Debian's nginx, logs on stdout/stderr) when missing."""
    _require_docker()
    if _present(name):
        return name
    build_base(base)
    started = _step(f"building {name} FROM {base} with Debian's nginx (apt inside docker build: 1-2 minutes, once)")
    with tempfile.TemporaryDirectory(prefix="minikube-py-nginx-") as tmp:
        try:
            _build(name, Path(tmp), _NGINX_DOCKERFILE, network=True, build_args={"BASE": base})
        except BuildError as exc:
            raise BuildError(f"{exc}\nthe build installs nginx with apt from the Debian mirror: check that "
                             "containers reach deb.debian.org, or build an nginx image and tag it "
                             f"{name}") from None
    _done(started)
    return name


BUILDERS: dict[str, Callable[[], str]] = {"busybox": ensure_busybox, "pause": ensure_pause, "nginx": ensure_nginx}


def ensure_all(only: list[str] | None = None) -> list[str]:
    """Build the images named in `only` (default: all three, in BUILDERS' order); return their names."""
    wanted = list(BUILDERS) if not only else only
    unknown = [w for w in wanted if w not in BUILDERS]
    if unknown:
        raise BuildError(f"unknown image {', '.join(unknown)}: choose from {', '.join(BUILDERS)}")
    return [BUILDERS[w]() for w in wanted]
