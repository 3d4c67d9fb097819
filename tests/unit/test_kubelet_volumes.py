"""The pure parts of the agent's volumes: the kubelet's layout, the files of configMap / secret /
downwardAPI / projected volumes (items, modes, optional, the kubelet's errors), the atomic writer,
the hostPath type checks and volumeMounts -> Docker binds (readOnly, subPath, subPathExpr)."""

from __future__ import annotations

import base64
import os
import socket
from pathlib import Path
from typing import Any

import pytest

from agents.kubelet import atomic_writer
from agents.kubelet.atomic_writer import FileProjection, PayloadError
from agents.kubelet.env import PodFacts
from agents.kubelet.volumes import (
    MountError,
    Prepared,
    VolumeError,
    check_host_path,
    container_mounts,
    format_map,
    hands_over_the_host,
    memory_size,
    needs_allocatable,
    payload,
    referenced_objects,
    volume_dir,
)

POD: dict[str, Any] = {
    "metadata": {"name": "web", "namespace": "shop", "uid": "u-1", "labels": {"app": "web", "tier": 'f"x'},
                 "annotations": {"b": "2", "a": "1"}},
    "spec": {"nodeName": "n1", "containers": [{"name": "main", "resources": {"limits": {"memory": "64Mi"}}}]}}


def _lookup(objects: dict[tuple[str, str, str], Any]) -> Any:
    return lambda kind, ns, name: objects.get((kind, ns, name))


def _files(projection: Any) -> dict[str, tuple[bytes, int]]:
    return {k: (v.data, v.mode) for k, v in projection.files.items()}


CM = {"data": {"a.conf": "A", "b": "B"}, "binaryData": {"bin": base64.b64encode(b"\x00\x01").decode()}}
SECRET = {"data": {"pw": base64.b64encode(b"hunter2").decode()}}


def test_volume_dirs_follow_the_kubelets_layout(tmp_path: Path) -> None:
    assert volume_dir(tmp_path, "configMap", "cfg") == tmp_path / "volumes" / "kubernetes.io~configmap" / "cfg"
    assert volume_dir(tmp_path, "emptyDir", "x").parent.name == "kubernetes.io~empty-dir"
    assert volume_dir(tmp_path, "downwardAPI", "x").parent.name == "kubernetes.io~downward-api"


def test_a_config_map_gives_every_key_with_the_default_mode() -> None:
    vol = {"name": "cfg", "configMap": {"name": "c"}}
    out = payload(vol, POD, _lookup({("ConfigMap", "shop", "c"): CM}), PodFacts())
    assert _files(out) == {"a.conf": (b"A", 0o644), "b": (b"B", 0o644), "bin": (b"\x00\x01", 0o644)}


def test_items_map_keys_to_paths_with_their_modes() -> None:
    vol = {"name": "cfg", "configMap": {"name": "c", "defaultMode": 0o600,
                                        "items": [{"key": "a.conf", "path": "etc/app.conf"},
                                                  {"key": "b", "path": "b.txt", "mode": 0o400}]}}
    out = payload(vol, POD, _lookup({("ConfigMap", "shop", "c"): CM}), PodFacts())
    assert _files(out) == {"etc/app.conf": (b"A", 0o600), "b.txt": (b"B", 0o400)}


def test_a_missing_object_or_key_is_the_kubelets_error_unless_optional() -> None:
    empty = _lookup({})
    with pytest.raises(VolumeError) as err:
        payload({"name": "cfg", "configMap": {"name": "c"}}, POD, empty, PodFacts())
    assert err.value.event_message() == 'MountVolume.SetUp failed for volume "cfg" : configmap "c" not found'
    with pytest.raises(VolumeError, match='^secret "s" not found$'):
        payload({"name": "s", "secret": {"secretName": "s"}}, POD, empty, PodFacts())
    assert payload({"name": "cfg", "configMap": {"name": "c", "optional": True}}, POD, empty, PodFacts()).files == {}
    items = [{"key": "nope", "path": "n"}]
    with pytest.raises(VolumeError, match="^configmap references non-existent config key: nope$"):
        payload({"name": "cfg", "configMap": {"name": "c", "items": items}}, POD,
                _lookup({("ConfigMap", "shop", "c"): CM}), PodFacts())
    with pytest.raises(VolumeError, match="^references non-existent secret key: nope$"):
        payload({"name": "s", "secret": {"secretName": "s", "items": items}}, POD,
                _lookup({("Secret", "shop", "s"): SECRET}), PodFacts())
    assert payload({"name": "s", "secret": {"secretName": "s", "items": items, "optional": True}}, POD,
                   _lookup({("Secret", "shop", "s"): SECRET}), PodFacts()).files == {}


