"""Bad input against the real app in-process on the real sqlite store: a 4xx Status that names the
field and the problem, never a 5xx, and nothing stored changes.  Also the data dir's modes."""

from __future__ import annotations

import base64
import json
import os
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.web_runner import BaseRunner

from minikube_py.api.b64 import base64_error_offset
from minikube_py.apiserver.app import make_app
from minikube_py.apiserver.auth import User
from minikube_py.apiserver.decode import MAX_DEPTH
from minikube_py.apiserver.httpserver import MAX_HEADER_BYTES, ApiRunner
from minikube_py.store import open_store

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CMS = "/api/v1/namespaces/default/configmaps"
SECRETS = "/api/v1/namespaces/default/secrets"
PODS = "/api/v1/namespaces/default/pods"
PVS = "/api/v1/persistentvolumes"
MERGE, STRATEGIC, JSON_PATCH = ("application/merge-patch+json", "application/strategic-merge-patch+json",
                                "application/json-patch+json")


class ApiTestServer(TestServer):
    """The app served as `minikube-py server` serves it (ApiRunner: parse errors answered as a Status)."""

    async def _make_runner(self, **kwargs: Any) -> BaseRunner:
        return ApiRunner(self.app, **kwargs)


@pytest.fixture
async def api(aiohttp_client: Any, tmp_path: Path) -> AsyncIterator[TestClient]:
    store = open_store("sqlite", tmp_path)
    app = make_app(store, tokens={TOKEN: User("admin", "1", ("system:masters",))})
    client: TestClient = await aiohttp_client(ApiTestServer(app), headers=AUTH)
    yield client
    await store.close()


