"""Thousands of malformed requests against the real app on the real sqlite store: never a 5xx.

Bodies are random JSON values, random mutations of valid objects, and random bytes; paths,
methods, content types and query parameters are drawn too.  After the storm the server still
answers /readyz and still serves a valid object.
"""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import orjson
from aiohttp.test_utils import TestClient, TestServer
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from minikube_py.apiserver.app import make_app
from minikube_py.store import open_store

PATHS = [
    "/api/v1/namespaces/default/configmaps", "/api/v1/namespaces/default/configmaps/fz",
    "/api/v1/namespaces/default/pods", "/api/v1/namespaces/default/pods/fz",
    "/api/v1/namespaces/default/pods/fz/status", "/api/v1/namespaces/default/pods/fz/binding",
    "/api/v1/namespaces/default/services", "/api/v1/namespaces/default/services/fz", "/api/v1/namespaces",
    "/api/v1/nodes/fz", "/apis/apps/v1/namespaces/default/deployments", "/apis/apps/v1/namespaces/default/deployments/fz",
    "/apis/apps/v1/namespaces/default/deployments/fz/scale", "/apis/apps/v1/namespaces/default/statefulsets",
    "/apis/networking.k8s.io/v1/namespaces/default/ingresses", "/apis/nope/v1/things", "/api/v1/namespaces/default/x",
    "/api/v1/namespaces/default/configmaps/fz/nope", "/apis/storage.k8s.io/v1/storageclasses/fz",
]
CONTENT_TYPES = ["application/json", "application/yaml", "application/merge-patch+json",
                 "application/strategic-merge-patch+json", "application/json-patch+json", "text/plain", ""]
QUERIES = ["", "?watch=false", "?labelSelector=a%3D%3D%3Db", "?labelSelector=a+in+(", "?fieldSelector=spec.x%3D1",
           "?limit=abc", "?continue=%%%", "?fieldValidation=Bogus", "?dryRun=Some", "?fieldValidation=Strict",
           "?resourceVersion=-5&watch=true&timeoutSeconds=0", "?gracePeriodSeconds=x", "?propagationPolicy=Nope",
           "?includeObject=Nope", "?limit=1&continue=eyJydiI6ImEifQ"]

VALID = {
    "configmaps": {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "fz"}, "data": {"a": "b"}},
    "pods": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "fz"},
             "spec": {"containers": [{"name": "c", "image": "busybox", "ports": [{"containerPort": 80}]}]}},
    "deployments": {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "fz"},
                    "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                             "template": {"metadata": {"labels": {"a": "b"}},
                                          "spec": {"containers": [{"name": "c", "image": "x"}]}}}},
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)


@st.composite
def mutated(draw: st.DrawFn) -> Any:
    obj = copy.deepcopy(draw(st.sampled_from(list(VALID.values()))))
    for _ in range(draw(st.integers(1, 3))):
        node = obj
        path = []
        while isinstance(node, dict) and node and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(node)))
            path.append(key)
            if not isinstance(node[key], dict | list):
                break
            node = node[key] if isinstance(node[key], dict) else (node[key][0] if node[key] else {})
        if isinstance(node, dict):
            key = draw(st.sampled_from(sorted(node) + ["extra", "metadata", "spec"]))
            node[key] = draw(json_values)
    return obj


bodies = st.one_of(
    json_values.map(orjson.dumps),
    mutated().map(orjson.dumps),
    st.binary(max_size=64),
    st.lists(st.fixed_dictionaries({"op": st.sampled_from(["add", "remove", "replace", "move", "test", "x"]),
                                    "path": st.sampled_from(["/spec", "/metadata/name", "/data/a", "", "/x/y/z"]),
                                    "value": json_values}), max_size=3).map(orjson.dumps),
)


def test_malformed_requests_never_get_a_5xx(tmp_path: Path) -> None:
    async def run() -> None:
        store = open_store("sqlite", tmp_path)
        client = TestClient(TestServer(make_app(store)))
        await client.start_server()
        failures: list[str] = []
        try:
            loop = asyncio.get_running_loop()

            @settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            @given(method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]), path=st.sampled_from(PATHS),
                   query=st.sampled_from(QUERIES), ctype=st.sampled_from(CONTENT_TYPES), body=bodies)
            def one(method: str, path: str, query: str, ctype: str, body: bytes) -> None:
                async def go() -> None:
                    headers = {"Content-Type": ctype} if ctype else {}
                    resp = await client.request(method, path + query, data=body, headers=headers)
                    payload = await resp.read()
                    if resp.status >= 500:
                        failures.append(f"{method} {path}{query} {ctype} {body[:200]!r} -> {resp.status} {payload[:300]!r}")
                    elif resp.status >= 400:
                        assert orjson.loads(payload)["kind"] == "Status", payload[:200]

                asyncio.run_coroutine_threadsafe(go(), loop).result(timeout=30)

            await loop.run_in_executor(None, one)
            assert not failures, "\n".join(failures[:10])
            assert (await client.get("/readyz")).status == 200
            ok = await client.post("/api/v1/namespaces/default/configmaps",
                                   json={"metadata": {"name": "after-storm"}, "data": {"k": "v"}})
            assert ok.status == 201
        finally:
            await client.close()
            await store.close()

    asyncio.run(run())
