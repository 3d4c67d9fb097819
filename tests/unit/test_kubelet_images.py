"""The image step before a container starts (agents/kubelet/images.py): pull policy, the registry
switch, pull backoff and imagePullSecrets, with a stand-in for Docker (pure logic)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from agents.kubelet.images import ImageError, ImageManager, auth_for, default_policy, registry_of


class Images:
    """What DockerRuntime does for images: a set of present images and pulls that fail or succeed."""

    def __init__(self, present: dict[str, str], pullable: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.present = dict(present)
        self.pullable = set(pullable)
        self.pulls: list[tuple[str, Any]] = []

    async def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return fn(*args)

    def image_user(self, image: str) -> str | None:
        return self.present.get(image)

    def pull(self, image: str, auth: Any) -> int:
        self.pulls.append((image, auth))
        if image not in self.pullable:
            raise OSError("dial tcp 127.0.0.1:1: connect: connection refused")
        self.present[image] = "101"
        return 1234


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def _pod(image: str, policy: str | None = None, secrets: tuple[str, ...] = ()) -> tuple[dict[str, Any], dict[str, Any]]:
    c: dict[str, Any] = {"name": "main", "image": image}
    if policy:
        c["imagePullPolicy"] = policy
    pod = {"metadata": {"name": "p", "namespace": "ns", "uid": "u1"},
           "spec": {"containers": [c], "imagePullSecrets": [{"name": s} for s in secrets]}}
    return pod, c


async def _no_secret(namespace: str, name: str) -> dict[str, Any] | None:
    return None


def _ensure(m: ImageManager, image: str, policy: str | None = None) -> tuple[str | None, list[tuple[str, str, str]]]:
    events: list[tuple[str, str, str]] = []
    pod, c = _pod(image, policy)
    user = asyncio.run(m.ensure(pod, c, lambda *e: events.append(e), _no_secret))
    return user, events


def test_policy_defaults_and_registries() -> None:
    assert [default_policy(i) for i in ("nginx", "nginx:latest", "nginx:1.27", "reg:5000/x", "x@sha256:ab")] == [
        "Always", "Always", "IfNotPresent", "Always", "IfNotPresent"]
    assert [registry_of(i) for i in ("nginx", "library/nginx", "reg.io/a/b:1", "localhost/x", "127.0.0.1:1/x")] == [
        "docker.io", "docker.io", "reg.io", "localhost", "127.0.0.1:1"]


def test_with_registries_off_a_present_image_runs_whatever_its_policy() -> None:
    images = Images({"busybox:latest": "", "nginx:1.27": "101"})
    m = ImageManager(images, registries=False)
    user, events = _ensure(m, "busybox:latest")
    assert user == "" and events[0][:2] == ("Warning", "PullSkipped") and "--pull" in events[0][2]
    user, events = _ensure(m, "nginx:1.27")
    assert user == "101" and events == [("Normal", "Pulled", 'Container image "nginx:1.27" already present on machine')]
    assert images.pulls == []


def test_with_registries_off_an_absent_image_says_how_to_load_it_and_nothing_is_pulled() -> None:
    images = Images({})
    m = ImageManager(images, registries=False)
    with pytest.raises(ImageError) as err:
        _ensure(m, "absent:1")
    assert err.value.reason == "ErrImageNeverPull"
    assert "registries are off" in err.value.message and "minikube-py image load absent:1" in err.value.message
    with pytest.raises(ImageError) as err:
        _ensure(ImageManager(images, registries=True), "absent:1", "Never")
    assert err.value.message.startswith('Container image "absent:1" is not present with pull policy of Never')
    assert images.pulls == []


def test_a_failed_pull_is_err_image_pull_then_image_pull_backoff_doubling() -> None:
    images = Images({})
    clock = Clock()
    m = ImageManager(images, registries=True, initial=10.0, maximum=40.0, now=clock)
    events: list[tuple[str, str, str]] = []
    pod, c = _pod("127.0.0.1:1/x")

    def ensure() -> str:
        try:
            asyncio.run(m.ensure(pod, c, lambda *e: events.append(e), _no_secret))
        except ImageError as exc:
            return exc.reason
        return "ok"

    assert ensure() == "ErrImagePull"
    assert events[0] == ("Normal", "Pulling", 'Pulling image "127.0.0.1:1/x"')
    assert events[1][:2] == ("Warning", "Failed") and "connection refused" in events[1][2]
    clock.t += 5
    assert ensure() == "ImagePullBackOff" and events[-1] == ("Normal", "BackOff", 'Back-off pulling image "127.0.0.1:1/x"')
    clock.t += 6
    assert ensure() == "ErrImagePull" and len(images.pulls) == 2  # 10 s passed: tried again, now 20 s
    clock.t += 15
    assert ensure() == "ImagePullBackOff"
    clock.t += 6
    assert ensure() == "ErrImagePull" and len(images.pulls) == 3
    images.pullable.add("127.0.0.1:1/x")
    clock.t += 41
    assert ensure() == "ok" and events[-1][1] == "Pulled" and "Image size: 1234 bytes." in events[-1][2]


def test_if_not_present_skips_the_pull_and_always_pulls_with_registries_on() -> None:
    images = Images({"app:1": "0", "app:latest": "0"}, pullable={"app:latest"})
    m = ImageManager(images, registries=True)
    assert _ensure(m, "app:1")[1][0][1] == "Pulled" and images.pulls == []
    _ensure(m, "app:latest")
    assert images.pulls == [("app:latest", None)]


def test_image_pull_secrets_give_the_registrys_credentials() -> None:
    config = {"auths": {"https://reg.example:5000": {"auth": base64.b64encode(b"me:pw").decode()},
                        "https://index.docker.io/v1/": {"username": "hub", "password": "h"}}}
    secret = {"type": "kubernetes.io/dockerconfigjson",
              "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}}
    assert auth_for("reg.example:5000/app:1", [secret]) == {"username": "me", "password": "pw",
                                                             "serveraddress": "https://reg.example:5000"}
    assert auth_for("nginx", [secret])["username"] == "hub"  # type: ignore[index]
    assert auth_for("other.io/x", [secret]) is None
    assert auth_for("nginx", [{"data": {".dockerconfigjson": "not base64 json"}}]) is None

    images = Images({}, pullable={"reg.example:5000/app:1"})
    m = ImageManager(images, registries=True)
    pod, c = _pod("reg.example:5000/app:1", secrets=("regcred", "missing"))

    async def get(namespace: str, name: str) -> dict[str, Any] | None:
        return secret if (namespace, name) == ("ns", "regcred") else None

    asyncio.run(m.ensure(pod, c, lambda *e: None, get))
    assert images.pulls == [("reg.example:5000/app:1", {"username": "me", "password": "pw",
                                                         "serveraddress": "https://reg.example:5000"})]
