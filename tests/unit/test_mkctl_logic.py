"""Unit tests of mkctl's pure logic: JSONPath templates, Go-tabwriter alignment, kubectl's
three-way strategic patch, kubeconfig merging and the YAML output style.  (The commands
themselves are tested against a real server in tests/integration/test_mkctl.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from minikube_py.cli.jsonpath import JSONPathError, Template
from minikube_py.cli.printing import tabulate, tabwrite, to_yaml
from minikube_py.client.kubeconfig import ConfigError, KubeConfig
from minikube_py.client.strategic import PatchMeta, three_way_patch

POD_LIST = {"kind": "List", "items": [
    {"metadata": {"name": "a", "labels": {"app": "x"}},
     "status": {"conditions": [{"type": "Ready", "status": "True"}, {"type": "Init", "status": "False"}]},
     "spec": {"containers": [{"name": "c1", "image": "nginx"}, {"name": "c2", "image": "busybox"}]}},
    {"metadata": {"name": "b", "labels": {}},
     "status": {"conditions": [{"type": "Ready", "status": "False"}]},
     "spec": {"containers": [{"name": "c1", "image": "redis"}]}},
]}


@pytest.mark.parametrize(("template", "expected"), [
    ("{.items[*].metadata.name}", "a b"),
    (".items[0].metadata.name", "a"),
    ("{.items[-1].spec.containers[0].image}", "redis"),
    ("{.items[0].spec.containers[*].image}", "nginx busybox"),
    ("{range .items[*]}{.metadata.name}{\"\\t\"}{.spec.containers[0].image}{\"\\n\"}{end}", "a\tnginx\nb\tredis\n"),
    ("{.items[?(@.metadata.name==\"b\")].spec.containers[0].image}", "redis"),
    ("{.items[0].status.conditions[?(@.type==\"Ready\")].status}", "True"),
    ("{..image}", "nginx busybox redis"),
    ("{.items[0].metadata.labels}", '{"app":"x"}'),
    ("{.items[0:1].metadata.name}", "a"),
    ("{.items[*].metadata['name']}", "a b"),
    ("{.items[0].metadata.missing}", ""),
    ("name={.items[1].metadata.name}!", "name=b!"),
])
def test_jsonpath_templates(template: str, expected: str) -> None:
    assert Template(template).render(POD_LIST) == expected


def test_jsonpath_errors_are_reported() -> None:
    with pytest.raises(JSONPathError):
        Template("{range .items[*]}{.metadata.name}")
    with pytest.raises(JSONPathError):
        Template("{.items[0}")
    with pytest.raises(JSONPathError):
        Template("{.items[5]}").render(POD_LIST)


def test_tabulate_is_kubectls_table_layout() -> None:
    rows = [["NAME", "READY", "AGE"], ["web-1", "1/1", "5s"], ["a-much-longer-name", "0/1", "10m"]]
    assert tabulate(rows) == ("NAME                 READY   AGE\n"
                              "web-1                1/1     5s\n"
                              "a-much-longer-name   0/1     10m\n")
    widths: list[int] = []
    tabulate([["N", "X"], ["abcdefgh", "1"]], widths)
    assert tabulate([["a", "2"]], widths) == "a          2\n"  # a watch row keeps the table's columns


def test_tabwrite_aligns_blocks_like_go() -> None:
    text = "Name:\tweb\nLonger Field:\tx\nSection:\n  Inner:\t1\n  Other Inner:\t2\nEvents:\t<none>\n"
    assert tabwrite(text) == ("Name:          web\nLonger Field:  x\nSection:\n"
                              "  Inner:        1\n  Other Inner:  2\nEvents:         <none>\n")


def test_yaml_looks_like_kubectls() -> None:
    shared = {"app": "x"}
    text = to_yaml({"b": ["1", "y", "yes"], "a": {"labels": shared, "selector": shared}, "t": "2024-01-01T00:00:00Z",
                    "m": "line one\nline two\n"})
    assert text == ('a:\n  labels:\n    app: x\n  selector:\n    app: x\nb:\n- "1"\n- "y"\n- "yes"\n'
                    'm: |\n  line one\n  line two\nt: "2024-01-01T00:00:00Z"\n')


SCHEMAS = {"components": {"schemas": {
    "io.k8s.api.apps.v1.Deployment": {
        "x-kubernetes-group-version-kind": [{"group": "apps", "version": "v1", "kind": "Deployment"}],
        "properties": {"metadata": {"$ref": "#/components/schemas/Meta"},
                       "spec": {"anyOf": [{"$ref": "#/components/schemas/Spec"}, {"type": "null"}]}}},
    "Meta": {"properties": {"labels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "finalizers": {"type": "array", "items": {"type": "string"},
                                           "x-kubernetes-patch-strategy": "merge"}}},
    "Spec": {"properties": {"containers": {"type": "array", "items": {"$ref": "#/components/schemas/Container"},
                                           "x-kubernetes-patch-merge-key": "name",
                                           "x-kubernetes-patch-strategy": "merge"},
                            "args": {"type": "array", "items": {"type": "string"}}}},
    "Container": {"properties": {"env": {"type": "array", "items": {"type": "object"},
                                         "x-kubernetes-patch-merge-key": "name",
                                         "x-kubernetes-patch-strategy": "merge"}}},
}}}


def _meta() -> PatchMeta:
    return PatchMeta.for_kind(SCHEMAS, "apps", "v1", "Deployment")


def test_three_way_patch_deletes_only_what_the_user_removed() -> None:
    original = {"metadata": {"labels": {"a": "1", "drop": "x"}},
                "spec": {"containers": [{"name": "web", "image": "v1", "env": [{"name": "A"}, {"name": "B"}]},
                                        {"name": "gone", "image": "x"}], "args": ["x"]}}
    modified = {"metadata": {"labels": {"a": "2"}},
                "spec": {"containers": [{"name": "web", "image": "v2", "env": [{"name": "A"}]}], "args": ["y"]}}
    current = {"metadata": {"labels": {"a": "1", "drop": "x", "other": "kept"}, "uid": "u"},
               "spec": {"containers": [{"name": "web", "image": "v1", "env": [{"name": "A"}, {"name": "B"}],
                                        "imagePullPolicy": "IfNotPresent"},
                                       {"name": "gone", "image": "x"}, {"name": "theirs", "image": "t"}],
                        "args": ["x"]}}
    patch = three_way_patch(original, modified, current, _meta())
    assert patch["metadata"] == {"labels": {"a": "2", "drop": None}}
    spec = patch["spec"]
    assert spec["args"] == ["y"]  # a list without a merge strategy is replaced whole
    assert spec["$setElementOrder/containers"] == [{"name": "web"}]
    by_name = {c["name"]: c for c in spec["containers"]}
    assert by_name["gone"] == {"name": "gone", "$patch": "delete"}
    assert "theirs" not in by_name  # another writer's container is left alone
    assert by_name["web"]["image"] == "v2"
    assert {"name": "B", "$patch": "delete"} in by_name["web"]["env"]
    assert "imagePullPolicy" not in by_name["web"]  # server defaults are not deleted


def test_three_way_patch_is_empty_when_nothing_changed() -> None:
    obj = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "web", "image": "v1"}]}}
    current = {"metadata": {"labels": {"a": "1"}, "resourceVersion": "5"},
               "spec": {"containers": [{"name": "web", "image": "v1", "imagePullPolicy": "IfNotPresent"}]}}
    assert three_way_patch(obj, obj, current, _meta()) == {}


def test_three_way_patch_of_merged_primitive_lists() -> None:
    original = {"metadata": {"finalizers": ["a", "b"]}}
    modified = {"metadata": {"finalizers": ["a", "c"]}}
    current = {"metadata": {"finalizers": ["a", "b", "z"]}}
    patch = three_way_patch(original, modified, current, _meta())["metadata"]
    assert patch["finalizers"] == ["c"]
    assert patch["$deleteFromPrimitiveList/finalizers"] == ["b"]


def _write(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


def test_kubeconfig_merge_and_writes_go_to_the_defining_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _write(tmp_path / "one", {"current-context": "c1",
                                      "contexts": [{"name": "c1", "context": {"cluster": "k1", "user": "u1"}}],
                                      "clusters": [{"name": "k1", "cluster": {"server": "https://one:6443"}}],
                                      "users": [{"name": "u1", "user": {"token": "t1"}}]})
    second = _write(tmp_path / "two", {"current-context": "c2",
                                       "contexts": [{"name": "c1", "context": {"cluster": "ignored"}},
                                                    {"name": "c2", "context": {"cluster": "k1", "user": "u1",
                                                                               "namespace": "ns2"}}],
                                       "clusters": [], "users": []})
    monkeypatch.setenv("KUBECONFIG", f"{first}:{second}")
    cfg = KubeConfig.load()
    assert cfg.current_context == "c1"  # the first file to set a value wins
    conn = cfg.connection()
    assert (conn.server, conn.token, conn.namespace) == ("https://one:6443", "t1", "default")
    assert cfg.connection(context="c2").namespace == "ns2"
    cfg.set_context("c2", {"namespace": "other"})
    assert yaml.safe_load(second.read_text())["contexts"][1]["context"]["namespace"] == "other"
    cfg.set_current_context("c2")
    assert yaml.safe_load(first.read_text())["current-context"] == "c2"
    with pytest.raises(ConfigError, match="context was not found"):
        cfg.connection(context="nope")
