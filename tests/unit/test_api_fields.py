"""Our models against the Kubernetes 1.35 API (issue 9 item 11): the same fields, typed the same way.

The reference is tests/data/k8s-1.35-fields.txt (written by tests/tools/k8s_api_paths.py from the
published 1.35 definitions); parts.py is generated from it (tests/tools/gen_api_parts.py).  The
drift tests walk each served kind's model beside its 1.35 definition; the request tests check what
the walk promises on the wire: unknown fields refused inside any struct, int32 ranges, and the
create-time checks kube makes.
"""

from __future__ import annotations

import types
import typing
from collections import defaultdict
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from pydantic import BaseModel, TypeAdapter, ValidationError

from minikube_py.api.kinds import KINDS
from minikube_py.apiserver.app import make_app
from minikube_py.store import open_store
from tests.tools import gen_api_parts

DATA = Path(__file__).resolve().parents[1] / "data" / "k8s-1.35-fields.txt"


def _reference() -> tuple[dict[tuple[str, str], str], dict[str, dict[str, tuple[str, str]]]]:
    roots: dict[tuple[str, str], str] = {}
    fields: dict[str, dict[str, tuple[str, str]]] = defaultdict(dict)
    for line in DATA.read_text().splitlines():
        parts = line.split()
        if parts and parts[0] == "root":
            roots[(parts[1], parts[2])] = parts[3]
        elif parts and parts[0] == "field":
            fields[parts[1]][parts[2]] = (parts[3], parts[4])
    return roots, fields


ROOTS, FIELDS = _reference()


def _strip(t: Any) -> Any:
    """X | None -> X, keeping Annotated (the int32/int64 markers live there)."""
    while typing.get_origin(t) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        if len(args) != 1:
            return t
        t = args[0]
    return t


def _element(t: Any) -> tuple[str, Any]:
    t = _strip(t)
    origin = typing.get_origin(t)
    if origin is list:
        return "list", _strip(typing.get_args(t)[0])
    if origin is dict:
        return "map", _strip(typing.get_args(t)[1])
    return "one", t


def _int_bits(t: Any) -> int | None:
    """32 or 64 for our Int32/Int64, 0 for a plain int, None for anything else."""
    if typing.get_origin(t) is typing.Annotated and typing.get_args(t)[0] is int:
        adapter = TypeAdapter(t)
        for bits in (32, 64):
            try:
                adapter.validate_python(2 ** (bits - 1))
            except ValidationError:  # the type's range refused one past its top
                return bits
        return 0
    return 0 if t is int else None


class Walk:
    """Each served model beside its 1.35 definition, recursively."""

    def __init__(self) -> None:
        self.missing: list[str] = []
        self.untyped: list[str] = []
        self.extra: list[str] = []
        self.ints: list[str] = []
        self.models: set[type[BaseModel]] = set()
        seen: set[tuple[type[BaseModel], str]] = set()
        for info in KINDS:
            definition = ROOTS[(info.api_version, info.kind)]
            self._walk(info.model, definition, f"{info.api_version} {info.kind}", seen)

    def _walk(self, model: type[BaseModel], definition: str, path: str,
              seen: set[tuple[type[BaseModel], str]]) -> None:
        if (model, definition) in seen:
            return
        seen.add((model, definition))
        self.models.add(model)
        ours = {(f.alias or name): f for name, f in model.model_fields.items()}
        kube = FIELDS[definition]
        self.extra += [f"{path}.{w}" for w in ours if w not in kube and w not in ("apiVersion", "kind")]
        for wire, (kshape, ktype) in kube.items():
            where = f"{path}.{wire}"
            if wire not in ours:
                self.missing.append(where)
                continue
            shape, element = _element(ours[wire].annotation)
            if isinstance(element, type) and issubclass(element, BaseModel):
                if ktype in FIELDS:
                    self._walk(element, ktype, where, seen)
                else:
                    self.untyped.append(f"{where}: a struct here, {ktype} in 1.35")
            elif ktype in FIELDS:
                self.untyped.append(f"{where}: a free map here, {ktype} in 1.35")
            elif ktype in ("int32", "int64") and _int_bits(element) != int(ktype[3:]):
                self.ints.append(f"{where}: {ktype} in 1.35")
            if kshape != shape and ktype in FIELDS:
                self.untyped.append(f"{where}: {shape} here, {kshape} in 1.35")


WALK = Walk()


def test_the_reference_covers_every_served_kind() -> None:
    assert [f"{k.api_version} {k.kind}" for k in KINDS if (k.api_version, k.kind) not in ROOTS] == []


def test_no_1_35_field_is_missing_from_our_models() -> None:
    assert WALK.missing == []


def test_every_1_35_struct_is_a_typed_model_not_a_free_map() -> None:
    assert WALK.untyped == []


def test_our_models_have_no_field_that_1_35_lacks() -> None:
    assert WALK.extra == []


def test_every_integer_field_has_the_range_1_35_gives_it() -> None:
    assert WALK.ints == []


def test_no_model_accepts_unknown_fields() -> None:
    assert sorted(m.__name__ for m in WALK.models if m.model_config.get("extra") != "forbid") == []


