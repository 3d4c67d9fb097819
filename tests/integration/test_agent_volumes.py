"""Pod volumes on the real Docker engine: emptyDir shared by two containers (and `medium: Memory`
as a tmpfs), hostPath with its type checks (under this test's tmp dir only; Docker's socket is
refused), configMap and secret files with items, modes and subPath, an update seen in the file (and
not through a subPath), a missing ConfigMap (FailedMount, the pod waits, then starts once it exists), the downward API's
labels file following a label change, a projected volume, and a claim of the default class whose
file outlives the pod.  Deleting the pods leaves no pod dir and no Docker volume of ours.

Same cluster shape as tests/integration/test_agent.py (its fixtures, imported): a control plane with
--timing fast and one `minikube-py agent`; teardown removes only what carries this agent's label.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("docker")

from minikube_py.cli.launch import stop_server  # noqa: E402
from tests.integration import test_agent as base  # noqa: E402
from tests.integration.test_agent import OWNER, AgentCluster, _running, wait_for  # noqa: E402

# the first pod waits for the node's pod network: another cluster on this engine may hold the same
# podCIDR for a while (Docker: "Pool overlaps with other one on this address space")
RUNNING = 120.0
agent_cluster = base.agent_cluster  # the fixtures, one cluster for this module
docker_client = base.docker_client


def _apply(c: AgentCluster, *objects: dict[str, Any]) -> None:
    c.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List", "items": list(objects)}))


def _pod(name: str, volumes: list[dict[str, Any]], mounts: list[dict[str, Any]], *,
         extra_containers: list[dict[str, Any]] | None = None, command: list[str] | None = None) -> dict[str, Any]:
    main = {"name": "main", "image": "busybox:latest", "command": command or ["sleep", "3600"],
            "volumeMounts": mounts}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": name}},
            "spec": {"terminationGracePeriodSeconds": 1, "volumes": volumes,
                     "containers": [main, *(extra_containers or [])]}}


def _container(docker_client: Any, pod: Any, name: str = "main") -> Any:
    m = pod["metadata"]
    return docker_client.containers.get(f"k8s_{name}_{m['name']}_default_{m['uid']}_0")


def _sh(docker_client: Any, pod: Any, script: str, name: str = "main") -> tuple[int, str]:
    code, out = _container(docker_client, pod, name).exec_run(["sh", "-c", script])
    return int(code), out.decode(errors="replace")


def _out(docker_client: Any, pod: Any, script: str, name: str = "main") -> str:
    code, out = _sh(docker_client, pod, script, name)
    assert code == 0, f"{script!r} exited {code}: {out}"
    return out


def _pod_dir(c: AgentCluster, uid: str) -> Path:
    return c.server.data_dir / "agent" / "pods" / uid


def _our_volumes(docker_client: Any, c: AgentCluster, uid: str | None = None) -> list[Any]:
    found = [v for v in docker_client.volumes.list(filters={"label": OWNER})
             if (v.attrs.get("Labels") or {}).get(OWNER, "").endswith("/" + c.node)]
    return [v for v in found if uid is None or (v.attrs.get("Labels") or {}).get("io.kubernetes.pod.uid") == uid]


def _events(c: AgentCluster, name: str, reason: str) -> list[Any]:
    items = c.get("events", "--field-selector", f"involvedObject.name={name}")["items"]
    return [e for e in items if e["reason"] == reason]


def _delete_and_gone(c: AgentCluster, docker_client: Any, *pods: Any) -> None:
    """Delete the pods and wait until their dirs and Docker volumes are gone."""
    names = [p["metadata"]["name"] for p in pods]
    c.kubectl("delete", "pod", *names, "--timeout=60s")
    for p in pods:
        uid = p["metadata"]["uid"]
        wait_for(f"{p['metadata']['name']}'s pod dir and Docker volumes removed",
                 lambda uid=uid: not _pod_dir(c, uid).exists() and not _our_volumes(docker_client, c, uid), timeout=30)


@pytest.fixture(autouse=True, scope="module")
def _no_volumes_left(agent_cluster: AgentCluster, docker_client: Any) -> Any:
    yield
    if _our_volumes(docker_client, agent_cluster):  # a failed test's leftovers (the last test asserts there are none)
        stop_server(agent_cluster.agent)  # nothing recreates them while they go
        base._cleanup(docker_client, agent_cluster.node)  # the containers that use them first
        for v in _our_volumes(docker_client, agent_cluster):
            v.remove(force=True)


def test_an_empty_dir_is_shared_by_the_pods_containers_and_removed_with_the_pod(
        agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    writer = {"name": "writer", "image": "busybox:latest", "volumeMounts": [{"name": "scratch", "mountPath": "/out"}],
              "command": ["sh", "-c", "mkdir -p /out/shared && echo by-name > /out/shared/f && "
                                      "echo from-writer > /out/note && sleep 3600"]}
    body = _pod("shared", [{"name": "scratch", "emptyDir": {}}],
                [{"name": "scratch", "mountPath": "/in"},
                 {"name": "scratch", "mountPath": "/mine", "subPathExpr": "$(POD_NAME)"}], extra_containers=[writer])
    body["spec"]["containers"][0]["env"] = [{"name": "POD_NAME", "valueFrom": {"fieldRef": {
        "fieldPath": "metadata.name"}}}]
    _apply(c, body)
    pod = wait_for("shared Running", lambda: _running(c, "shared"), timeout=RUNNING)
    uid = pod["metadata"]["uid"]
    wait_for("the writer's file seen by main", lambda: _sh(docker_client, pod, "cat /in/note")[1].strip() ==
             "from-writer", timeout=20)
    wait_for("the subPathExpr dir", lambda: _sh(docker_client, pod, "cat /mine/f")[1] == "by-name\n", timeout=20)
    host = _pod_dir(c, uid) / "volumes" / "kubernetes.io~empty-dir" / "scratch"
    assert (host / "note").read_text().strip() == "from-writer"
    assert _out(docker_client, pod, "grep ' /in ' /proc/mounts").split()[2] != "tmpfs"
    _delete_and_gone(c, docker_client, pod)


def test_a_memory_empty_dir_is_a_tmpfs_shared_by_the_containers_and_its_docker_volume_goes_with_the_pod(
        agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    writer = {"name": "writer", "image": "busybox:latest", "volumeMounts": [{"name": "mem", "mountPath": "/out"}],
              "command": ["sh", "-c", "echo in-memory > /out/note && sleep 3600"]}
    _apply(c, _pod("memdir", [{"name": "mem", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}}],
                   [{"name": "mem", "mountPath": "/in"}], extra_containers=[writer]))
    pod = wait_for("memdir Running", lambda: _running(c, "memdir"), timeout=RUNNING)
    uid = pod["metadata"]["uid"]
    fields = _out(docker_client, pod, "grep ' /in ' /proc/mounts").split()
    assert fields[2] == "tmpfs" and "size=16384k" in fields[3], fields
    wait_for("the writer's file seen by main", lambda: _sh(docker_client, pod, "cat /in/note")[1].strip() ==
             "in-memory", timeout=20)
    volumes = _our_volumes(docker_client, c, uid)
    assert [v.attrs["Options"]["type"] for v in volumes] == ["tmpfs"]
    # the files outlive the restart of every app container, as an emptyDir's do (the sandbox holds the tmpfs)
    _out(docker_client, pod, "echo kept > /in/marker")
    _container(docker_client, pod, "writer").kill()
    _container(docker_client, pod).kill()

    def restarted() -> Any:
        statuses = {s["name"]: s for s in c.get("pod", "memdir")["status"]["containerStatuses"]}
        return all(s["restartCount"] >= 1 and "running" in s["state"] for s in statuses.values()) and statuses
    main = wait_for("both containers restarted", restarted, timeout=60)["main"]
    again = docker_client.containers.get(main["containerID"].removeprefix("docker://"))
    assert again.exec_run(["cat", "/in/marker"]).output == b"kept\n"
    _delete_and_gone(c, docker_client, pod)


def test_host_path_types_are_checked_or_create_types_create_and_the_docker_socket_is_refused(agent_cluster: AgentCluster, docker_client: Any,
                                                                tmp_path: Path) -> None:
    c = agent_cluster
    (tmp_path / "existing").mkdir()
    (tmp_path / "existing" / "hello").write_text("from-host\n")
    (tmp_path / "a-file").write_text("file-content\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "app.sock"))
    volumes = [{"name": "dir", "hostPath": {"path": str(tmp_path / "existing"), "type": "Directory"}},
               {"name": "made", "hostPath": {"path": str(tmp_path / "made" / "here"), "type": "DirectoryOrCreate"}},
               {"name": "file", "hostPath": {"path": str(tmp_path / "a-file"), "type": "File"}},
               {"name": "newfile", "hostPath": {"path": str(tmp_path / "new-file"), "type": "FileOrCreate"}},
               {"name": "sock", "hostPath": {"path": str(tmp_path / "app.sock"), "type": "Socket"}},
               {"name": "untyped", "hostPath": {"path": str(tmp_path / "existing")}}]
    mounts = [{"name": "dir", "mountPath": "/dir", "readOnly": True}, {"name": "made", "mountPath": "/made"},
              {"name": "file", "mountPath": "/etc/a-file"}, {"name": "newfile", "mountPath": "/new-file"},
              {"name": "sock", "mountPath": "/run/app.sock"}, {"name": "untyped", "mountPath": "/untyped"}]
    bad = [{"name": "notdir", "hostPath": {"path": str(tmp_path / "a-file"), "type": "Directory"}}]
    host = [{"name": "docker", "hostPath": {"path": "/var/run/docker.sock"}}]
    _apply(c, _pod("hostpaths", volumes, mounts),
           _pod("badhostpath", bad, [{"name": "notdir", "mountPath": "/x"}]),
           _pod("dockersock", host, [{"name": "docker", "mountPath": "/var/run/docker.sock"}]))
    try:
        pod = wait_for("hostpaths Running", lambda: _running(c, "hostpaths"), timeout=RUNNING)
        assert (tmp_path / "made" / "here").is_dir() and (tmp_path / "new-file").is_file()
        assert _out(docker_client, pod, "cat /dir/hello /etc/a-file /untyped/hello") == \
            "from-host\nfile-content\nfrom-host\n"
        assert _sh(docker_client, pod, "touch /dir/nope")[0] != 0  # readOnly
        _out(docker_client, pod, "echo from-pod > /made/x && test -S /run/app.sock")
        assert (tmp_path / "made" / "here" / "x").read_text() == "from-pod\n"
        event = wait_for("a FailedMount event", lambda: _events(c, "badhostpath", "FailedMount"), timeout=30)[0]
        assert event["type"] == "Warning" and event["message"] == \
            f'MountVolume.SetUp failed for volume "notdir" : hostPath type check failed: ' \
            f'{tmp_path / "a-file"} is not a directory'
        status = c.get("pod", "badhostpath")["status"]
        assert status["phase"] == "Pending"
        assert status["containerStatuses"][0]["state"]["waiting"]["reason"] == "ContainerCreating"
        # refused before any volume is set up (the node's host-safety rule): Blocked, one Forbidden event
        refused = wait_for("the socket refused", lambda: _events(c, "dockersock", "Forbidden"), timeout=30)[0]
        assert refused["type"] == "Warning" and refused["message"].startswith(
            'volume "docker" mounts the host\'s /var/run/docker.sock, which this node refuses')
        assert not _events(c, "dockersock", "FailedMount")
        _delete_and_gone(c, docker_client, pod, c.get("pod", "badhostpath"), c.get("pod", "dockersock"))
    finally:
        sock.close()
    assert (tmp_path / "existing" / "hello").exists()  # a hostPath is never removed with the pod


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_config_map_and_secret_files_with_items_modes_and_sub_path_and_an_update_within_a_minute(
        agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-files"},
          "data": {"app.conf": "version=1\n", "other": "o1", "skipped": "s"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "web-secret"},
              "data": {"password": _b64("hunter2"), "token": _b64("t0k")}}
    volumes = [{"name": "conf", "configMap": {"name": "web-files", "defaultMode": 0o640,
                                              "items": [{"key": "app.conf", "path": "app.conf"},
                                                        {"key": "other", "path": "sub/other.txt", "mode": 0o600}]}},
               {"name": "whole", "configMap": {"name": "web-files"}},
               {"name": "creds", "secret": {"secretName": "web-secret", "defaultMode": 0o400}},
               {"name": "gone", "configMap": {"name": "never-made", "optional": True}}]
    mounts = [{"name": "conf", "mountPath": "/etc/web"}, {"name": "whole", "mountPath": "/etc/whole"},
              {"name": "whole", "mountPath": "/etc/pinned.conf", "subPath": "app.conf"},
              {"name": "creds", "mountPath": "/etc/creds"}, {"name": "gone", "mountPath": "/etc/gone"}]
    _apply(c, cm, secret, _pod("files", volumes, mounts))
    pod = wait_for("files Running", lambda: _running(c, "files"), timeout=RUNNING)
    assert _out(docker_client, pod, "cat /etc/web/app.conf /etc/web/sub/other.txt /etc/creds/password") == \
        "version=1\no1hunter2"
    assert _out(docker_client, pod, "ls /etc/web; ls /etc/whole | sort; ls /etc/gone | wc -l").split() == \
        ["app.conf", "sub", "app.conf", "other", "skipped", "0"]
    modes = _out(docker_client, pod, "stat -L -c '%a %n' /etc/web/app.conf /etc/web/sub/other.txt "
                                     "/etc/whole/other /etc/creds/token").split("\n")
    assert modes[:4] == ["640 /etc/web/app.conf", "600 /etc/web/sub/other.txt", "644 /etc/whole/other",
                         "400 /etc/creds/token"]
    assert _sh(docker_client, pod, "echo x > /etc/whole/new")[0] != 0  # the API's files are mounted read-only
    # the kubelet's layout: ..data -> a timestamped dir, one symlink per key
    assert _out(docker_client, pod, "readlink /etc/whole/app.conf").strip() == "..data/app.conf"
    assert _out(docker_client, pod, "readlink /etc/whole/..data").startswith("..20")
    # secret files are never on a world-readable path on the host
    host = _pod_dir(c, pod["metadata"]["uid"]) / "volumes"
    assert host.stat().st_mode & 0o777 == 0o700
    assert (host / "kubernetes.io~secret" / "creds" / "password").read_text() == "hunter2"

    cm["data"] = {"app.conf": "version=2\n", "other": "o2"}
    _apply(c, cm)
    wait_for("the new file content", lambda: _sh(docker_client, pod, "cat /etc/whole/app.conf")[1] == "version=2\n",
             timeout=60)
    assert _out(docker_client, pod, "cat /etc/web/app.conf; ls /etc/whole | sort").split() == \
        ["version=2", "app.conf", "other"]  # all files swapped at once, the removed key gone
    assert _out(docker_client, pod, "cat /etc/pinned.conf") == "version=1\n"  # a subPath mount never updates
    _delete_and_gone(c, docker_client, pod)


def test_a_missing_config_map_is_failed_mount_and_the_pod_starts_once_it_exists(
        agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    _apply(c, _pod("latecm", [{"name": "cfg", "configMap": {"name": "late-files"}}],
                   [{"name": "cfg", "mountPath": "/cfg"}]),
           _pod("nokeyvol", [{"name": "cfg", "configMap": {"name": "web-keys", "items": [{"key": "k", "path": "k"}]}}],
                [{"name": "cfg", "mountPath": "/cfg"}]),
           {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "web-keys"}, "data": {"a": "1"}},
           _pod("nosecretvol", [{"name": "s", "secret": {"secretName": "late-secret"}}],
                [{"name": "s", "mountPath": "/s"}]),
           _pod("fine", [], []))
    event = wait_for("a FailedMount event", lambda: _events(c, "latecm", "FailedMount"), timeout=30)[0]
    assert event["type"] == "Warning"
    assert event["message"] == 'MountVolume.SetUp failed for volume "cfg" : configmap "late-files" not found'
    assert wait_for("nokeyvol's FailedMount", lambda: _events(c, "nokeyvol", "FailedMount"))[0]["message"] == \
        'MountVolume.SetUp failed for volume "cfg" : configmap references non-existent config key: k'
    assert wait_for("nosecretvol's FailedMount", lambda: _events(c, "nosecretvol", "FailedMount"))[0]["message"] == \
        'MountVolume.SetUp failed for volume "s" : secret "late-secret" not found'
    wait_for("the other pod Running", lambda: _running(c, "fine"), timeout=RUNNING)
    status = c.get("pod", "latecm")["status"]
    assert status["phase"] == "Pending"
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "ContainerCreating"}}
    _apply(c, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late-files"}, "data": {"x": "late"}})
    pod = wait_for("latecm Running once its ConfigMap exists", lambda: _running(c, "latecm"), timeout=RUNNING)
    assert _out(docker_client, pod, "cat /cfg/x") == "late"
    _delete_and_gone(c, docker_client, pod, c.get("pod", "nokeyvol"), c.get("pod", "nosecretvol"),
                     c.get("pod", "fine"))


def test_downward_api_files_follow_the_pods_labels(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    items = [{"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}},
             {"path": "name", "fieldRef": {"fieldPath": "metadata.name"}},
             {"path": "ns", "fieldRef": {"fieldPath": "metadata.namespace"}},
             {"path": "uid", "fieldRef": {"fieldPath": "metadata.uid"}},
             {"path": "tier", "fieldRef": {"fieldPath": "metadata.labels['tier']"}},
             {"path": "mem", "resourceFieldRef": {"containerName": "main", "resource": "limits.memory",
                                                  "divisor": "1Mi"}, "mode": 0o600}]
    body = _pod("downward", [{"name": "info", "downwardAPI": {"items": items}}],
                [{"name": "info", "mountPath": "/info"}])
    body["metadata"]["labels"]["tier"] = "front"
    body["spec"]["containers"][0]["resources"] = {"limits": {"memory": "32Mi"}}
    _apply(c, body)
    pod = wait_for("downward Running", lambda: _running(c, "downward"), timeout=RUNNING)
    uid = pod["metadata"]["uid"]
    assert _out(docker_client, pod, "cat /info/labels") == 'app="downward"\ntier="front"'
    assert _out(docker_client, pod, "cat /info/name; echo; cat /info/ns; echo; cat /info/uid; echo; "
                                    "cat /info/tier; echo; cat /info/mem").split() == \
        ["downward", "default", uid, "front", "32"]
    assert _out(docker_client, pod, "stat -L -c %a /info/mem").strip() == "600"
    c.kubectl("label", "pod", "downward", "tier=back", "--overwrite")
    wait_for("the labels file updated", lambda: _sh(docker_client, pod, "cat /info/labels")[1] ==
             'app="downward"\ntier="back"', timeout=60)
    _delete_and_gone(c, docker_client, pod)


def test_a_projected_volume_joins_config_map_secret_and_downward_api(agent_cluster: AgentCluster,
                                                                     docker_client: Any) -> None:
    c = agent_cluster
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "proj-cm"}, "data": {"mode": "blue"}}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "proj-secret"}, "data": {"key": _b64("k1")}}
    sources = [{"configMap": {"name": "proj-cm", "items": [{"key": "mode", "path": "cfg/mode"}]}},
               {"secret": {"name": "proj-secret", "items": [{"key": "key", "path": "secret/key", "mode": 0o400}]}},
               {"downwardAPI": {"items": [{"path": "pod/name", "fieldRef": {"fieldPath": "metadata.name"}}]}},
               {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]
    _apply(c, cm, secret, _pod("projected", [{"name": "all", "projected": {"sources": sources, "defaultMode": 0o440}}],
                               [{"name": "all", "mountPath": "/all"}]))
    pod = wait_for("projected Running", lambda: _running(c, "projected"), timeout=RUNNING)
    assert _out(docker_client, pod, "cat /all/cfg/mode /all/secret/key /all/pod/name") == "bluek1projected"
    assert _out(docker_client, pod, "stat -L -c %a /all/cfg/mode /all/secret/key").split() == ["440", "400"]
    assert _sh(docker_client, pod, "test -e /all/token")[0] != 0
    skipped = wait_for("an event for the skipped token", lambda: _events(c, "projected", "VolumeSourceSkipped"))
    assert "serviceAccountToken (token)" in skipped[0]["message"]
    secret["data"] = {"key": _b64("k2")}
    _apply(c, secret)
    wait_for("the secret file updated", lambda: _sh(docker_client, pod, "cat /all/secret/key")[1] == "k2", timeout=60)
    _delete_and_gone(c, docker_client, pod)


def test_a_claim_of_the_default_class_keeps_its_files_for_the_next_pod(agent_cluster: AgentCluster,
                                                                       docker_client: Any) -> None:
    c = agent_cluster
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
             "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}
    volumes = [{"name": "data", "persistentVolumeClaim": {"claimName": "data"}}]
    _apply(c, claim, _pod("writer", volumes, [{"name": "data", "mountPath": "/data"}],
                          command=["sh", "-c", "echo kept > /data/file && sleep 3600"]))
    pod = wait_for("writer Running", lambda: _running(c, "writer"), timeout=RUNNING)
    wait_for("the file written", lambda: _sh(docker_client, pod, "cat /data/file")[1] == "kept\n", timeout=20)
    pv = c.get("pvc", "data")["spec"]["volumeName"]
    local = c.server.data_dir / "agent" / "local-path"
    dirs = [p for p in local.iterdir() if p.name.startswith(pv + "_")]
    assert len(dirs) == 1 and (dirs[0] / "file").read_text() == "kept\n"
    _delete_and_gone(c, docker_client, pod)
    assert (dirs[0] / "file").read_text() == "kept\n"  # the claim's data outlives the pod

    _apply(c, _pod("reader", volumes, [{"name": "data", "mountPath": "/data", "readOnly": True}]))
    pod = wait_for("reader Running", lambda: _running(c, "reader"), timeout=RUNNING)
    assert _out(docker_client, pod, "cat /data/file") == "kept\n"
    assert _sh(docker_client, pod, "touch /data/other")[0] != 0  # readOnly
    _delete_and_gone(c, docker_client, pod)
    c.kubectl("delete", "pvc", "data", "--wait=false")
    wait_for("the deleted volume's directory removed", lambda: not dirs[0].exists(), timeout=60)


def test_a_claim_that_is_not_bound_is_failed_mount_and_the_pod_waits(agent_cluster: AgentCluster) -> None:
    c = agent_cluster
    claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "unbindable"},
             "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": "no-such-class",
                      "resources": {"requests": {"storage": "1Gi"}}}}
    body = _pod("waitsclaim", [{"name": "d", "persistentVolumeClaim": {"claimName": "unbindable"}}],
                [{"name": "d", "mountPath": "/d"}])
    body["spec"]["nodeName"] = c.node  # bound by hand: the scheduler would hold it back
    _apply(c, claim, body)
    event = wait_for("a FailedMount event", lambda: _events(c, "waitsclaim", "FailedMount"), timeout=30)[0]
    assert event["type"] == "Warning" and event["message"] == (
        "Unable to attach or mount volumes: unmounted volumes=[d], unattached volumes=[], failed to process "
        "volumes=[d]: error processing PVC default/unbindable: PVC is not bound")
    assert c.get("pod", "waitsclaim")["status"]["phase"] == "Pending"
    c.kubectl("delete", "pod", "waitsclaim", "--wait=false")
    c.kubectl("delete", "pvc", "unbindable", "--wait=false")


def test_after_an_agent_restart_the_files_still_follow_their_config_map_and_nothing_restarts(
        agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "survivor"}, "data": {"v": "1"}}
    _apply(c, cm, _pod("survivor", [{"name": "cfg", "configMap": {"name": "survivor"}},
                                    {"name": "mem", "emptyDir": {"medium": "Memory"}}],
                       [{"name": "cfg", "mountPath": "/cfg"}, {"name": "mem", "mountPath": "/mem"}]))
    pod = wait_for("survivor Running", lambda: _running(c, "survivor"), timeout=RUNNING)
    _out(docker_client, pod, "echo kept > /mem/f")
    started = _container(docker_client, pod).attrs["State"]["StartedAt"]
    os.killpg(c.agent.pid, signal.SIGKILL)
    c.agent.wait(timeout=10)
    c.start_agent()
    wait_for("the restarted agent", lambda: c.agent.poll() is None and c.log_file.read_text(
        errors="replace").count(f"node {c.node} registered (") >= 2)
    cm["data"] = {"v": "2"}
    _apply(c, cm)
    wait_for("the file updated by the new agent", lambda: _sh(docker_client, pod, "cat /cfg/v")[1] == "2", timeout=60)
    assert _out(docker_client, pod, "cat /mem/f") == "kept\n"
    assert _container(docker_client, pod).attrs["State"]["StartedAt"] == started  # adopted, not restarted
    _delete_and_gone(c, docker_client, pod)


def test_no_pod_dir_and_no_docker_volume_of_ours_is_left(agent_cluster: AgentCluster, docker_client: Any) -> None:
    c = agent_cluster
    left = {p["metadata"]["uid"] for p in c.get("pods")["items"]}
    pods = c.server.data_dir / "agent" / "pods"
    wait_for("only live pods have a dir", lambda: not ({p.name for p in pods.iterdir()} - left)
             if pods.exists() else True, timeout=60)
    assert [v.name for v in _our_volumes(docker_client, c) if
            (v.attrs.get("Labels") or {}).get("io.kubernetes.pod.uid") not in left] == []
    assert os.path.isdir(c.server.data_dir / "agent")
