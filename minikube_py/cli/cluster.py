"""`minikube-py start | status | stop | delete`: this host as a single-node cluster, as minikube does it.

`start` runs the master (`minikube-py server` on the embedded store) and one local agent
(`minikube-py agent`) as detached background processes, logs in <data-dir>/logs/, pids and the
cluster's identity in <data-dir>/run/, and merges a `minikube-py` cluster, user and context into the
user's kubeconfig (the first path of $KUBECONFIG, else ~/.kube/config) and makes it current, as
`minikube start` does with its profile.  `stop` ends both processes and stops (keeps) the node's
containers; `start` again resumes with the same state.  `delete` removes every container and network
carrying this cluster's ownership label, the data dir and the kubeconfig entries.  Called by
cli/main.py; tested by tests/integration/test_start.py against the real Docker engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .main import UserError

NAME = "minikube-py"
OWNER_LABEL = "io.minikube-py.owner"
# minikube status' exit code is a bit mask: 1 host, 2 cluster, 4 kubernetes not OK; 7 = all stopped.  Ours:
# 1 the agent is not running, 2 the master is not running, 4 the node is not Ready.
EXIT_AGENT, EXIT_MASTER, EXIT_NODE = 1, 2, 4


def _say(msg: str) -> None:
    print(msg, flush=True)


@dataclass
class Paths:
    data_dir: Path

    @property
    def run(self) -> Path:
        return self.data_dir / "run"

    @property
    def logs(self) -> Path:
        return self.data_dir / "logs"

    @property
    def kubeconfig(self) -> Path:
        return self.data_dir / "kubeconfig"

    @property
    def state(self) -> Path:
        return self.run / "cluster.json"

    def pid_file(self, what: str) -> Path:
        return self.run / f"{what}.pid"


def user_kubeconfig() -> Path:
    """Where kubectl looks first: the first path of $KUBECONFIG, else ~/.kube/config (as minikube writes)."""
    env = os.environ.get("KUBECONFIG", "")
    first = next((p for p in env.split(os.pathsep) if p), "")
    return Path(first).expanduser() if first else Path("~/.kube/config").expanduser()


# ---- processes ----

def _alive(pid: int) -> bool:
    """True when `pid` runs one of our commands (a recycled pid or a zombie is not ours)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    return b"minikube_py" in cmdline


def _read_pid(paths: Paths, what: str) -> int | None:
    try:
        pid = int(paths.pid_file(what).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _alive(pid) else None


def _spawn(paths: Paths, what: str, args: list[str]) -> int:
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.run.mkdir(parents=True, exist_ok=True)
    log_file = paths.logs / f"{what}.log"
    with log_file.open("ab") as log, open(os.devnull, "rb") as devnull:
        proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.main", *args], stdin=devnull, stdout=log,
                                stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"),
                                start_new_session=True, close_fds=True)
    paths.pid_file(what).write_text(f"{proc.pid}\n")
    return proc.pid


def _terminate(pid: int, timeout: float = 15.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)


def _log_tail(paths: Paths, what: str, lines: int = 15) -> str:
    try:
        text = (paths.logs / f"{what}.log").read_text(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


# ---- the apiserver ----

class Api:
    def __init__(self, kubeconfig: Path, port: int) -> None:
        # the port we chose, not the kubeconfig's: on a resume with another --port, the file is stale until
        # the server rewrites it
        config = yaml.safe_load(kubeconfig.read_text())
        self.url = f"https://127.0.0.1:{port}"
        self.token = str(config["users"][0]["user"]["token"])
        self.ctx = ssl.create_default_context(cafile=str(kubeconfig.parent / "pki" / "ca.crt"))

    def get(self, path: str) -> Any:
        req = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.token}"})
        with urllib.request.urlopen(req, context=self.ctx, timeout=3) as resp:
            body = resp.read()
        return json.loads(body) if path != "/readyz" else body.decode()

    def ready(self) -> bool:
        try:
            self.get("/readyz")
            return True
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def node_ready(self, node: str) -> bool | None:
        """True/False from the Node's Ready condition; None when the node is not registered (or no answer)."""
        try:
            obj = self.get(f"/api/v1/nodes/{node}")
        except (OSError, urllib.error.URLError, ValueError):
            return None
        for cond in (obj.get("status") or {}).get("conditions") or []:
            if cond.get("type") == "Ready":
                return bool(cond.get("status") == "True")
        return False


