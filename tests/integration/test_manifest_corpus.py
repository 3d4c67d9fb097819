"""A corpus of real-world manifests (tests/data/manifests, written for these tests in the shapes the
Kubernetes docs use) applied with kubectl 1.35 to a whole control plane on hollow nodes.

Each file is its own test: in a fresh namespace (unless the file brings its own), `kubectl apply -f`
with default validation succeeds, a second apply reports every object `unchanged` (or `configured`
where Kubernetes says so too: see `again`), `kubectl get -f` lists them, every object read back
keeps what the manifest said (the manifest a subset of the stored object: the server may add
defaults, never drop or change a field), workloads reach their replica counts, pods run, claims
bind, and `kubectl delete -f` removes everything.  kubectl must print exactly the warnings
Kubernetes 1.35 gives (v1 Endpoints is deprecated).  Objects of a kind the server does not serve
(UNSERVED) must fail alone, with kubectl's `no matches for kind`, while the rest of their file
applies.  The cluster runs on both stores (the whole corpus takes about 15 s on each).  Waits are
bounded polls.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.fixtures.server import RunningCluster
from tests.integration.test_control_plane import Run, _runner, unique, wait_for

pytestmark = pytest.mark.kubectl

CORPUS = Path(__file__).resolve().parents[1] / "data" / "manifests"
FILES = sorted(CORPUS.glob("*.yaml"))
# kinds this server does not serve: kubectl must refuse each such object on its own
UNSERVED = frozenset({("batch/v1", "Job")})
WORKLOADS = frozenset({"Deployment", "StatefulSet", "ReplicaSet"})
CLUSTER_SCOPED = frozenset({"Namespace", "PersistentVolume", "IngressClass", "StorageClass"})
CLUSTER_SCOPED_WARNING = "Warning: deleting cluster-scoped resources, not scoped to the provided namespace"
# what kube-apiserver 1.35 warns about on every request for a kind (kubectl prints each once a run)
DEPRECATED = {("v1", "Endpoints"): "Warning: v1 Endpoints is deprecated in v1.33+; use discovery.k8s.io/v1 EndpointSlice"}
# kubectl delete's line per object (1.35 names the namespace of a namespaced one)
DELETED = re.compile(r'^(\S+) "([^"]+)" deleted(?: from \S+ namespace)?$')

Obj = dict[str, Any]


@pytest.fixture(scope="module")
def kubectl(kubectl_bin: Path, cluster: RunningCluster) -> Run:
    return _runner([str(kubectl_bin)], cluster)


def load(path: Path) -> list[Obj]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def resource_name(obj: Obj) -> str:
    """How kubectl names an object in its output: `deployment.apps/web`, `configmap/settings`."""
    group = obj["apiVersion"].rpartition("/")[0]
    return f"{obj['kind'].lower()}{'.' + group if group else ''}/{obj['metadata']['name']}"


def as_stored(obj: Obj) -> Obj:
    """What the manifest says once stored: a Secret's write-only stringData lands in data."""
    if obj["kind"] != "Secret" or "stringData" not in obj:
        return obj
    out = {k: v for k, v in obj.items() if k != "stringData"}
    out["data"] = {**(obj.get("data") or {}),
                   **{k: base64.b64encode(v.encode()).decode() for k, v in obj["stringData"].items()}}
    return out