def test_secret_values_are_decoded() -> None:
    out = payload({"name": "s", "secret": {"secretName": "s", "defaultMode": 0o400}}, POD,
                  _lookup({("Secret", "shop", "s"): SECRET}), PodFacts())
    assert _files(out) == {"pw": (b"hunter2", 0o400)}


def test_a_path_that_leaves_the_volume_is_refused() -> None:
    for bad in ("/abs", "../up", "a/../../b", "..hidden"):
        vol = {"name": "cfg", "configMap": {"name": "c", "items": [{"key": "b", "path": bad}]}}
        with pytest.raises(VolumeError, match="invalid path"):
            payload(vol, POD, _lookup({("ConfigMap", "shop", "c"): CM}), PodFacts())


def test_downward_api_labels_are_sorted_quoted_lines_and_resources_divided() -> None:
    assert format_map({"b": "2", "a": 'q"uote'}) == 'a="q\\"uote"\nb="2"'
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "annotations", "fieldRef": {"fieldPath": "metadata.annotations"}},
             {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}, "mode": 0o600},
             {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
             {"path": "mem", "resourceFieldRef": {"containerName": "main", "resource": "limits.memory",
                                                  "divisor": "1Mi"}}]
    vol = {"name": "info", "downwardAPI": {"items": items}}
    out = _files(payload(vol, POD, _lookup({}), PodFacts()))
    assert out == {"labels": (b'app="web"\ntier="f\\"x"', 0o644), "annotations": (b'a="1"\nb="2"', 0o644),
                   "name": (b"web", 0o600), "tier": (b'f"x', 0o644), "mem": (b"64", 0o644)}
    assert needs_allocatable({"spec": {"volumes": [vol]}}) and not needs_allocatable(POD)
    with pytest.raises(VolumeError, match="unsupported fieldRef"):
        payload({"name": "i", "downwardAPI": {"items": [{"path": "x", "fieldRef": {"fieldPath": "spec.nope"}}]}},
                POD, _lookup({}), PodFacts())


def test_projected_sources_join_and_tokens_are_skipped() -> None:
    sources = [{"configMap": {"name": "c", "items": [{"key": "b", "path": "cfg/b"}]}},
               {"secret": {"name": "s"}},
               {"downwardAPI": {"items": [{"path": "pod/ns", "fieldRef": {"fieldPath": "metadata.namespace"}}]}},
               {"serviceAccountToken": {"path": "token"}}]
    vol = {"name": "all", "projected": {"sources": sources, "defaultMode": 0o440}}
    objects = {("ConfigMap", "shop", "c"): CM, ("Secret", "shop", "s"): SECRET}
    out = payload(vol, POD, _lookup(objects), PodFacts())
    assert _files(out) == {"cfg/b": (b"B", 0o440), "pw": (b"hunter2", 0o440), "pod/ns": (b"shop", 0o440)}
    assert out.skipped == ["serviceAccountToken (token)"]
    pod = {**POD, "spec": {**POD["spec"], "volumes": [vol, {"name": "x", "secret": {"secretName": "t"}}]}}
    assert referenced_objects(pod) == {("ConfigMap", "shop", "c"), ("Secret", "shop", "s"), ("Secret", "shop", "t")}
    clash = {"name": "all", "projected": {"sources": [{"secret": {"name": "s"}}, {"secret": {"name": "s"}}]}}
    with pytest.raises(VolumeError, match="conflict on path pw"):
        payload(clash, POD, _lookup(objects), PodFacts())


