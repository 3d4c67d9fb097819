"""Images for a container about to start: the pull policy, the node's registry switch, pull backoff.

The machines minikube-py runs on often reach no registry, and its tests must never try one, so the
agent has an explicit switch (`minikube-py agent --pull`, `minikube-py start --pull`).  With
registries off (the default) a present image runs whatever its policy says (for `Always` a Warning
`PullSkipped` event says the pull was skipped) and an absent one fails as ErrImageNeverPull with a
message that says how to load it.  With registries on, pulls behave as the kubelet's image
manager: `Pulling`, then `Pulled` with the time taken, or `Failed` with ErrImagePull and then
ImagePullBackOff (10 s doubling to 300 s per pod and image); imagePullSecrets (dockerconfigjson or
dockercfg Secrets) give the registry's credentials.

Called by agents/kubelet/worker.py before each container start; unit-tested in
tests/unit/test_kubelet_images.py with a stand-in runtime.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

Obj = dict[str, Any]
SecretGetter = Callable[[str, str], Awaitable[Obj | None]]
Emit = Callable[[str, str, str], None]  # (type, reason, message)


class ImageError(Exception):
    """The container cannot start for its image: `reason` is the waiting reason (ErrImageNeverPull,
    ErrImagePull, ImagePullBackOff, InvalidImageName) and the message says why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class ImageRuntime(Protocol):
    """What the manager needs of agents/kubelet/runtime.py's DockerRuntime (blocking calls, run
    through `call` in its thread pool)."""
    async def call(self, fn: Callable[..., Any], *args: Any) -> Any: ...

    def image_user(self, image: str) -> str | None: ...  # the image's Config.User; None: not present

    def pull(self, image: str, auth: Obj | None) -> int: ...  # the image's size in bytes


def default_policy(image: str) -> str:
    """The apiserver's default: Always for `:latest` or no tag, else IfNotPresent."""
    last = image.rsplit("/", 1)[-1]
    if "@" in last:
        return "IfNotPresent"
    tag = last.rpartition(":")[2] if ":" in last else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def registry_of(image: str) -> str:
    """The registry host of an image reference (docker.io when it names none)."""
    first, sep, _ = image.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def _host(key: str) -> str:
    key = key.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if key in ("index.docker.io", "registry-1.docker.io") else key


def auth_for(image: str, secrets: list[Obj]) -> Obj | None:
    """Docker's auth_config for the image's registry from the pod's imagePullSecrets (first match)."""
    registry = registry_of(image)
    for s in secrets:
        data = s.get("data") or {}
        try:
            if ".dockerconfigjson" in data:
                auths = json.loads(base64.b64decode(data[".dockerconfigjson"])).get("auths") or {}
            elif ".dockercfg" in data:
                auths = json.loads(base64.b64decode(data[".dockercfg"]))
            else:
                continue
        except (ValueError, TypeError):
            continue
        for key, entry in auths.items():
            if _host(str(key)) != registry or not isinstance(entry, dict):
                continue
            user, password = entry.get("username"), entry.get("password")
            if not user and entry.get("auth"):
                user, _, password = base64.b64decode(entry["auth"]).decode(errors="replace").partition(":")
            out = {"username": user, "password": password, "serveraddress": str(key)}
            if entry.get("identitytoken"):
                out["identitytoken"] = entry["identitytoken"]
            return out
    return None


class ImageManager:
    def __init__(self, runtime: ImageRuntime, *, registries: bool, initial: float = 10.0, maximum: float = 300.0,
                 now: Callable[[], float] = time.time) -> None:
        self.runtime = runtime
        self.registries = registries
        self.initial = initial
        self.maximum = maximum
        self.now = now
        self._failures: dict[str, tuple[float, float]] = {}  # pod uid/image -> (backoff, failed at)

    def forget_pod(self, uid: str) -> None:
        for key in [k for k in self._failures if k.startswith(uid + "/")]:
            del self._failures[key]

    async def ensure(self, pod: Obj, container: Obj, emit: Emit, get_secret: SecretGetter) -> str | None:
        """Make the container's image present (or fail with ImageError); returns the image's user."""
        image = str(container.get("image") or "")
        if not image or image != image.strip():
            raise ImageError("InvalidImageName", f'Failed to apply default image tag "{image}": couldn\'t parse '
                                                 f"image name \"{image}\": invalid reference format")
        policy = str(container.get("imagePullPolicy") or default_policy(image))
        user = await self.runtime.call(self.runtime.image_user, image)
        present = f'Container image "{image}" already present on machine'
        if policy == "Never" or not self.registries:
            if user is not None:
                if policy == "Always":
                    emit("Warning", "PullSkipped", f'Pull policy is Always but registries are off on this node: '
                                                   f'using the image "{image}" already present (start the agent '
                                                   "with --pull to pull)")
                else:
                    emit("Normal", "Pulled", present)
                return user
            message = (f'Container image "{image}" is not present with pull policy of Never' if policy == "Never" else
                       f'Container image "{image}" is not present and registries are off on this node')
            message += f"; load it with `minikube-py image load {image}`"
            emit("Warning", "ErrImageNeverPull", message)
            raise ImageError("ErrImageNeverPull", message)
        if user is not None and policy == "IfNotPresent":
            emit("Normal", "Pulled", present)
            return user
        uid = str((pod.get("metadata") or {}).get("uid"))
        key = f"{uid}/{image}"
        failed = self._failures.get(key)
        if failed is not None and self.now() < failed[1] + failed[0]:
            emit("Normal", "BackOff", f'Back-off pulling image "{image}"')
            raise ImageError("ImagePullBackOff", f'Back-off pulling image "{image}"')
        secrets = []
        namespace = str((pod.get("metadata") or {}).get("namespace") or "default")
        for ref in (pod.get("spec") or {}).get("imagePullSecrets") or []:
            s = await get_secret(namespace, str(ref.get("name") or ""))
            if s is not None:
                secrets.append(s)
        emit("Normal", "Pulling", f'Pulling image "{image}"')
        started = self.now()
        try:
            size = await self.runtime.call(self.runtime.pull, image, auth_for(image, secrets))
        except Exception as exc:  # noqa: BLE001 - every pull failure is the pod's ErrImagePull
            previous = failed[0] if failed is not None else 0.0
            self._failures[key] = (min(previous * 2, self.maximum) if previous else self.initial, self.now())
            text = str(getattr(exc, "explanation", None) or exc) or type(exc).__name__
            emit("Warning", "Failed", f'Failed to pull image "{image}": {text}')
            raise ImageError("ErrImagePull", f'Failed to pull image "{image}": {text}') from exc
        self._failures.pop(key, None)
        took = self.now() - started
        emit("Normal", "Pulled", f'Successfully pulled image "{image}" in {took:.3f}s ({took:.3f}s including '
                                 f"waiting). Image size: {size} bytes.")
        return await self.runtime.call(self.runtime.image_user, image) or ""