def cm(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def nest(depth: int, leaf: Any = 1) -> Any:
    value = leaf
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_json(depth: int) -> str:
    """nest(depth) as JSON text (json.dumps itself overflows the stack near 1000 levels)."""
    return '{"a":' * depth + "1" + "}" * depth


async def status_of(resp: Any, code: int) -> dict[str, Any]:
    """The Status body of a `code` answer (asserting it is one)."""
    text = await resp.text()
    assert resp.status == code, text
    body = json.loads(text)
    assert body["kind"] == "Status" and body["status"] == "Failure" and body["code"] == code, body
    return body


async def stored(api: TestClient, path: str) -> dict[str, Any]:
    resp = await api.get(path)
    assert resp.status == 200
    return dict(await resp.json())


# --- 1. integer query parameters ----------------------------------------------------------------


@pytest.mark.parametrize("limit", ["9223372036854775807", "2147483648", "-1", "-9223372036854775808", "0"])
async def test_any_int64_limit_lists_everything(api: TestClient, limit: str) -> None:
    for name in ("l1", "l2"):
        await api.post(CMS, json=cm(name))
    resp = await api.get(f"{CMS}?limit={limit}")
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    assert [o["metadata"]["name"] for o in body["items"]] == ["l1", "l2"]
    assert "continue" not in body["metadata"]


@pytest.mark.parametrize(("query", "field"), [
    ("limit=abc", "limit"), ("limit=1e3", "limit"), ("limit=%201", "limit"), ("limit=1_0", "limit"),
    ("limit=9223372036854775808", "limit"), ("limit=-99999999999999999999", "limit"),
    ("watch=true&timeoutSeconds=99999999999999999999999999", "timeoutSeconds"),
    ("watch=true&timeoutSeconds=x", "timeoutSeconds"),
])
async def test_non_int64_query_integers_are_400_naming_the_parameter(api: TestClient, query: str, field: str) -> None:
    status = await status_of(await api.get(f"{CMS}?{query}"), 400)
    assert status["reason"] == "BadRequest" and status["message"].startswith(f"{field}: Invalid value: ")


@pytest.mark.parametrize("rv", ["abc", "-1", "1.5", "18446744073709551616"])
async def test_unparseable_resource_version_is_400_invalid_value_on_list_get_and_watch(api: TestClient,
                                                                                      rv: str) -> None:
    await api.post(CMS, json=cm("rv"))
    for path in (f"{CMS}?resourceVersion={rv}", f"{CMS}/rv?resourceVersion={rv}",
                 f"{CMS}?watch=true&resourceVersion={rv}"):
        status = await status_of(await api.get(path), 400)
        assert status["message"].startswith(f'invalid resource version: resourceVersion: Invalid value: "{rv}"')


@pytest.mark.parametrize("rv", ["18446744073709551615", "9223372036854775808", "9223372036854775807"])
async def test_resource_version_beyond_any_revision_reaches_no_store(api: TestClient, rv: str) -> None:
    """Any uint64 is a valid resourceVersion; one newer than the store is kube-apiserver's 504 "Too large
    resource version" (clients retry it), never a store's overflow."""
    await api.post(CMS, json=cm("far"))
    for query in (f"resourceVersion={rv}", f"resourceVersion={rv}&limit=1",
                  f"resourceVersion={rv}&resourceVersionMatch=Exact"):
        status = await status_of(await api.get(f"{CMS}?{query}"), 504)
        assert status["message"].startswith("Timeout: Too large resource version: "), status
    resp = await api.get(f"{CMS}/far?resourceVersion={rv}")
    assert resp.status == 200
    resp = await api.get(f"{CMS}?watch=true&resourceVersion={rv}&timeoutSeconds=1")
    assert resp.status < 500, await resp.text()


@pytest.mark.parametrize("revision", [2**64, 2**70, "1", 1.5, None])
async def test_continue_token_with_an_impossible_revision_is_400(api: TestClient, revision: Any) -> None:
    token = base64.urlsafe_b64encode(json.dumps({"rv": revision, "start": ""}).encode()).decode().rstrip("=")
    status = await status_of(await api.get(f"{CMS}?limit=1&continue={token}"), 400)
    assert status["message"] == "continue: Invalid value: the continue token is not valid"


async def test_grace_period_must_be_an_int64_and_any_int64_works(api: TestClient) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "g"},
           "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]}}
    assert (await api.post(PODS, json=pod)).status == 201
    for bad in ("99999999999999999999", "x", "1.5"):
        status = await status_of(await api.delete(f"{PODS}/g?gracePeriodSeconds={bad}"), 400)
        assert status["message"].startswith('gracePeriodSeconds: Invalid value: ')
    for body in ({"gracePeriodSeconds": 2**64}, {"gracePeriodSeconds": "5"}, {"gracePeriodSeconds": True},
                 {"preconditions": "x"}, {"preconditions": {"uid": 5}}, {"dryRun": 5}, {"dryRun": "All"},
                 {"propagationPolicy": {"a": 1}}, {"orphanDependents": [1]}, [1]):
        status = await status_of(await api.delete(f"{PODS}/g", json=body), 400)
        assert status["reason"] == "BadRequest", status
    assert (await stored(api, f"{PODS}/g"))["metadata"].get("deletionTimestamp") is None
    resp = await api.delete(f"{PODS}/g?gracePeriodSeconds={2**63 - 1}")
    assert resp.status == 200, await resp.text()
    assert (await resp.json())["metadata"]["deletionTimestamp"] == "9999-12-31T23:59:59Z"


# --- 2. nesting ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ctype", [MERGE, STRATEGIC, JSON_PATCH])
@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 500, 1000, 10_000])
async def test_deeply_nested_patch_is_400_naming_the_limit_and_changes_nothing(api: TestClient, ctype: str,
                                                                               depth: int) -> None:
    before = await (await api.post(CMS, json=cm("deep", a="1"))).json()
    patch = '{"data": {"a": "2"}, "x": ' + deep_json(depth) + "}"
    if ctype == JSON_PATCH:
        patch = '[{"op": "add", "path": "/x", "value": ' + deep_json(depth) + "}]"
    status = await status_of(await api.patch(f"{CMS}/deep", data=patch.encode(), headers={"Content-Type": ctype}),
                             400)
    if depth <= 1000:  # deeper, orjson itself stops ("depth limit exceeded")
        assert f"exceeded max depth: objects and lists may nest at most {MAX_DEPTH} levels" in status["message"]
    else:
        assert "depth limit exceeded" in status["message"], status
    assert await stored(api, f"{CMS}/deep") == before


