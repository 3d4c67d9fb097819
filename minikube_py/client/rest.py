"""A small synchronous Kubernetes REST client on the standard library (http.client + ssl).

mkctl uses it: a command line tool must start fast, and one keep-alive HTTPS connection with no
event loop is the quickest way to send the few requests a command makes.  Errors come back as the
`api.errors` class of the server's Status (its body in `.status()`), or `Unreachable` with
kubectl's wording.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import ssl
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

from ..api.errors import Unreachable, from_status
from .kubeconfig import Connection

USER_AGENT = "mkctl/0.1.0 (minikube-py)"


@dataclass
class Response:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class RestClient:
    def __init__(self, conn: Connection, timeout: float = 60.0) -> None:
        self.conn = conn
        url = urlsplit(conn.server)
        self.scheme = url.scheme or "https"
        self.host = url.hostname or "127.0.0.1"
        self.port = url.port or (443 if self.scheme == "https" else 80)
        self.base_path = url.path.rstrip("/")
        self.timeout = timeout
        self._http: http.client.HTTPConnection | None = None
        self._ssl: ssl.SSLContext | None = None

    @property
    def hostport(self) -> str:
        return f"{self.host}:{self.port}"

    def _context(self) -> ssl.SSLContext:
        if self._ssl is None:
            ctx = ssl.create_default_context()
            if self.conn.insecure:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            elif self.conn.ca_pem:
                ctx = ssl.create_default_context(cadata=self.conn.ca_pem.decode())
            if self.conn.client_cert_pem and self.conn.client_key_pem:
                # ssl wants files: write them to a private temporary file for the load only
                with tempfile.NamedTemporaryFile("wb", delete=False) as f:
                    f.write(self.conn.client_cert_pem + b"\n" + self.conn.client_key_pem)
                try:
                    ctx.load_cert_chain(f.name)
                finally:
                    os.unlink(f.name)
            self._ssl = ctx
        return self._ssl

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._http is None:
            if self.scheme == "https":
                self._http = http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                                         context=self._context())
            else:
                self._http = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        self._http.timeout = timeout
        return self._http

    def _headers(self, accept: str, content_type: str | None) -> dict[str, str]:
        headers = {"Accept": accept, "User-Agent": USER_AGENT}
        if content_type:
            headers["Content-Type"] = content_type
        if self.conn.token:
            headers["Authorization"] = f"Bearer {self.conn.token}"
        elif self.conn.username is not None:
            raw = f"{self.conn.username}:{self.conn.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(raw).decode()
        return headers

    def url(self, path: str, params: dict[str, Any] | None = None) -> str:
        query = urlencode({k: v for k, v in (params or {}).items() if v is not None and v != ""}, doseq=True)
        return self.base_path + path + ("?" + query if query else "")

    def _send(self, method: str, target: str, body: bytes | None, headers: dict[str, str],
              timeout: float | None) -> http.client.HTTPResponse:
        for attempt in (1, 2):
            http_conn = self._connection(timeout)
            try:
                http_conn.request(method, target, body=body, headers=headers)
                return http_conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # a kept-alive connection the server closed: one fresh try
                if attempt == 2:
                    raise Unreachable(f"the connection to the server {self.hostport} was closed") from None
            except ConnectionRefusedError:
                self.close()
                raise Unreachable(f"The connection to the server {self.hostport} was refused - did you specify "
                                  "the right host or port?") from None
            except ssl.SSLError as exc:
                self.close()
                raise Unreachable(f'Unable to connect to the server: tls: {exc.reason or exc}') from None
            except OSError as exc:
                self.close()
                raise Unreachable(f"Unable to connect to the server: {exc.strerror or exc}") from None
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, body: Any = None,
                content_type: str = "application/json", accept: str = "application/json") -> Response:
        data: bytes | None = None
        if body is not None:
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
        resp = self._send(method, self.url(path, params), data, self._headers(accept, content_type if data else None),
                          self.timeout)
        payload = resp.read()
        if resp.status >= 400:
            raise from_status(status_of(resp.status, payload), resp.status,
                              retry_after=retry_after_of(resp.headers.get("Retry-After")))
        return Response(resp.status, resp.headers, payload)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params).json()

    def stream(self, path: str, params: dict[str, Any], accept: str = "application/json") -> Iterator[bytes]:
        """A watch (or log) stream: yields its lines until the server ends it."""
        self.close()  # the stream owns its own connection
        resp = self._send("GET", self.url(path, params), None, self._headers(accept, None), None)
        if resp.status >= 400:
            raise from_status(status_of(resp.status, resp.read()), resp.status)
        try:
            while True:
                line = resp.readline()
                if not line:
                    return
                yield line
        finally:
            self.close()

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None


def retry_after_of(header: str | None) -> float | None:
    """A Retry-After header in seconds (the HTTP-date form is not sent by apiservers)."""
    if not header:
        return None
    try:
        seconds = float(header.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


def status_of(code: int, payload: bytes) -> dict[str, Any]:
    try:
        data = json.loads(payload)
    except ValueError:
        data = None
    if isinstance(data, dict) and data.get("kind") == "Status":
        return data
    text = payload.decode(errors="replace").strip()
    return {"kind": "Status", "status": "Failure", "code": code,
            "message": f"the server responded with the status code {code} but did not return more information"
            + (f" ({text[:200]})" if text else "")}
