"""Security from the first start: a CA, a serving certificate, bearer tokens and a kubeconfig.

`minikube-py server` calls `secure_data_dir` and then `ensure_credentials(data_dir, hosts)` once at
start: it creates what is missing in the data dir (and keeps what exists, so clients keep working
across restarts) and returns what the app needs.  The middleware in app.py checks tokens on every
request.  The data dir holds the cluster's keys, tokens and state: it is 0700 and every file the
server keeps in it 0600, whatever the umask, and a start fixes a dir made by an older version.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import os
import secrets
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CLUSTER_NAME = "minikube-py"
SERVICE_IP = "10.96.0.1"  # the `kubernetes` service; clients in pods reach the apiserver there


@dataclass(frozen=True, slots=True)
class User:
    name: str
    uid: str
    groups: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Credentials:
    ca_cert: Path
    server_cert: Path
    server_key: Path
    tokens: dict[str, User]
    admin_token: str
    kubeconfig: Path
    kubelet_client_cert: Path | None = None  # what the apiserver shows the node agents (apiserver/streaming.py)
    kubelet_client_key: Path | None = None

    def ssl_context(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(self.server_cert, self.server_key)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_alpn_protocols(["http/1.1"])
        return ctx


PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(fd, "wb") as f:
        os.fchmod(f.fileno(), PRIVATE_FILE)  # the mode of open() applies only to a new file, minus the umask
        f.write(data)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    os.chmod(path, PRIVATE_DIR)


def secure_data_dir(data_dir: Path, *, create: tuple[str, ...] = ()) -> None:
    """The data dir (and pki/ in it) 0700 and every file in them 0600, also when an older version or a
    loose umask made them.  `create` names files to make (empty, 0600) when missing, such as the
    sqlite store, whose -wal and -shm files sqlite then creates with the database's mode."""
    _private_dir(data_dir)
    for name in create:
        os.close(os.open(data_dir / name, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE))
    pki = data_dir / "pki"
    if pki.is_dir() and not pki.is_symlink():
        _private_dir(pki)
    for d in (data_dir, pki):
        if not d.is_dir() or d.is_symlink():
            continue
        for entry in d.iterdir():
            if entry.is_file() and not entry.is_symlink():
                os.chmod(entry, PRIVATE_FILE)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _make_ca(d: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minikube-py-ca")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                         content_commitment=False, key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
            .sign(key, hashes.SHA256()))
    _write_private(d / "ca.crt", cert.public_bytes(serialization.Encoding.PEM))
    _write_private(d / "ca.key", _key_pem(key))
    return cert, key


def _make_server_cert(d: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: list[str]) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sans: list[x509.GeneralName] = []
    for h in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            sans.append(x509.DNSName(h))
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(d / "apiserver.crt", cert.public_bytes(serialization.Encoding.PEM))
    _write_private(d / "apiserver.key", _key_pem(key))
    _write_private(d / "apiserver.hosts", ("\n".join(sorted(hosts)) + "\n").encode())


KUBELET_CLIENT_CN = "kube-apiserver-kubelet-client"  # kubeadm's name for it; the agents accept only it


def _make_kubelet_client_cert(d: Path, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey) -> None:
    """kubeadm's apiserver-kubelet-client: a client certificate of the CA, CN kube-apiserver-kubelet-client,
    O system:masters, with which the apiserver dials the agents' streaming port."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                                     x509.NameAttribute(NameOID.COMMON_NAME, KUBELET_CLIENT_CN)]))
            .issuer_name(ca.subject).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=825))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    _write_private(d / "kubelet-client.crt", cert.public_bytes(serialization.Encoding.PEM))
    _write_private(d / "kubelet-client.key", _key_pem(key))


def default_hosts(bind: str) -> list[str]:
    hosts = {"127.0.0.1", "localhost", SERVICE_IP, "kubernetes", "kubernetes.default", "kubernetes.default.svc",
             "kubernetes.default.svc.cluster.local", socket.gethostname()}
    if bind not in ("0.0.0.0", "::", ""):
        hosts.add(bind)
    return sorted(hosts)


def read_tokens(path: Path) -> dict[str, User]:
    """Kubernetes' static token file format: token,user,uid,"group1,group2"."""
    import csv

    out: dict[str, User] = {}
    with path.open() as f:
        for row in csv.reader(f):
            if len(row) >= 3 and row[0] and not row[0].startswith("#"):
                groups = tuple(g for g in (row[3] if len(row) > 3 else "").split(",") if g)
                out[row[0]] = User(row[1], row[2], groups)
    return out


def ensure_credentials(data_dir: Path, *, hosts: list[str], server_url: str) -> Credentials:
    pki = data_dir / "pki"
    _private_dir(pki)
    if (pki / "ca.crt").exists() and (pki / "ca.key").exists():
        ca = x509.load_pem_x509_certificate((pki / "ca.crt").read_bytes())
        loaded = serialization.load_pem_private_key((pki / "ca.key").read_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        ca_key = loaded
    else:
        ca, ca_key = _make_ca(pki)
    known = set((pki / "apiserver.hosts").read_text().split()) if (pki / "apiserver.hosts").exists() else set()
    if not (pki / "apiserver.crt").exists() or not set(hosts) <= known:
        _make_server_cert(pki, ca, ca_key, sorted(set(hosts) | known))
    if not (pki / "kubelet-client.crt").exists() or not (pki / "kubelet-client.key").exists():
        _make_kubelet_client_cert(pki, ca, ca_key)
    token_file = data_dir / "tokens.csv"
    if not token_file.exists():
        admin = secrets.token_urlsafe(32)
        _write_private(token_file, f'{admin},admin,admin-uid,"system:masters"\n'.encode())
    tokens = read_tokens(token_file)
    admin_token = next(t for t, u in tokens.items() if u.name == "admin")
    kubeconfig = data_dir / "kubeconfig"
    write_kubeconfig(kubeconfig, server_url=server_url, ca_pem=(pki / "ca.crt").read_bytes(), token=admin_token)
    return Credentials(pki / "ca.crt", pki / "apiserver.crt", pki / "apiserver.key", tokens, admin_token, kubeconfig,
                       pki / "kubelet-client.crt", pki / "kubelet-client.key")


def write_kubeconfig(path: Path, *, server_url: str, ca_pem: bytes, token: str, user: str = "admin") -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {
            "server": server_url, "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": user, "namespace": "default"}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }
    _write_private(path, yaml.safe_dump(config, sort_keys=False).encode())