@pytest.mark.parametrize("ctype", [MERGE, STRATEGIC, JSON_PATCH])
async def test_patch_nested_just_below_the_limit_works(api: TestClient, ctype: str) -> None:
    pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
          "spec": {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/x"}}}
    assert (await api.post(PVS, json=pv)).status == 201
    patch: Any = {"spec": {"extra": nest(MAX_DEPTH - 3)}}  # PV specs keep unknown fields: a real deep object
    if ctype == JSON_PATCH:
        patch = [{"op": "add", "path": "/spec/extra", "value": nest(MAX_DEPTH - 3)}]
    resp = await api.patch(f"{PVS}/pv", data=json.dumps(patch).encode(), headers={"Content-Type": ctype})
    assert resp.status == 200, await resp.text()


async def test_json_patch_that_nests_the_object_too_deep_is_422_and_changes_nothing(api: TestClient) -> None:
    before = await (await api.post(CMS, json=cm("grow", a="1"))).json()
    ops = [{"op": "add", "path": "/x", "value": nest(150)},
           {"op": "add", "path": "/x" + "/a" * 100, "value": nest(150)}]
    status = await status_of(await api.patch(f"{CMS}/grow", data=json.dumps(ops).encode(),
                                             headers={"Content-Type": JSON_PATCH}), 422)
    assert f"exceeded max depth: objects and lists may nest at most {MAX_DEPTH} levels" in status["message"]
    assert await stored(api, f"{CMS}/grow") == before


async def test_json_patch_copies_are_bounded_as_kube_apiserver_bounds_them(api: TestClient) -> None:
    before = await (await api.post(CMS, json=cm("copy", a="x" * 1000))).json()
    ops = [{"op": "copy", "from": "/data", "path": f"/data{i}"} for i in range(4000)]  # 4 MB of copies
    status = await status_of(await api.patch(f"{CMS}/copy", data=json.dumps(ops).encode(),
                                             headers={"Content-Type": JSON_PATCH}), 422)
    assert "the accumulated size increase of copy is" in status["message"] and str(3 * 1024 * 1024) in status["message"]
    doubling = [{"op": "copy", "from": "", "path": "/x"}] + [{"op": "copy", "from": "/x", "path": "/x/x"}] * 40
    status = await status_of(await api.patch(f"{CMS}/copy", data=json.dumps(doubling).encode(),
                                             headers={"Content-Type": JSON_PATCH}), 422)
    assert await stored(api, f"{CMS}/copy") == before


async def test_more_than_10000_json_patch_operations_is_413(api: TestClient) -> None:
    await api.post(CMS, json=cm("ops"))
    ops = [{"op": "test", "path": "/kind", "value": "ConfigMap"}] * 10_001
    status = await status_of(await api.patch(f"{CMS}/ops", data=json.dumps(ops).encode(),
                                             headers={"Content-Type": JSON_PATCH}), 413)
    assert status["message"] == "The allowed maximum operations in a JSON patch is 10000, got 10001"


@pytest.mark.parametrize("ctype", ["application/json", "application/yaml"])
async def test_deeply_nested_bodies_are_400_in_json_and_yaml(api: TestClient, ctype: str) -> None:
    for depth in (MAX_DEPTH + 1, 1000, 100_000):
        body = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": f"d{depth}"},
                "spec": {"extra": nest(depth)}}
        raw = json.dumps(body).encode() if depth < 1000 else (
            b'{"metadata": {"name": "x"}, "spec": {"extra": ' + b"[" * depth + b"]" * depth + b"}}")
        status = await status_of(await api.post(PVS, data=raw, headers={"Content-Type": ctype}), 400)
        assert "depth" in status["message"], status
    assert (await api.get("/readyz")).status == 200  # libyaml recursing 100000 levels would have crashed us