def _tree(target: Path) -> dict[str, str]:
    return {p.name: os.readlink(p) for p in target.iterdir() if p.is_symlink()}


def test_the_atomic_writer_swaps_all_files_through_the_data_symlink(tmp_path: Path) -> None:
    target = tmp_path / "vol"
    assert atomic_writer.write(target, {"a": FileProjection(b"1"), "d/b": FileProjection(b"2", 0o600)}, now=0)
    links = _tree(target)
    assert links["a"] == "..data/a" and links["d"] == "..data/d" and links["..data"].startswith("..1970_01_01_")
    first = links["..data"]
    assert (target / "a").read_bytes() == b"1" and (target / "d" / "b").stat().st_mode & 0o777 == 0o600
    assert not atomic_writer.write(target, {"a": FileProjection(b"1"), "d/b": FileProjection(b"2", 0o600)})
    assert _tree(target)["..data"] == first  # unchanged: nothing written
    pinned = (target / "a").resolve()  # what a subPath mount binds
    assert atomic_writer.write(target, {"a": FileProjection(b"new"), "c": FileProjection(b"3")})
    links = _tree(target)
    assert links["..data"] != first and set(links) == {"..data", "a", "c"}  # d is gone
    assert (target / "a").read_bytes() == b"new" and not (target / first).exists()
    assert not pinned.exists()  # the old payload dir is removed: a bound file keeps its old inode
    assert sorted(p.name for p in target.iterdir() if p.name.startswith("..")) == sorted(["..data", links["..data"]])
    with pytest.raises(PayloadError):
        atomic_writer.write(target, {"../x": FileProjection(b"")})


def test_a_mode_change_alone_is_rewritten(tmp_path: Path) -> None:
    atomic_writer.write(tmp_path, {"a": FileProjection(b"1", 0o644)})
    assert atomic_writer.write(tmp_path, {"a": FileProjection(b"1", 0o400)})
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o400


def test_host_path_types_check_or_create(tmp_path: Path) -> None:
    check_host_path(str(tmp_path / "new" / "dir"), "DirectoryOrCreate")
    assert (tmp_path / "new" / "dir").is_dir()
    with pytest.raises(ValueError, match=f"^open {tmp_path}/f/file: no such file or directory$"):
        check_host_path(str(tmp_path / "f" / "file"), "FileOrCreate")  # never the parent, as the kubelet
    (tmp_path / "f").mkdir()
    check_host_path(str(tmp_path / "f" / "file"), "FileOrCreate")
    assert (tmp_path / "f" / "file").is_file() and (tmp_path / "f" / "file").stat().st_mode & 0o777 == 0o644
    check_host_path(str(tmp_path / "f" / "file"), "File")
    check_host_path(str(tmp_path / "missing"), "")  # no type: no check
    check_host_path(str(tmp_path), "Directory")
    check_host_path("/dev/null", "CharDevice")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "s.sock"))
        check_host_path(str(tmp_path / "s.sock"), "Socket")
    cases = [("missing", "Directory", "is not a directory"), ("f/file", "Directory", "is not a directory"),
             ("new", "File", "is not a file"), ("new", "FileOrCreate", "is not a file"),
             ("f/file", "DirectoryOrCreate", "is not a directory"), ("new", "Socket", "is not a socket file"),
             ("new", "CharDevice", "is not a character device"), ("new", "BlockDevice", "is not a block device")]
    for name, kind, what in cases:
        with pytest.raises(ValueError) as err:
            check_host_path(str(tmp_path / name), kind)
        assert str(err.value) == f"hostPath type check failed: {tmp_path / name} {what}"
    with pytest.raises(ValueError, match="^Dir is an invalid volume type$"):
        check_host_path(str(tmp_path), "Dir")


