"""The protobuf request decoder: bodies built here the way Go's generated marshalers write them.

kubectl itself is exercised in tests/integration/test_kubectl.py (`create namespace`, `run`, ...);
these cases pin the wire rules: zero values of non-pointer fields mean "unset", pointer zeros are
kept, empty Time is null, embedded structs are inlined, and malformed bodies are a ProtobufError.
"""

from __future__ import annotations

import pytest

from minikube_py.api.errors import BadRequest
from minikube_py.api.kinds import KINDS
from minikube_py.apiserver import protobuf
from minikube_py.apiserver.decode import parse_body
from minikube_py.apiserver.proto_schema import MESSAGES


def varint(n: int) -> bytes:
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def field(number: int, value: int | bytes | str) -> bytes:
    if isinstance(value, int):
        return varint(number << 3) + varint(value)
    data = value.encode() if isinstance(value, str) else value
    return varint(number << 3 | 2) + varint(len(data)) + data


def entry(number: int, key: str, value: str | bytes) -> bytes:
    return field(number, field(1, key) + field(2, value))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    return protobuf.MAGIC + field(1, field(1, api_version) + field(2, kind)) + field(2, raw)


def meta(name: str, **labels: str) -> bytes:
    # name, an empty generateName (Go writes every non-pointer string), labels, empty creationTimestamp
    return field(1, name) + field(2, "") + b"".join(entry(11, k, v) for k, v in labels.items()) + field(8, b"")


def test_deployment_from_kubectl_create_deployment() -> None:
    container = field(1, "nginx") + field(2, "nginx:1.25") + field(6, field(3, 80) + field(4, "")) + field(14, "")
    pod_spec = field(2, container) + field(3, "") + field(6, "")
    template = field(1, meta("", app="web")) + field(2, pod_spec)
    selector = entry(1, "app", "web")
    spec = field(1, 0) + field(2, selector) + field(3, template) + field(4, b"") + field(5, 0) + field(7, 0)
    body = envelope("apps/v1", "Deployment", field(1, meta("web", app="web")) + field(2, spec) + field(3, b""))

    obj = parse_body(body, "application/vnd.kubernetes.protobuf")

    assert obj == {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "replicas": 0,  # a pointer field: an explicit 0 is kept
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                         "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                  "ports": [{"containerPort": 80}]}]}},
            "strategy": {},
        },
        "status": {},
    }


def test_secret_bytes_become_base64_and_time_and_int_or_string() -> None:
    secret = envelope("v1", "Secret", field(1, meta("s")) + entry(2, "pw", b"\x00secret") + field(3, "Opaque"))
    assert parse_body(secret, "application/vnd.kubernetes.protobuf")["data"] == {"pw": "AHNlY3JldA=="}

    port = field(1, "http") + field(2, "TCP") + field(3, 80) + field(4, field(1, 1) + field(3, "web"))
    svc = envelope("v1", "Service", field(1, meta("svc") + field(8, field(1, 1_700_000_000)))
                   + field(2, field(1, port) + field(4, "NodePort")))
    obj = parse_body(svc, "application/vnd.kubernetes.protobuf")
    assert obj["metadata"]["creationTimestamp"] == "2023-11-14T22:13:20Z"
    assert obj["spec"] == {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": "web"}],
                           "type": "NodePort"}


def test_embedded_struct_is_inlined_and_negative_int() -> None:
    volume = field(1, "data") + field(2, field(2, field(1, "Memory")))  # Volume{name, VolumeSource{emptyDir}}
    probe = field(1, field(1, field(1, "true"))) + field(5, 1)  # Probe{handler{exec{command}}, successThreshold}
    container = field(1, "c") + field(2, "busybox") + field(10, probe)
    spec = field(1, volume) + field(2, container) + field(4, -1)
    obj = parse_body(envelope("v1", "Pod", field(1, meta("p")) + field(2, spec)),
                     "application/vnd.kubernetes.protobuf")
    assert obj["spec"]["volumes"] == [{"name": "data", "emptyDir": {"medium": "Memory"}}]
    assert obj["spec"]["containers"][0]["livenessProbe"] == {"exec": {"command": ["true"]}, "successThreshold": 1}
    assert obj["spec"]["terminationGracePeriodSeconds"] == -1


@pytest.mark.parametrize("body", [
    b"not protobuf",
    protobuf.MAGIC + b"\x0a\xff",  # length past the end
    protobuf.MAGIC + b"\x0f",  # wire type 7
    envelope("v1", "Widget", b""),
    envelope("v1", "Pod", b"\x0a\x05abc"),
    envelope("v1", "Pod", field(1, field(1, b"\xff\xfe"))),  # name not UTF-8
    envelope("v1", "Pod", b"\x12" * 10_000 + b"\x00"),  # deeply nested / truncated
])
def test_malformed_bodies_are_bad_requests(body: bytes) -> None:
    with pytest.raises(BadRequest):
        parse_body(body, "application/vnd.kubernetes.protobuf")


def test_the_kinds_table_names_messages_that_exist_once_per_kind_name() -> None:
    """The envelope is matched by its kind alone, so two kinds of one name cannot both have a message."""
    named = [k for k in KINDS if k.proto_message]
    assert [k.proto_message for k in named if k.proto_message not in MESSAGES] == []
    assert len({k.kind for k in named}) == len(named)