async def test_yaml_alias_bomb_is_400(api: TestClient) -> None:
    lines = ['a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    lines += [f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    body = "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: bomb}\nspec:\n" + "".join(
        f"  {line}\n" for line in lines)
    status = await status_of(await api.post(PVS, data=body, headers={"Content-Type": "application/yaml"}), 400)
    assert "excessive aliasing" in status["message"]


@pytest.mark.parametrize(("value", "problem"), [
    ("123456789012345678901234567890", "an integer beyond 64 bits"), (".nan", "not a finite number"),
    ("!!binary aGVsbG8=", "a bytes"), ("{1: a}", "the key 1 is not a string"),
])
async def test_yaml_values_that_json_cannot_carry_are_400_naming_the_field(api: TestClient, value: str,
                                                                          problem: str) -> None:
    body = f"apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: y}}\nspec:\n  extra:\n    v: {value}\n"
    status = await status_of(await api.post(PVS, data=body, headers={"Content-Type": "application/yaml"}), 400)
    assert "spec.extra" in status["message"] and problem in status["message"], status


# --- 3. []byte fields ---------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "offset"), [
    ("QQ==", None), ("QUJD", None), ("QUJD\nREVG\r\n", None), ("QQ\n=\n=", None), ("", None),
    ("!!!", 0), ("QQ", 0), ("QQ=", 3), ("QUJDRA", 4), ("QQ==QQ==", 4), ("QUJDREVG=", 8), ("QU=D", 2),
    ("QUJD RA==", 4), ("é", 0), ("QUJDé", 4), ("QQ==\n\nx", 6),
])
def test_base64_errors_are_gos_offsets(value: str, offset: int | None) -> None:
    assert base64_error_offset(value) == offset


@pytest.mark.parametrize(("path", "kind", "field"), [(SECRETS, "Secret", "data"), (CMS, "ConfigMap", "binaryData")])
async def test_bad_base64_in_byte_fields_is_400_as_kube_apiserver_decodes(api: TestClient, path: str, kind: str,
                                                                         field: str) -> None:
    obj = {"apiVersion": "v1", "kind": kind, "metadata": {"name": "b"}, field: {"k": "QUJ!"}}
    status = await status_of(await api.post(path, json=obj), 400)
    assert status["message"] == (f'{kind} in version "v1" cannot be handled as a {kind}: {field}[k]: illegal base64 '
                                 "data at input byte 3")
    assert (await api.get(f"{path}/b")).status == 404
    obj[field] = {"k": "QUJD\nREVG"}  # Go's decoder skips newlines
    assert (await api.post(path, json=obj)).status == 201
    before = await stored(api, f"{path}/b")
    for ctype, patch in ((MERGE, {field: {"k2": "nope!"}}), (STRATEGIC, {field: {"k2": "nope!"}}),
                         (JSON_PATCH, [{"op": "add", "path": f"/{field}/k2", "value": "nope!"}])):
        status = await status_of(await api.patch(f"{path}/b", data=json.dumps(patch).encode(),
                                                 headers={"Content-Type": ctype}), 400)
        assert f"{field}[k2]: illegal base64 data at input byte 4" in status["message"]
    status = await status_of(await api.put(f"{path}/b", json=dict(before, **{field: {"k": "A"}})), 400)
    assert f"{field}[k]: illegal base64 data at input byte 0" in status["message"]
    assert await stored(api, f"{path}/b") == before


# --- 4. immutable metadata ----------------------------------------------------------------------