def again(obj: Obj) -> str:
    """What a second `kubectl apply` of an unchanged object prints.  kubectl's three-way patch
    re-sends a whole atomic list (no patch merge key) whenever the stored one differs, and says
    `configured` for any patch but `{}`; Kubernetes itself gives three such cases, whose objects
    are `configured` on every apply there too:
    - a Secret written with stringData: never stored, so always in the patch (kubernetes/kubernetes#87736);
    - a StatefulSet's volumeClaimTemplates (atomic): kube defaults each template as a claim
      (volumeMode Filesystem, status.phase Pending; kubernetes/kubernetes#65706);
    - downward API files (atomic `items`, in a volume or a projection) whose fieldRef names no
      apiVersion: kube defaults it to v1."""
    spec = obj.get("spec") or {}
    if obj["kind"] == "Secret" and obj.get("stringData"):
        return "configured"
    if obj["kind"] == "StatefulSet" and spec.get("volumeClaimTemplates"):
        return "configured"
    pod = spec if obj["kind"] == "Pod" else (spec.get("template") or {}).get("spec") or {}
    for volume in pod.get("volumes") or []:
        sources = [volume, *((volume.get("projected") or {}).get("sources") or [])]
        files = [f for src in sources for f in (src.get("downwardAPI") or {}).get("items") or []]
        if any("fieldRef" in f and "apiVersion" not in f["fieldRef"] for f in files):
            return "configured"
    return "unchanged"


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Where `actual` does not keep what `expected` says.  Maps: every key of expected, recursively;
    lists of maps: each expected element in order among the actual ones (admission may append, as
    kube's DefaultTolerationSeconds does); anything else: equal."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: {actual!r} is not a map"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                out.append(f"{path}.{key}: missing (manifest: {value!r})")
            else:
                out += differences(value, actual[key], f"{path}.{key}")
        return out
    if isinstance(expected, list) and expected and all(isinstance(e, dict) for e in expected):
        if not isinstance(actual, list):
            return [f"{path}: {actual!r} is not a list"]
        j = 0
        for i, element in enumerate(expected):
            while j < len(actual) and differences(element, actual[j]):
                j += 1
            if j == len(actual):
                near = differences(element, actual[i]) if i < len(actual) else ["absent"]
                return [f"{path}[{i}]: not kept: {near}"]
            j += 1
        return []
    if expected != actual:
        return [f"{path}: {actual!r}, manifest: {expected!r}"]
    return []


def items(out: str) -> list[Obj]:
    doc = json.loads(out)
    return list(doc["items"]) if doc.get("kind") == "List" else [doc]


def by_name(objs: list[Obj]) -> dict[str, Obj]:
    return {resource_name(o): o for o in objs}


def not_ready(objs: list[Obj], manifest: dict[str, Obj]) -> list[str]:
    """The workloads short of their replicas, pods not running and claims not bound."""
    out = []
    for name, obj in by_name(objs).items():
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        if obj["kind"] in WORKLOADS:
            want = (manifest[name].get("spec") or {}).get("replicas", 1)
            have = (status.get("readyReplicas", 0), status.get("availableReplicas", 0), status.get("replicas", 0))
            if spec.get("replicas") != want or have != (want, want, want):
                out.append(f"{name}: ready/available/current {have}, want {want}")
        elif obj["kind"] == "Pod" and status.get("phase") != "Running":
            out.append(f"{name}: phase {status.get('phase')}")
        elif obj["kind"] == "PersistentVolumeClaim" and status.get("phase") != "Bound":
            out.append(f"{name}: phase {status.get('phase')}")
    return out


def no_matches(doc: Obj) -> str:
    group_version = doc["apiVersion"]
    return f'no matches for kind "{doc["kind"]}" in version "{group_version}"'


def assert_warnings(proc: Any, docs: list[Obj], *extra: str) -> None:
    """kubectl printed the warnings Kubernetes gives for these objects (and `extra`, its own), no others."""
    want = sorted({DEPRECATED[(d["apiVersion"], d["kind"])] for d in docs if (d["apiVersion"], d["kind"]) in DEPRECATED}
                  | set(extra))
    assert sorted(line for line in proc.stderr.splitlines() if line.startswith("Warning:")) == want, proc.stderr


def assert_unserved_refused(proc: Any, unserved: list[Obj]) -> None:
    assert proc.returncode != 0, proc.stdout
    for doc in unserved:
        assert proc.stderr.count(no_matches(doc)) == 1, proc.stderr
    assert "failed to download openapi" not in proc.stderr


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_manifest_applies_reads_back_runs_and_deletes(kubectl: Run, path: Path) -> None:
    docs = load(path)
    served = [d for d in docs if (d["apiVersion"], d["kind"]) not in UNSERVED]
    unserved = [d for d in docs if (d["apiVersion"], d["kind"]) in UNSERVED]
    manifest = {resource_name(d): as_stored(d) for d in served}
    assert len(manifest) == len(served), "one object per name in a corpus file"
    own_namespace = any(d["kind"] == "Namespace" for d in docs)
    namespace = unique("corpus")
    if not own_namespace:
        kubectl("create", "namespace", namespace)
    ns = [] if own_namespace else ["-n", namespace]
    try:
        first = kubectl("apply", *ns, "-f", str(path), check=not unserved)
        assert_warnings(first, served)
        assert sorted(first.stdout.splitlines()) == sorted(f"{n} created" for n in manifest), first.stderr
        if unserved:
            assert_unserved_refused(first, unserved)

        second = kubectl("apply", *ns, "-f", str(path), check=not unserved)
        assert_warnings(second, served)
        assert sorted(second.stdout.splitlines()) == sorted(f"{resource_name(d)} {again(d)}" for d in served), \
            second.stderr
        if unserved:
            assert_unserved_refused(second, unserved)

        # `get -f` lists the file's objects; with an unserved kind in the file kubectl prints only
        # the mapping error (it resolves every object's kind before asking the server), so those
        # files' objects are read by name
        listed = kubectl("get", *ns, "-f", str(path), "-o", "name", check=not unserved)
        if unserved:
            assert_unserved_refused(listed, unserved)
            source = list(manifest)
        else:
            assert sorted(listed.stdout.split()) == sorted(manifest)
            source = ["-f", str(path)]

        got = kubectl("get", *ns, *source, "-o", "json")
        assert_warnings(got, served)
        stored = by_name(items(got.stdout))
        assert sorted(stored) == sorted(manifest)
        for name, expected in manifest.items():
            assert differences(expected, stored[name]) == [], f"{name} read back unlike its manifest"
            if not own_namespace and stored[name]["metadata"].get("namespace") is not None:
                assert stored[name]["metadata"]["namespace"] == namespace

        def pending() -> list[str] | None:
            objs = items(kubectl("get", *ns, *source, "-o", "json").stdout)
            return not_ready(objs, manifest) or None

        try:
            wait_for("workloads at their replicas, pods running, claims bound", lambda: pending() is None,
                     timeout=90)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {pending()}") from None

        for doc in served:  # a StatefulSet's claims come from its templates, one per replica, bound
            if doc["kind"] == "StatefulSet":
                set_name = doc["metadata"]["name"]
                want = sorted(f"{t['metadata']['name']}-{set_name}-{i}" for t in doc["spec"]["volumeClaimTemplates"]
                              for i in range(doc["spec"].get("replicas", 1)))
                claims = items(kubectl("get", *ns, "pvc", "-o", "json").stdout)
                assert sorted(c["metadata"]["name"] for c in claims) == want
                assert {c["status"].get("phase") for c in claims} == {"Bound"}

        # a file's own Namespace goes first, and the namespace controller may remove the objects in
        # it before kubectl (in file order) gets to them: those are not found, as in Kubernetes
        gone = kubectl("delete", *ns, "-f", str(path), "--timeout=90s", *(["--ignore-not-found"] * own_namespace),
                       check=not unserved, timeout=120)
        # kubectl's own warning when -n meets a cluster-scoped object
        scoped = [CLUSTER_SCOPED_WARNING] if ns and any(d["kind"] in CLUSTER_SCOPED for d in served) else []
        assert_warnings(gone, served, *scoped)
        deleted = [DELETED.match(line) for line in gone.stdout.splitlines()]
        assert all(deleted), gone.stdout
        names = sorted(f"{m[1]}/{m[2]}" for m in deleted if m)
        if own_namespace:
            assert set(names) <= set(manifest), gone.stdout
            assert {resource_name(d) for d in docs if d["kind"] == "Namespace"} <= set(names), gone.stdout
        else:
            assert names == sorted(manifest), gone.stderr
        if unserved:
            assert_unserved_refused(gone, unserved)
        left = kubectl("get", *ns, *source, "-o", "name", "--ignore-not-found")
        assert left.stdout.split() == []
        for doc in served:  # a set's claims go with it under whenDeleted: Delete, else they stay
            if doc["kind"] == "StatefulSet" and doc["spec"].get("volumeClaimTemplates"):
                policy = doc["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
                selector = ",".join(f"{k}={v}" for k, v in doc["spec"]["selector"]["matchLabels"].items())

                def claims_left(selector: str = selector) -> int:
                    return len(items(kubectl("get", *ns, "pvc", "-l", selector, "-o", "json").stdout))
                if policy.get("whenDeleted") == "Delete":
                    wait_for("the set's claims to go with it", lambda: claims_left() == 0)
                else:
                    assert claims_left() > 0
    finally:
        if not own_namespace:
            kubectl("delete", "namespace", namespace, "--wait=false", check=False)
