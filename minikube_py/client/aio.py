"""The asyncio Kubernetes REST client of the control-plane components (scheduler, controllers,
hollow nodes; later the node agent): one aiohttp session over HTTPS with a bearer token.

Objects stay plain JSON dicts (as they travel), addressed by `minikube_py.api.kinds.KindInfo`.
Errors come back as the `api.errors` class of the server's Status reason (`except Conflict`),
transport failures as `Unreachable` (nothing was sent: safe to repeat) or `ConnectionLost` (sent,
no answer: it may have happened).  A 429 or 5xx that carries Retry-After is waited out and sent
again, up to `max_retries` times, as client-go does.  `watch` yields `(type, object)` pairs until
the server ends the stream.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from ..api.errors import ApiError, ConnectionLost, Unreachable, from_status
from ..api.kinds import KindInfo
from .clock import SYSTEM, Clock
from .kubeconfig import Connection, KubeConfig
from .rest import retry_after_of, status_of
from .tracing import note_write

Obj = dict[str, Any]

MAX_RETRY_AFTER = 30.0  # a Retry-After longer than this is waited out by the caller's backoff instead
PATCH_TYPES = {"merge": "application/merge-patch+json", "strategic": "application/strategic-merge-patch+json",
               "json": "application/json-patch+json"}


def path_for(info: KindInfo, namespace: str | None = None, name: str | None = None,
             subresource: str | None = None) -> str:
    out = f"/apis/{info.group}/{info.version}" if info.group else f"/api/{info.version}"
    if info.namespaced and namespace:
        out += f"/namespaces/{namespace}"
    out += f"/{info.plural}"
    if name:
        out += f"/{name}"
        if subresource:
            out += f"/{subresource}"
    return out


class ApiClient:
    def __init__(self, conn: Connection, *, user_agent: str = "minikube-py", connections: int = 64,
                 max_retries: int = 10, clock: Clock = SYSTEM) -> None:
        self.conn = conn
        self.max_retries = max_retries
        self.clock = clock
        self.server = conn.server.rstrip("/")
        self.user_agent = user_agent
        self.connections = connections
        self._session: aiohttp.ClientSession | None = None
        self._closed = False

    @classmethod
    def from_kubeconfig(cls, path: str | Path | None = None, **kwargs: Any) -> ApiClient:
        return cls(KubeConfig.load(str(path) if path else None).connection(), **kwargs)

    def _ssl(self) -> ssl.SSLContext | bool:
        if not self.server.startswith("https"):
            return False
        if self.conn.insecure:
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            return ctx
        if self.conn.ca_pem:
            return ssl.create_default_context(cadata=self.conn.ca_pem.decode())
        return ssl.create_default_context()

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._closed:  # a late writer (a background event) after shutdown must not leak a session
            raise RuntimeError("the API client is closed")
        if self._session is None or self._session.closed:
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            if self.conn.token:
                headers["Authorization"] = f"Bearer {self.conn.token}"
            self._session = aiohttp.ClientSession(
                base_url=self.server, headers=headers, json_serialize=lambda o: orjson.dumps(o).decode(),
                connector=aiohttp.TCPConnector(ssl=self._ssl(), limit=self.connections),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=10))
        return self._session

    async def close(self) -> None:
        self._closed = True
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                      content_type: str = "application/json", request_timeout: float = 60.0) -> Any:
        data = None if body is None else orjson.dumps(body)
        headers = {"Content-Type": content_type} if data is not None else {}
        query = {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in (params or {}).items()
                 if v is not None and v != ""}
        attempt = 0
        while True:
            status, payload, retry_after = await self._send(method, path, query, data, headers, request_timeout)
            if method != "GET" and not path.startswith("/debug/"):
                note_write(method, path, status)  # into the reconcile trace, if one is being recorded
            if status < 400:
                return orjson.loads(payload) if payload else None
            err = from_status(status_of(status, payload), status, retry_after=retry_after)
            if not self._retry_after(err, attempt):
                raise err
            attempt += 1
            assert err.retry_after is not None
            await self.clock.sleep(err.retry_after)

    def _retry_after(self, err: ApiError, attempt: int) -> bool:
        """client-go's rule: a 429 or 5xx with Retry-After was not acted on; wait and send it again."""
        return (err.retry_after is not None and err.retry_after <= MAX_RETRY_AFTER and attempt < self.max_retries
                and (err.code == 429 or err.code >= 500))

    async def _send(self, method: str, path: str, query: dict[str, str], data: bytes | None, headers: dict[str, str],
                    request_timeout: float) -> tuple[int, bytes, float | None]:
        """One HTTP exchange; transport failures become Unreachable or ConnectionLost."""
        try:
            async with self.session.request(method, path, params=query, data=data, headers=headers,
                                            timeout=aiohttp.ClientTimeout(total=request_timeout)) as resp:
                return resp.status, await resp.read(), retry_after_of(resp.headers.get("Retry-After"))
        except aiohttp.ClientConnectorError as exc:
            raise Unreachable(f"the apiserver at {self.server} is unreachable: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ConnectionLost(f"{method} {path}: the connection to {self.server} was lost before an answer "
                                 f"came ({type(exc).__name__}: {exc}); the request may have succeeded") from exc

    # --- typed helpers ---------------------------------------------------------------------------

    async def get(self, info: KindInfo, namespace: str | None, name: str, subresource: str | None = None) -> Obj:
        result: Obj = await self.request("GET", path_for(info, namespace, name, subresource))
        return result

    async def list(self, info: KindInfo, namespace: str | None = None, **params: Any) -> Obj:
        result: Obj = await self.request("GET", path_for(info, namespace), params=params)
        return result

    async def create(self, info: KindInfo, namespace: str | None, body: Obj, subresource: str | None = None,
                     name: str | None = None) -> Obj:
        path = path_for(info, namespace, name, subresource) if subresource else path_for(info, namespace)
        result: Obj = await self.request("POST", path, body=body)
        return result

    async def update(self, info: KindInfo, namespace: str | None, body: Obj, subresource: str | None = None) -> Obj:
        name = body["metadata"]["name"]
        result: Obj = await self.request("PUT", path_for(info, namespace, name, subresource), body=body)
        return result

    async def patch(self, info: KindInfo, namespace: str | None, name: str, body: Any, *, patch_type: str = "merge",
                    subresource: str | None = None) -> Obj:
        result: Obj = await self.request("PATCH", path_for(info, namespace, name, subresource), body=body,
                                         content_type=PATCH_TYPES[patch_type])
        return result

    async def delete(self, info: KindInfo, namespace: str | None, name: str, *, propagation: str | None = None,
                     grace_period: int | None = None, preconditions: Obj | None = None) -> Obj | None:
        body: Obj = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation:
            body["propagationPolicy"] = propagation
        if grace_period is not None:
            body["gracePeriodSeconds"] = grace_period
        if preconditions:
            body["preconditions"] = preconditions
        result: Obj | None = await self.request("DELETE", path_for(info, namespace, name), body=body)
        return result

    async def watch(self, info: KindInfo, namespace: str | None = None, *, resource_version: str | None = None,
                    timeout_seconds: int | None = None, **params: Any) -> AsyncIterator[tuple[str, Obj]]:
        query = {"watch": "true", "resourceVersion": resource_version, "allowWatchBookmarks": "true",
                 "timeoutSeconds": timeout_seconds, **params}
        query = {k: str(v) for k, v in query.items() if v is not None and v != ""}
        try:
            async with self.session.get(path_for(info, namespace), params=query,
                                        timeout=aiohttp.ClientTimeout(total=None, sock_read=None)) as resp:
                if resp.status >= 400:
                    raise from_status(status_of(resp.status, await resp.read()), resp.status,
                                      retry_after=retry_after_of(resp.headers.get("Retry-After")))
                buffer = b""
                async for chunk in resp.content.iter_any():
                    buffer += chunk
                    while b"\n" in buffer:
                        line, buffer = buffer.split(b"\n", 1)
                        if line.strip():
                            event = orjson.loads(line)
                            yield str(event.get("type")), event.get("object") or {}
        except aiohttp.ClientConnectorError as exc:
            raise Unreachable(f"the apiserver at {self.server} is unreachable: {exc}") from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ConnectionLost(f"watch {info.plural}: the stream from {self.server} broke "
                                 f"({type(exc).__name__}: {exc})") from exc