def _wait(what: str, check: Any, timeout: float, paths: Paths, pids: dict[str, int]) -> Any:
    started = time.monotonic()
    deadline = started + timeout
    said = 0
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        for name, pid in pids.items():
            if not _alive(pid):
                raise UserError(f"the {name} exited while waiting for {what}; its log "
                                f"({paths.logs / (name + '.log')}) ends with:\n{_log_tail(paths, name)}")
        waited = int(time.monotonic() - started)
        if waited // 10 > said:  # a long wait shows it is still alive
            said = waited // 10
            _say(f"    still waiting for {what} ({waited}s of {timeout:.0f}s)")
        time.sleep(0.2)
    raise UserError(f"timed out after {timeout:.0f}s waiting for {what}; what started still runs: see the logs in "
                    f"{paths.logs}, then `minikube-py stop` to stop it or `minikube-py delete` to remove everything")


# ---- checks ----

def _docker() -> Any:
    try:
        import docker

        client = docker.from_env(timeout=10)
        client.ping()
        return client
    except Exception as exc:  # noqa: BLE001 - any failure to reach Docker gets the same advice
        raise UserError(f"the Docker daemon does not answer ({type(exc).__name__}); start it "
                        "(`sudo systemctl start docker`, or `sudo dockerd &`) and run `minikube-py start` again") from None


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


# ---- kubeconfig merge (as minikube: cluster, user and context named after the profile) ----

def _load_config(path: Path) -> dict[str, Any]:
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
        if not isinstance(data, dict):
            raise UserError(f"{path} is not a kubeconfig (not a mapping); fix or move it and run start again")
        return data
    return {"apiVersion": "v1", "kind": "Config", "preferences": {}}