async def test_changing_metadata_uid_is_422_field_is_immutable_by_patch_put_and_status(api: TestClient) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "u"},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    before = await (await api.post(PODS, json=pod)).json()
    for method, path, body, ctype in (
            ("PATCH", f"{PODS}/u", {"metadata": {"uid": "other"}}, MERGE),
            ("PATCH", f"{PODS}/u", {"metadata": {"uid": "other"}}, STRATEGIC),
            ("PATCH", f"{PODS}/u", [{"op": "replace", "path": "/metadata/uid", "value": "other"}], JSON_PATCH),
            ("PATCH", f"{PODS}/u/status", {"metadata": {"uid": "other"}}, MERGE),
            ("PUT", f"{PODS}/u", dict(before, metadata=dict(before["metadata"], uid="other")), "application/json")):
        resp = await api.request(method, path, data=json.dumps(body).encode(), headers={"Content-Type": ctype})
        status = await status_of(resp, 422)
        assert status["message"] == 'Pod "u" is invalid: metadata.uid: Invalid value: "other": field is immutable'
        assert status["details"]["causes"] == [{"reason": "FieldValueInvalid", "field": "metadata.uid",
                                               "message": 'Invalid value: "other": field is immutable'}]
    assert await stored(api, f"{PODS}/u") == before


async def test_update_without_uid_keeps_it_and_creation_timestamp_is_silently_kept(api: TestClient) -> None:
    before = await (await api.post(CMS, json=cm("keep", a="1"))).json()
    sent = cm("keep", a="2")
    sent["metadata"]["creationTimestamp"] = "2000-01-01T00:00:00Z"
    resp = await api.put(f"{CMS}/keep", json=sent)
    assert resp.status == 200, await resp.text()
    meta = (await resp.json())["metadata"]
    assert meta["uid"] == before["metadata"]["uid"]
    assert meta["creationTimestamp"] == before["metadata"]["creationTimestamp"]


@pytest.mark.parametrize(("field", "value"), [("deletionTimestamp", "2030-01-01T00:00:00Z"),
                                              ("deletionGracePeriodSeconds", 5)])
async def test_an_update_may_not_start_a_deletion(api: TestClient, field: str, value: Any) -> None:
    before = await (await api.post(CMS, json=cm("del"))).json()
    status = await status_of(await api.patch(f"{CMS}/del", json={"metadata": {field: value}},
                                             headers={"Content-Type": MERGE}), 422)
    assert status["details"]["causes"][0]["field"] == f"metadata.{field}"
    assert status["message"].endswith("field is immutable")
    assert await stored(api, f"{CMS}/del") == before


async def test_pending_deletion_keeps_its_timestamp_and_grace_period(api: TestClient) -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "d"},
           "spec": {"nodeName": "node-1", "containers": [{"name": "c", "image": "busybox"}]}}
    await api.post(PODS, json=pod)
    pending = await (await api.delete(f"{PODS}/d")).json()
    meta = pending["metadata"]
    # leaving deletionTimestamp and deletionGracePeriodSeconds out, or changing the timestamp: silently kept
    resp = await api.patch(f"{PODS}/d", json={"metadata": {"labels": {"a": "b"}, "deletionTimestamp": None,
                                                           "deletionGracePeriodSeconds": None}},
                           headers={"Content-Type": MERGE})
    assert resp.status == 200, await resp.text()
    kept = (await resp.json())["metadata"]
    assert (kept["deletionTimestamp"], kept["deletionGracePeriodSeconds"]) == (
        meta["deletionTimestamp"], meta["deletionGracePeriodSeconds"])
    status = await status_of(await api.patch(f"{PODS}/d", json={"metadata": {"deletionGracePeriodSeconds": 1}},
                                             headers={"Content-Type": MERGE}), 422)
    assert status["details"]["causes"][0]["field"] == "metadata.deletionGracePeriodSeconds"


async def test_name_and_namespace_of_an_update_must_match_the_url(api: TestClient) -> None:
    before = await (await api.post(CMS, json=cm("nm"))).json()
    status = await status_of(await api.patch(f"{CMS}/nm", json={"metadata": {"name": "other"}},
                                             headers={"Content-Type": MERGE}), 400)
    assert status["message"] == "the name of the object (other) does not match the name on the URL (nm)"
    status = await status_of(await api.patch(f"{CMS}/nm", json={"metadata": {"namespace": "kube-system"}},
                                             headers={"Content-Type": MERGE}), 400)
    assert "namespace" in status["message"]
    assert await stored(api, f"{CMS}/nm") == before