def test_parts_module_is_what_the_generator_makes_of_the_data() -> None:
    assert gen_api_parts.OUT.read_text() == gen_api_parts.render(), \
        "minikube_py/api/parts.py is stale: run python -m tests.tools.gen_api_parts"


# --- on the wire ---------------------------------------------------------------------------------

@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    store = open_store("sqlite", tmp_path)
    client: TestClient = await aiohttp_client(make_app(store))
    yield client
    await store.close()


PODS = "/api/v1/namespaces/default/pods"


def _pod(name: str, **spec: Any) -> dict[str, Any]:
    container = spec.pop("container", {})
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "nginx", **container}], **spec}}


async def _status(resp: Any, code: int) -> dict[str, Any]:
    assert resp.status == code, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


@pytest.mark.parametrize(("spec", "field"), [
    ({"container": {"securityContext": {"runAsUser": 1000, "bogus": True}}}, "spec.containers[0].securityContext.bogus"),
    ({"container": {"securityContext": {"capabilities": {"add": ["NET_ADMIN"], "extra": 1}}}},
     "spec.containers[0].securityContext.capabilities.extra"),
    ({"securityContext": {"fsGroup": 2000, "runAsUsr": 1}}, "spec.securityContext.runAsUsr"),
    ({"container": {"lifecycle": {"preStop": {"exec": {"command": ["sh"]}, "sleepy": {}}}}},
     "spec.containers[0].lifecycle.preStop.sleepy"),
    ({"volumes": [{"name": "v", "local": {"path": "/x"}}]}, "spec.volumes[0].local"),
])
async def test_unknown_fields_inside_any_struct_are_refused_under_strict(api: TestClient, spec: dict[str, Any],
                                                                        field: str) -> None:
    status = await _status(await api.post(f"{PODS}?fieldValidation=Strict", json=_pod("strict", **spec)), 400)
    assert status["message"].endswith(f'strict decoding error: unknown field "{field}"'), status["message"]


async def test_unknown_fields_inside_a_struct_are_warned_about_and_dropped_by_default(api: TestClient) -> None:
    resp = await api.post(PODS, json=_pod("warn", container={"securityContext": {"runAsUser": 1000, "bogus": 1}}))
    body = await _status(resp, 201)
    assert resp.headers.getall("Warning") == ['299 - "unknown field \\"spec.containers[0].securityContext.bogus\\""']
    assert body["spec"]["containers"][0]["securityContext"] == {"runAsUser": 1000}


async def test_an_int32_field_beyond_its_range_is_a_400_naming_it(api: TestClient) -> None:
    deploy = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "big"},
              "spec": {"replicas": 2**31, "selector": {"matchLabels": {"a": "b"}},
                       "template": {"metadata": {"labels": {"a": "b"}}, "spec": _pod("x")["spec"]}}}
    status = await _status(await api.post("/apis/apps/v1/namespaces/default/deployments", json=deploy), 400)
    assert "spec.replicas: cannot unmarshal number 2147483648 into a value of type int32" in status["message"]
    pod = _pod("port", container={"ports": [{"containerPort": -(2**31) - 1}]})
    status = await _status(await api.post(PODS, json=pod), 400)
    assert "spec.containers[0].ports[0].containerPort" in status["message"]


async def test_an_int64_field_takes_what_int32_cannot(api: TestClient) -> None:
    body = await _status(await api.post(PODS, json=_pod("long", activeDeadlineSeconds=2**40)), 201)
    assert body["spec"]["activeDeadlineSeconds"] == 2**40


async def test_ephemeral_containers_are_forbidden_on_create(api: TestClient) -> None:
    pod = _pod("eph", ephemeralContainers=[{"name": "debug", "image": "busybox"}])
    status = await _status(await api.post(PODS, json=pod), 422)
    assert status["details"]["causes"] == [{"reason": "FieldValueForbidden", "field": "spec.ephemeralContainers",
                                            "message": "Forbidden: cannot be set on create"}]


async def test_node_name_with_scheduling_gates_is_forbidden_on_create(api: TestClient) -> None:
    pod = _pod("gated", nodeName="n1", schedulingGates=[{"name": "example.com/wait"}])
    status = await _status(await api.post(PODS, json=pod), 422)
    assert status["details"]["causes"][0]["field"] == "spec.nodeName"


@pytest.mark.parametrize(("spec", "message"), [
    ({"ipFamilies": ["IPv6"]}, 'spec.ipFamilies[0]: Invalid value: "IPv6": not configured on this cluster'),
    ({"ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "PreferDualStack"},
     'spec.ipFamilies[1]: Invalid value: "IPv6": not configured on this cluster'),
    ({"ipFamilyPolicy": "RequireDualStack"},
     'spec.ipFamilyPolicy: Invalid value: "RequireDualStack": this cluster is not configured for dual-stack services'),
    ({"ipFamilies": ["IPv5"]}, 'spec.ipFamilies[0]: Unsupported value: "IPv5": supported values: "IPv4", "IPv6"'),
])
async def test_a_single_stack_ipv4_cluster_refuses_other_families(api: TestClient, spec: dict[str, Any],
                                                                  message: str) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "v6"},
           "spec": {"ports": [{"port": 80}], **spec}}
    status = await _status(await api.post("/api/v1/namespaces/default/services", json=svc), 422)
    assert message in status["message"], status["message"]