def test_volume_mounts_become_binds_read_only_sub_paths_and_docker_volume_mounts(tmp_path: Path) -> None:
    empty, cfg = tmp_path / "empty", tmp_path / "cfg"
    empty.mkdir()
    atomic_writer.write(cfg, {"app.conf": FileProjection(b"v1")})
    prepared = {"e": Prepared("e", host_path=str(empty)), "c": Prepared("c", host_path=str(cfg), read_only=True),
                "m": Prepared("m", docker_volume="k8s_m_u-1")}
    container = {"name": "main", "volumeMounts": [
        {"name": "e", "mountPath": "/e"}, {"name": "e", "mountPath": "/ro", "readOnly": True},
        {"name": "e", "mountPath": "/sub", "subPath": "logs/a"},
        {"name": "e", "mountPath": "/expr", "subPathExpr": "$(POD)/x"},
        {"name": "c", "mountPath": "/etc/app"}, {"name": "c", "mountPath": "/etc/app.conf", "subPath": "app.conf"},
        {"name": "m", "mountPath": "/mem"}]}
    binds, mounts = container_mounts(container, prepared, {"POD": "web"})
    real = (cfg / "app.conf").resolve()
    assert binds == [f"{empty}:/e", f"{empty}:/ro:ro", f"{empty}/logs/a:/sub", f"{empty}/web/x:/expr",
                     f"{cfg}:/etc/app:ro", f"{real}:/etc/app.conf:ro"]
    assert real.parent.name.startswith("..") and (empty / "logs" / "a").is_dir()  # created, as the kubelet does
    assert mounts == [{"Target": "/mem", "Source": "k8s_m_u-1", "Type": "volume", "ReadOnly": False}]


def test_a_sub_path_out_of_its_volume_or_of_a_memory_volume_is_refused(tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    (vol / "escape").symlink_to("/etc")
    prepared = {"v": Prepared("v", host_path=str(vol)), "m": Prepared("m", docker_volume="x")}
    for mount, what in (({"subPath": "escape"}, "not within volume path"), ({"subPath": "../x"}, "must not contain"),
                        ({"name": "m", "subPath": "a"}, "not supported"),
                        ({"name": "nope"}, "cannot find volume")):
        with pytest.raises(MountError, match=what):
            container_mounts({"name": "main", "volumeMounts": [{"name": "v", "mountPath": "/x", **mount}]},
                             prepared, {})


def test_a_memory_volume_is_sized_by_its_limit_or_the_pods_memory_limits() -> None:
    assert memory_size({"emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}, POD) == 16 * 2**20
    assert memory_size({"emptyDir": {"medium": "Memory"}}, POD) == 64 * 2**20
    assert memory_size({"emptyDir": {"medium": "Memory"}}, {"spec": {"containers": [{"name": "a"}]}}) is None


def test_host_paths_that_hand_a_pod_the_host_are_known(tmp_path: Path) -> None:
    for path in ("/", "/var/run/docker.sock", "/run/docker.sock", "/run", "/var/run", "/var/run/", "/./"):
        assert hands_over_the_host(path), path
    (tmp_path / "root").symlink_to("/")
    assert hands_over_the_host(str(tmp_path / "root"))
    for path in ("/tmp", "/var/lib/minikube-py", "/run/user", str(tmp_path)):
        assert not hands_over_the_host(path), path


def test_a_sub_path_through_a_symlink_the_pod_made_never_creates_anything_outside(tmp_path: Path) -> None:
    from agents.kubelet.volumes import sub_path_source

    vol, outside = tmp_path / "vol", tmp_path / "outside"
    vol.mkdir()
    outside.mkdir()
    (vol / "evil").symlink_to(outside)  # what a container can do inside its emptyDir
    (vol / "fine").symlink_to(vol / "real")
    (vol / "real").mkdir()
    with pytest.raises(MountError, match="not within volume path"):
        sub_path_source(Prepared("v", host_path=str(vol)), "evil/x/y")
    assert list(outside.iterdir()) == []  # nothing was created where the link points
    assert sub_path_source(Prepared("v", host_path=str(vol)), "fine/new") == str(vol / "real" / "new")
    assert (vol / "real" / "new").is_dir()