def _save_config(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    os.chmod(tmp, 0o600)
    tmp.replace(path)


def _upsert(items: list[Any], name: str, key: str, value: dict[str, Any]) -> list[Any]:
    out = [i for i in items if not (isinstance(i, dict) and i.get("name") == name)]
    out.append({"name": name, key: value})
    return out


def merge_kubeconfig(source: Path, target: Path) -> None:
    src = yaml.safe_load(source.read_text())
    data = _load_config(target)
    data["clusters"] = _upsert(data.get("clusters") or [], NAME, "cluster", src["clusters"][0]["cluster"])
    data["users"] = _upsert(data.get("users") or [], NAME, "user", src["users"][0]["user"])
    data["contexts"] = _upsert(data.get("contexts") or [], NAME, "context",
                               {"cluster": NAME, "user": NAME, "namespace": "default"})
    data["current-context"] = NAME  # minikube start makes its profile's context current
    _save_config(target, data)


def unset_current_context(target: Path) -> bool:
    """As `minikube stop`: the context stays, but is no longer current (start makes it current again)."""
    if not target.exists():
        return False
    data = _load_config(target)
    if data.get("current-context") != NAME:
        return False
    data["current-context"] = ""
    _save_config(target, data)
    return True


def unmerge_kubeconfig(target: Path) -> bool:
    if not target.exists():
        return False
    data = _load_config(target)
    changed = False
    for section in ("clusters", "users", "contexts"):
        items = data.get(section) or []
        kept = [i for i in items if not (isinstance(i, dict) and i.get("name") == NAME)]
        changed |= len(kept) != len(items)
        data[section] = kept
    if data.get("current-context") == NAME:  # as minikube delete: no current context left
        data["current-context"] = ""
        changed = True
    if changed:
        _save_config(target, data)
    return changed


# ---- state ----

def _state(paths: Paths) -> dict[str, Any]:
    try:
        data = json.loads(paths.state.read_text())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _owner_prefix(paths: Paths) -> str | None:
    cid = _state(paths).get("clusterID")
    return f"{cid}/" if cid else None


def _ours(client: Any, paths: Paths, node: str | None = None) -> tuple[list[Any], list[Any]]:
    """This cluster's containers and networks (by the ownership label; of one node when `node` is given)."""
    prefix = _owner_prefix(paths)
    if prefix is None:
        return [], []

    def mine(value: str) -> bool:
        return value.startswith(prefix) and (node is None or value == prefix + node)

    containers = [c for c in client.containers.list(all=True, filters={"label": OWNER_LABEL})
                  if mine(c.labels.get(OWNER_LABEL, ""))]
    networks = [n for n in client.networks.list(filters={"label": OWNER_LABEL})
                if mine((n.attrs.get("Labels") or {}).get(OWNER_LABEL, ""))]
    return containers, networks


# ---- commands ----

def start(data_dir: Path, *, port: int | None, node_name: str | None, node_ip: str | None, timing: str | None,
          pull: bool | None = None, streaming_port: int | None = None, timeout: float = 120.0) -> int:
    paths = Paths(data_dir.expanduser())
    state = _state(paths)
    master, agent = _read_pid(paths, "server"), _read_pid(paths, "agent")
    if master and agent:
        _say(f"minikube-py is already running (master pid {master}, port {state.get('port')}; agent pid {agent}, "
             f"node {state.get('node')}); `minikube-py status` shows more")
        return 0
    port = port or int(state.get("port") or 6443)
    node = (node_name or state.get("node") or socket.gethostname()).lower()
    timing = timing or str(state.get("timing") or "kubernetes")
    pull = bool(state.get("pull")) if pull is None else pull
    streaming_port = streaming_port or int(state.get("streamingPort") or 10250)
    resuming = paths.kubeconfig.exists()
    _say(f"minikube-py {'resuming' if resuming else 'starting'} a single-node cluster (node {node}, "
         f"port {port}, data in {paths.data_dir})")
    docker_client = _docker()
    if master is None and not _port_free(port):
        raise UserError(f"port {port} is in use on 127.0.0.1: stop what listens there, or pass --port with a free one")
    if agent is None and not _port_free(streaming_port):
        raise UserError(f"port {streaming_port} (the node agent's, for logs, exec and port-forward) is in use on "
                        "127.0.0.1: stop what listens there, or pass --streaming-port with a free one")
    cluster_cidr = str(state.get("clusterCIDR") or "")
    if not cluster_cidr:  # a new cluster: a pod range no Docker network here uses (another cluster's, ...)
        from .launch import free_cluster_cidr

        try:
            cluster_cidr = free_cluster_cidr(docker_client)
        except RuntimeError as exc:
            raise UserError(f"{exc}: remove some (`docker network ls`)") from None
    _say("==> system images (built offline when missing)")
    from ..deploy.images import BuildError
    from ..deploy.offline import ensure_all

    try:
        images = ensure_all()
    except BuildError as exc:
        raise UserError(str(exc)) from None
    pids: dict[str, int] = {}
    if master is None:
        _say("==> starting the master (apiserver, scheduler, controllers)")
        master = _spawn(paths, "server", ["server", "--data-dir", str(paths.data_dir), "--port", str(port),
                                          "--timing", timing, "--cluster-cidr", cluster_cidr])
    pids["server"] = master
    _wait("the certificates", lambda: (paths.data_dir / "pki" / "ca.crt").exists() and paths.kubeconfig.exists(),
          30, paths, pids)
    _say(f"    certificates: {paths.data_dir / 'pki'}")
    _say(f"    store: sqlite, {paths.data_dir / 'state.db'}")
    api = Api(paths.kubeconfig, port)
    _wait("the control plane to answer", api.ready, 60, paths, pids)
    _say(f"    control plane answering on {api.url} (pid {master})")
    cluster_id = str(api.get("/api/v1/namespaces/kube-system")["metadata"]["uid"])
    paths.run.mkdir(parents=True, exist_ok=True)
    paths.state.write_text(json.dumps({"port": port, "node": node, "timing": timing, "pull": pull,
                                        "streamingPort": streaming_port, "clusterCIDR": cluster_cidr,
                                        "clusterID": cluster_id}) + "\n")
    if agent is None:
        _say(f"==> starting the node agent ({node}, pods on Docker; registries "
             f"{'on: images are pulled' if pull else 'off: local images only, `minikube-py image load` adds them'})")
        agent = _spawn(paths, "agent", ["agent", "--kubeconfig", str(paths.kubeconfig), "--node-name", node,
                                        "--data-dir", str(paths.data_dir / "agent"), "--timing", timing,
                                        "--streaming-port", str(streaming_port),
                                        *(["--node-ip", node_ip] if node_ip else []), *(["--pull"] if pull else [])])
    pids["agent"] = agent
    _wait(f"node {node} to register", lambda: api.node_ready(node) is not None, timeout, paths, pids)
    _say(f"    node {node} registered")
    _wait(f"node {node} to be Ready", lambda: api.node_ready(node) is True, timeout, paths, pids)
    _say(f"    node {node} Ready")
    _say(f"    system images present: {', '.join(images)}")
    target = user_kubeconfig()
    merge_kubeconfig(paths.kubeconfig, target)
    _say(f"==> kubeconfig: {paths.kubeconfig}; context \"{NAME}\" merged into {target} and made current")
    _say("Done! Try:  kubectl get nodes     or:  mkctl get nodes")
    docker_client.close()
    return 0


def status(data_dir: Path) -> int:
    paths = Paths(data_dir.expanduser())
    state = _state(paths)
    if not paths.data_dir.exists() or not state:
        _say(f"minikube-py: no cluster in {paths.data_dir}; run `minikube-py start`")
        return EXIT_AGENT | EXIT_MASTER | EXIT_NODE
    master, agent = _read_pid(paths, "server"), _read_pid(paths, "agent")
    node = str(state.get("node"))
    code = 0
    ready: bool | None = None
    if master:
        _say(f"master: Running (pid {master}, https://127.0.0.1:{state.get('port')})")
        ready = Api(paths.kubeconfig, int(state.get("port") or 6443)).node_ready(node)
    else:
        _say("master: Stopped")
        code |= EXIT_MASTER
    _say(f"agent: Running (pid {agent})" if agent else "agent: Stopped")
    if not agent:
        code |= EXIT_AGENT
    _say(f"node {node}: {'Ready' if ready else 'NotReady' if ready is False else 'Unknown'}")
    if not ready:
        code |= EXIT_NODE
    _say(f"kubeconfig: {paths.kubeconfig} (context \"{NAME}\" in {user_kubeconfig()})")
    _say(f"logs: {paths.logs}")
    return code


def stop(data_dir: Path, *, quiet: bool = False, containers: bool = True) -> int:
    """The agent, then the master (SIGTERM, then SIGKILL), then (with `containers`) the node's containers."""
    paths = Paths(data_dir.expanduser())
    state = _state(paths)
    if not state and not paths.run.exists():
        if not quiet:
            _say(f"minikube-py: no cluster in {paths.data_dir}; nothing to stop")
        return 0
    for what, label in (("agent", "node agent"), ("server", "master")):
        pid = _read_pid(paths, what)
        if pid:
            _say(f"==> stopping the {label} (pid {pid})")
            _terminate(pid)
        with contextlib.suppress(OSError):
            paths.pid_file(what).unlink()
    node = state.get("node")
    if node and containers:
        client = _docker()
        found, _ = _ours(client, paths, str(node))
        running = [c for c in found if c.status in ("running", "restarting", "paused")]
        _say(f"==> stopping {len(running)} container(s) of node {node}")
        # the app containers (in parallel) before their pause sandboxes, whose network namespace they share
        from concurrent.futures import ThreadPoolExecutor

        def stop_one(c: Any) -> None:
            with contextlib.suppress(Exception):
                c.stop(timeout=10)

        with ThreadPoolExecutor(max_workers=8) as pool:
            for sandboxes in (False, True):
                list(pool.map(stop_one, [c for c in running
                                         if (c.labels.get("io.kubernetes.container.name") == "POD") == sandboxes]))
        client.close()
    if unset_current_context(user_kubeconfig()):
        _say(f"==> context \"{NAME}\" no longer current in {user_kubeconfig()} (start makes it current again)")
    if not quiet:
        _say("minikube-py stopped; state kept: `minikube-py start` resumes, `minikube-py delete` removes everything")
    return 0


def delete(data_dir: Path) -> int:
    paths = Paths(data_dir.expanduser())
    if paths.run.exists() or paths.data_dir.exists():
        stop(paths.data_dir, quiet=True, containers=False)  # removal kills them
        if _owner_prefix(paths):
            client = _docker()
            containers, networks = _ours(client, paths)
            _say(f"==> removing {len(containers)} container(s) and {len(networks)} network(s)")
            for c in containers:
                with contextlib.suppress(Exception):
                    c.remove(force=True)
            for n in networks:
                with contextlib.suppress(Exception):
                    n.remove()
            client.close()
        if paths.data_dir.exists():
            shutil.rmtree(paths.data_dir)
            _say(f"==> removed {paths.data_dir}")
    target = user_kubeconfig()
    if unmerge_kubeconfig(target):
        _say(f"==> removed the \"{NAME}\" cluster, user and context from {target}")
    _say("minikube-py deleted")
    return 0
