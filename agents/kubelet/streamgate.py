"""The gate of the agent's streaming port: its TLS, who may pass, and request errors as a Status.

The serving certificate is self-signed (<data-dir>/pki/kubelet.crt, as the kubelet makes its own);
clients must present a certificate of the cluster CA (the one in the agent's kubeconfig) whose CN
is kube-apiserver-kubelet-client: no certificate is 401, another CN 403, and a certificate of
another CA fails the TLS handshake.  Used by agents/kubelet/streaming.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import docker
from aiohttp import web
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from minikube_py.api import errors as E

log = logging.getLogger("minikube_py.agent.streaming")
CLIENT_CN = "kube-apiserver-kubelet-client"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class PortUnavailable(Exception):
    """The streaming port cannot be listened on (in use, not allowed)."""


def ensure_serving_cert(pki: Path, node: str, node_ip: str) -> tuple[Path, Path]:
    """The kubelet's self-signed kubelet.crt/kubelet.key (kept across restarts)."""
    cert_path, key_path = pki / "kubelet.crt", pki / "kubelet.key"
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path
    pki.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{node}@{int(dt.datetime.now(dt.UTC).timestamp())}")])
    sans: list[x509.GeneralName] = [x509.DNSName(node)]
    with contextlib.suppress(ValueError):
        sans.append(x509.IPAddress(ipaddress.ip_address(node_ip)))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(key, hashes.SHA256()))
    for path, data in ((key_path, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption())),
                       (cert_path, cert.public_bytes(serialization.Encoding.PEM))):
        path.touch(mode=0o600)
        path.write_bytes(data)
    return cert_path, key_path


def server_context(cert: Path, key: Path, client_ca_pem: bytes | None) -> ssl.SSLContext:
    """TLS that asks for a client certificate of the cluster CA (a client without one is answered 401)."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_alpn_protocols(["http/1.1"])
    if client_ca_pem:
        ctx.load_verify_locations(cadata=client_ca_pem.decode())
        ctx.verify_mode = ssl.CERT_OPTIONAL
    return ctx


def _common_name(peercert: Any) -> str:
    for rdn in (peercert or {}).get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return ""


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        transport = request.transport
        peer = transport.get_extra_info("peercert") if transport is not None else None
        if not peer:
            raise E.Unauthorized("Unauthorized: a client certificate of the cluster CA is required")
        cn = _common_name(peer)
        if cn != CLIENT_CN:
            raise E.Forbidden(f'Forbidden: user "{cn}" may not use the node agent\'s streaming port')
        return await handler(request)
    except E.ApiError as exc:  # the kubelet's errors, as Status bodies
        return web.json_response(exc.status(), status=exc.code)
    except web.HTTPException:
        raise
    except (docker.errors.DockerException, OSError) as exc:  # Docker away: this request fails, the agent goes on
        log.warning("%s: %s: %s", request.path, type(exc).__name__, exc)
        failure = E.InternalError(f"error talking to the container runtime: {exc}")
        return web.json_response(failure.status(), status=failure.code)


