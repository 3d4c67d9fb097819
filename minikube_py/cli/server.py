"""`minikube-py server`: open the store, make credentials, serve the apiserver over HTTPS.

Called by cli/main.py.  Prints progress while starting and one line per problem.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import signal
import ssl
import sys
from pathlib import Path

from aiohttp import web

from ..api.ranges import CLUSTER_CIDR
from ..apiserver.app import make_app
from ..apiserver.auth import Credentials, default_hosts, ensure_credentials, secure_data_dir
from ..apiserver.httpserver import ApiRunner
from ..client.aio import ApiClient
from ..client.kubeconfig import Connection
from ..store import open_store
from ..store.base import Store, StoreError
from .main import UserError

SHUTDOWN_TIMEOUT = 3.0  # seconds in-flight requests get to finish after SIGTERM


def _progress(msg: str) -> None:
    print(f"  {msg}", file=sys.stderr, flush=True)


def _check_store_url(url: str) -> None:
    if url == "sqlite":
        return
    if not url.startswith("etcd://") or not url[len("etcd://"):]:
        raise UserError(f"--store {url!r} is not understood; use 'sqlite' or etcd://HOST:PORT[,HOST:PORT...]")
    for endpoint in url[len("etcd://"):].split(","):
        host, _, port = endpoint.rpartition(":")
        if not host or not port.isdigit():
            raise UserError(f"--store: {endpoint!r} is not HOST:PORT; example: etcd://127.0.0.1:2379")


async def run_control_plane(client: ApiClient, *, profile: str = "binpack", scheduler: bool = True,
                            controllers: bool = True, timing: str = "kubernetes",
                            cluster_cidr: str = CLUSTER_CIDR) -> None:
    """The scheduler and the controller manager over one set of informers (used in-process by
    `server`, and alone by `scheduler` / `controller-manager`)."""
    from ..api.timing import TIMINGS
    from ..client.informer import InformerFactory
    from ..controllers.manager import ControllerManager
    from ..scheduler.runner import build_scheduler

    informers = InformerFactory(client, resync=TIMINGS[timing].resync)
    parts = []
    if controllers:
        manager = ControllerManager(client, informers, timing=timing, cluster_cidr=cluster_cidr)
        parts.append(manager.run())
    if scheduler:
        parts.append(build_scheduler(client, informers, profile=profile, timing=timing).run_after_sync(informers))
    informers.start()
    try:
        await asyncio.gather(*parts)
    finally:
        await informers.stop()


async def _serve(*, data_dir: Path, bind: str, port: int, store_url: str, creds: Credentials,
                 profile: str = "binpack", control_plane: bool = True, timing: str = "kubernetes",
                 min_request_timeout: float = 1800.0, compaction_interval: float = 300.0,
                 cluster_cidr: str = CLUSTER_CIDR) -> None:
    _progress(f"opening the store ({store_url}) ...")
    store: Store = open_store(store_url, data_dir, compaction_interval=compaction_interval)
    try:
        await asyncio.wait_for(store.current_revision(), timeout=10)
    except (StoreError, OSError, TimeoutError) as exc:
        await store.close()
        hint = "is etcd running there?" if store_url != "sqlite" else f"check that {data_dir} is writable"
        raise UserError(f"cannot open the store {store_url}: {exc or type(exc).__name__}; {hint}") from None
    host_for_url = _host_for_url(bind)
    server_url = f"https://{host_for_url}:{port}"
    from ..api.timing import TIMINGS

    app = make_app(store, tokens=creds.tokens, server_address=f"{host_for_url}:{port}",
                   default_toleration_seconds=TIMINGS[timing].eviction_toleration,
                   min_request_timeout=min_request_timeout, kubelet_client=_kubelet_client(creds))
    # At shutdown the app's on_shutdown ends every watch at once; then aiohttp waits at most
    # SHUTDOWN_TIMEOUT for the other handlers (its default, 60 s twice over, kept SIGTERM for minutes).
    runner = ApiRunner(app, access_log=None, handle_signals=False, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, bind, port, ssl_context=creds.ssl_context(), backlog=1024)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        await store.close()
        if exc.errno == errno.EADDRINUSE:
            raise UserError(f"cannot listen on {bind}:{port}: the address is in use; stop the other server or pass "
                            "--port") from None
        raise UserError(f"cannot listen on {bind}:{port}: {exc.strerror or exc}") from None
    print(f"minikube-py apiserver is serving on {server_url} (store: {store_url})", file=sys.stderr, flush=True)
    print(f"  kubeconfig: {creds.kubeconfig}   try: kubectl --kubeconfig {creds.kubeconfig} get ns",
          file=sys.stderr, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    client: ApiClient | None = None
    control: asyncio.Task[None] | None = None
    if control_plane:  # the scheduler and controllers talk to this apiserver over HTTPS like any client
        client = ApiClient(Connection(server=server_url, token=creds.admin_token, ca_pem=creds.ca_cert.read_bytes()),
                           user_agent="minikube-py/control-plane")
        control = asyncio.create_task(run_control_plane(client, profile=profile, timing=timing,
                                                         cluster_cidr=cluster_cidr), name="control-plane")
        _progress(f"scheduler ({profile}) and controllers started (timing: {timing})")
    try:
        await stop.wait()
    finally:
        _progress("shutting down ...")
        if control is not None:
            control.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await control
        if client is not None:
            await client.close()
        await runner.cleanup()
        await store.close()


def _kubelet_client(creds: Credentials) -> ssl.SSLContext | None:
    if creds.kubelet_client_cert is None or creds.kubelet_client_key is None:
        return None
    from ..apiserver.streaming import kubelet_client_context

    return kubelet_client_context(creds.kubelet_client_cert, creds.kubelet_client_key)


def _host_for_url(bind: str) -> str:
    return "127.0.0.1" if bind in ("0.0.0.0", "::", "") else bind


def prepare_data_dir(data_dir: Path, *, bind: str, port: int, store_url: str) -> Credentials:
    """The data dir private (0700, its files 0600: see apiserver.auth), with credentials in it."""
    try:
        # the sqlite store (store.open_store: <data dir>/state.db) is made 0600 before sqlite opens it
        secure_data_dir(data_dir, create=("state.db",) if store_url == "sqlite" else ())
        _progress("preparing certificates and tokens ...")
        return ensure_credentials(data_dir, hosts=default_hosts(bind),
                                  server_url=f"https://{_host_for_url(bind)}:{port}")
    except OSError as exc:
        raise UserError(f"cannot use the data dir {data_dir}: {exc.strerror or exc}; pass --data-dir") from None


def run_server(*, data_dir: Path, bind: str, port: int, store_url: str, log_level: str, profile: str = "binpack",
               control_plane: bool = True, timing: str = "kubernetes", min_request_timeout: float = 1800.0,
               compaction_interval: float = 300.0, cluster_cidr: str = CLUSTER_CIDR) -> int:
    logging.basicConfig(level=log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not 0 < port < 65536:
        raise UserError(f"--port {port} is out of range (1-65535)")
    _check_cluster_cidr(cluster_cidr)
    _check_store_url(store_url)
    creds = prepare_data_dir(data_dir, bind=bind, port=port, store_url=store_url)
    import uvloop

    uvloop.run(_serve(data_dir=data_dir, bind=bind, port=port, store_url=store_url, creds=creds, profile=profile,
                      control_plane=control_plane, timing=timing, min_request_timeout=min_request_timeout,
                      compaction_interval=compaction_interval, cluster_cidr=cluster_cidr))
    return 0


def _check_cluster_cidr(cidr: str) -> None:
    """An IPv4 network of at least a /24 (each node gets a /24 of it), or one line that says so."""
    import ipaddress

    try:
        net = ipaddress.ip_network(cidr)
    except ValueError as exc:
        raise UserError(f"--cluster-cidr {cidr}: {exc}") from None
    if net.version != 4 or net.prefixlen > 24:
        raise UserError(f"--cluster-cidr {cidr}: must be an IPv4 network of /24 or larger (each node gets a /24)")