# --- 5. request line and header sizes -----------------------------------------------------------


async def test_urls_and_headers_up_to_1mib_are_served(api: TestClient) -> None:
    await api.post(CMS, json=cm("big", a="1"))
    selector = "a+notin+(" + ",".join(f"v{i}" for i in range(30_000)) + ")"  # ~200 KiB
    resp = await api.get(f"{CMS}?labelSelector={selector}")
    assert resp.status == 200 and len((await resp.json())["items"]) == 1
    resp = await api.get(CMS, headers={"X-Big": "b" * 500_000})
    assert resp.status == 200


@pytest.mark.parametrize(("what", "url", "headers"), [
    ("the request URL", f"{CMS}?labelSelector={'a' * (MAX_HEADER_BYTES + 10)}", {}),
    ("a header field", CMS, {"X-Big": "b" * (MAX_HEADER_BYTES + 10)}),
    ("the request line and headers have", CMS, {"X-A": "a" * (MAX_HEADER_BYTES // 2 + 3000),
                                               "X-B": "b" * (MAX_HEADER_BYTES // 2 + 3000)}),
])
async def test_beyond_1mib_of_request_line_and_headers_is_a_431_status(api: TestClient, what: str, url: str,
                                                                       headers: dict[str, str]) -> None:
    status = await status_of(await api.get(url, headers=headers), 431)
    assert status["reason"] == "RequestHeaderFieldsTooLarge"
    assert status["message"].startswith(f"Request Header Fields Too Large: {what}")
    assert str(MAX_HEADER_BYTES) in status["message"]


# --- 6. the data dir's modes --------------------------------------------------------------------


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _all_in(data_dir: Path) -> list[Path]:
    return [p for d in (data_dir, data_dir / "pki") for p in d.iterdir() if p.is_file()]


async def test_a_start_makes_the_data_dir_private_and_fixes_an_old_one(tmp_path: Path) -> None:
    from minikube_py.cli.server import prepare_data_dir

    data_dir = tmp_path / "data"
    old_umask = os.umask(0)  # whatever the umask, the modes are the server's
    try:
        prepare_data_dir(data_dir, bind="127.0.0.1", port=6443, store_url="sqlite")
        assert _mode(data_dir) == 0o700 and _mode(data_dir / "pki") == 0o700
        names = {str(p.relative_to(data_dir)) for p in _all_in(data_dir)}
        assert {"state.db", "tokens.csv", "kubeconfig", "pki/ca.key", "pki/apiserver.key"} <= names
        assert {oct(_mode(p)) for p in _all_in(data_dir)} == {"0o600"}

        os.umask(0o022)  # an older version's dir: 0755 dirs, 0644 files, sqlite's side files too
        for d in (data_dir, data_dir / "pki"):
            d.chmod(0o755)
        for name in ("state.db-wal", "state.db-shm"):
            (data_dir / name).write_bytes(b"")
        for p in _all_in(data_dir):
            p.chmod(0o644)
        prepare_data_dir(data_dir, bind="127.0.0.1", port=6443, store_url="sqlite")
        assert _mode(data_dir) == 0o700 and _mode(data_dir / "pki") == 0o700
        assert {p.name: oct(_mode(p)) for p in _all_in(data_dir)} == {p.name: "0o600" for p in _all_in(data_dir)}
        for name in ("state.db-wal", "state.db-shm"):
            (data_dir / name).unlink()

        store = open_store("sqlite", data_dir)  # what `minikube-py server` opens
        try:
            for i in range(20):
                await store.create(f"/registry/configmaps/default/m{i}", b"{}")
            assert (data_dir / "state.db-wal").exists() and (data_dir / "state.db-shm").exists()
            assert {p.name: oct(_mode(p)) for p in _all_in(data_dir)} == {p.name: "0o600" for p in _all_in(data_dir)}
        finally:
            await store.close()
    finally:
        os.umask(old_umask)