@pytest.mark.parametrize("spec", [
    {"clusterIP": "None", "ipFamilyPolicy": "RequireDualStack"},
    {"clusterIP": "None", "ipFamilies": ["IPv6"]},
    {"clusterIP": "None", "ipFamilies": ["IPv4", "IPv6"], "ipFamilyPolicy": "RequireDualStack"},
])
async def test_a_headless_selectorless_service_may_ask_for_any_family(api: TestClient, spec: dict[str, Any]) -> None:
    """kube's initIPFamilyFields returns for headless + selectorless before its cluster checks."""
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hl"}, "spec": spec}
    body = await _status(await api.post("/api/v1/namespaces/default/services", json=svc), 201)
    assert body["spec"]["clusterIP"] == "None"


async def test_a_headless_service_with_a_selector_is_still_held_to_the_cluster_s_families(api: TestClient) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "hl"},
           "spec": {"clusterIP": "None", "selector": {"app": "x"}, "ipFamilyPolicy": "RequireDualStack"}}
    status = await _status(await api.post("/api/v1/namespaces/default/services", json=svc), 422)
    assert "this cluster is not configured for dual-stack services" in status["message"]


async def test_only_a_service_that_is_neither_headless_nor_external_name_needs_ports(api: TestClient) -> None:
    services = "/api/v1/namespaces/default/services"
    headless = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "noports"},
                "spec": {"clusterIP": "None", "selector": {"app": "x"}}}
    await _status(await api.post(services, json=headless), 201)
    plain = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "plain"}, "spec": {"selector": {"app": "x"}}}
    status = await _status(await api.post(services, json=plain), 422)
    assert status["details"]["causes"] == [{"reason": "FieldValueRequired", "field": "spec.ports",
                                            "message": "Required value"}]


async def test_an_ipv4_service_keeps_its_family(api: TestClient) -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "v4"},
           "spec": {"ports": [{"port": 80}], "ipFamilies": ["IPv4"], "ipFamilyPolicy": "PreferDualStack"}}
    body = await _status(await api.post("/api/v1/namespaces/default/services", json=svc), 201)
    assert body["spec"]["ipFamilies"] == ["IPv4"] and body["spec"]["clusterIP"].startswith("10.")


async def test_fields_of_gates_on_in_1_35_are_kept_and_of_gates_off_dropped(api: TestClient) -> None:
    rules = [{"action": "Restart", "exitCodes": {"operator": "In", "values": [42]}}]
    pod = _pod("gates", container={"restartPolicy": "Always", "restartPolicyRules": rules},
               hostnameOverride="custom", workloadRef={"name": "w", "podGroup": "g"})
    pod["spec"]["initContainers"] = pod["spec"].pop("containers")
    pod["spec"]["containers"] = [{"name": "main", "image": "nginx"}]
    body = await _status(await api.post(f"{PODS}?fieldValidation=Strict", json=pod), 201)
    assert body["spec"]["initContainers"][0]["restartPolicyRules"] == rules
    assert body["spec"]["hostnameOverride"] == "custom"
    assert "workloadRef" not in body["spec"]  # GenericWorkload is alpha, off: dropped as kube drops it


async def test_fields_of_other_gates_off_in_1_35_are_dropped(api: TestClient) -> None:
    pod = _pod("off", container={"lifecycle": {"stopSignal": "SIGUSR1", "preStop": {"sleep": {"seconds": 1}}}},
               volumes=[{"name": "p", "projected": {"sources": [
                   {"clusterTrustBundle": {"signerName": "example.com/s", "path": "b.pem"}},
                   {"podCertificate": {"signerName": "example.com/s", "keyType": "ED25519",
                                       "credentialBundlePath": "c.pem"}},
                   {"configMap": {"name": "cm"}}]}}])
    body = await _status(await api.post(f"{PODS}?fieldValidation=Strict", json=pod), 201)
    assert body["spec"]["containers"][0]["lifecycle"] == {"preStop": {"sleep": {"seconds": 1}}}
    sources = body["spec"]["volumes"][0]["projected"]["sources"]
    assert not any("clusterTrustBundle" in s or "podCertificate" in s for s in sources)
    assert {"configMap": {"name": "cm"}} in sources


async def test_in_tree_volume_sources_of_1_35_are_accepted(api: TestClient) -> None:
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "ebs"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"],
                   "awsElasticBlockStore": {"volumeID": "vol-1", "fsType": "ext4"}}}
    body = await _status(await api.post("/api/v1/persistentvolumes?fieldValidation=Strict", json=pv), 201)
    assert body["spec"]["awsElasticBlockStore"] == {"volumeID": "vol-1", "fsType": "ext4"}
    pod = _pod("projected", volumes=[{"name": "p", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token", "expirationSeconds": 3600}}]}}])
    await _status(await api.post(f"{PODS}?fieldValidation=Strict", json=pod), 201)
