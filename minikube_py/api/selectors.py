"""Label and field selectors in their string form (`app=web,tier!=db`, `env in (a,b)`, `!x`).

The apiserver filters lists and watches with them; the client and mkctl pass them through.
Parse errors raise `BadRequest` with Kubernetes' wording so the caller gets a 400.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import BadRequest

_KEY = re.compile(r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        if self.op == "=":
            return present and labels[self.key] == self.values[0]
        if self.op == "!=":
            return not present or labels[self.key] != self.values[0]
        if self.op == "in":
            return present and labels[self.key] in self.values
        if self.op == "notin":
            return not present or labels[self.key] not in self.values
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("gt", "lt"):
            if not present:
                return False
            try:
                have, want = int(labels[self.key]), int(self.values[0])
            except ValueError:
                return False
            return have > want if self.op == "gt" else have < want
        return False


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...]

    def matches(self, labels: dict[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    @property
    def empty(self) -> bool:
        return not self.requirements


def _split_top(text: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def _check_key(key: str, whole: str) -> str:
    if not _KEY.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise BadRequest(f'unable to parse requirement: invalid label key "{key}": name part must consist of '
                         "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
                         f"character (in selector \"{whole}\")")
    return key


def _check_value(value: str, whole: str) -> str:
    if len(value) > 63 or not _VALUE.match(value):
        raise BadRequest(f'unable to parse requirement: invalid label value: "{value}": a valid label must be an '
                         "empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and "
                         f"end with an alphanumeric character (in selector \"{whole}\")")
    return value


_SET = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")


def parse_label_selector(text: str | None) -> LabelSelector:
    if not text or not text.strip():
        return LabelSelector(())
    reqs: list[Requirement] = []
    for raw in _split_top(text):
        part = raw.strip()
        if not part:
            raise BadRequest(f'unable to parse requirement: found \'\', expected: identifier (in selector "{text}")')
        m = _SET.match(part)
        if m:
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            for v in values:
                _check_value(v, text)
            reqs.append(Requirement(_check_key(m.group(1), text), m.group(2), values))
            continue
        for op, name in (("!=", "!="), ("==", "="), ("=", "="), (">", "gt"), ("<", "lt")):
            if op in part:
                key, _, value = part.partition(op)
                key, value = key.strip(), value.strip()
                if name in ("gt", "lt") and not value.lstrip("-").isdigit():
                    raise BadRequest(f'unable to parse requirement: for \'gt\', \'lt\' operators, the value must be '
                                     f'an integer (in selector "{text}")')
                reqs.append(Requirement(_check_key(key, text), name, (_check_value(value, text),)))
                break
        else:
            if part.startswith("!"):
                reqs.append(Requirement(_check_key(part[1:].strip(), text), "!"))
            elif " " in part or "(" in part or ")" in part:
                raise BadRequest(f'unable to parse requirement: found \'{part}\', expected: \'=\', \'!=\', \'==\', '
                                 f"'in', 'notin' (in selector \"{text}\")")
            else:
                reqs.append(Requirement(_check_key(part, text), "exists"))
    return LabelSelector(tuple(reqs))


def label_selector_matches(selector: dict[str, Any] | None, labels: dict[str, str] | None) -> bool:
    """A metav1.LabelSelector in its JSON form (matchLabels + matchExpressions) against a label set:
    all terms must hold; an empty selector matches everything (callers that want "matches
    nothing", as workload controllers do, check for emptiness first)."""
    if not selector:
        return True
    labels = labels or {}
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op, values = expr.get("key") or "", expr.get("operator"), expr.get("values") or []
        present = key in labels
        if op == "In" and not (present and labels[key] in values):
            return False
        if op == "NotIn" and present and labels[key] in values:
            return False
        if op == "Exists" and not present:
            return False
        if op == "DoesNotExist" and present:
            return False
    return True


def format_label_selector(match_labels: dict[str, str] | None, match_expressions: list[dict[str, Any]] | None) -> str:
    """metav1.LabelSelector -> its string form (Scale.status.selector, kubectl describe)."""
    parts = [f"{k}={v}" for k, v in sorted((match_labels or {}).items())]
    for expr in match_expressions or []:
        key, op, values = expr.get("key", ""), expr.get("operator", ""), sorted(expr.get("values") or [])
        if op == "In":
            parts.append(f"{key} in ({','.join(values)})")
        elif op == "NotIn":
            parts.append(f"{key} notin ({','.join(values)})")
        elif op == "Exists":
            parts.append(key)
        elif op == "DoesNotExist":
            parts.append(f"!{key}")
    return ",".join(parts)


# --- field selectors ---------------------------------------------------------------------------

_COMMON_FIELDS = ("metadata.name", "metadata.namespace")
_EVENT_REFERENCE = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")
# The field labels each (group, kind) accepts besides metadata.name/namespace, as each API group
# registers them (kube's AddFieldLabelConversionFunc per group version).  Selectors are matched on
# the object as the group shows it, so each group spells them its own way: core/v1 Events by
# involvedObject.*, events.k8s.io/v1 by regarding.* (pkg/apis/events/v1 AddFieldLabelConversionsForEvent),
# and neither accepts the other's.  A kind not listed has no conversion: only the common two.
FIELDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "Pod"): ("spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName",
                  "spec.hostNetwork", "status.phase", "status.podIP", "status.nominatedNodeName"),
    ("", "Event"): tuple(f"involvedObject.{f}" for f in _EVENT_REFERENCE) + (
        "reason", "reportingComponent", "source", "type"),
    ("events.k8s.io", "Event"): tuple(f"regarding.{f}" for f in _EVENT_REFERENCE) + (
        "reason", "reportingController", "source", "type"),
    ("", "Secret"): ("type",),
    ("", "Node"): ("spec.unschedulable",),
    ("", "Namespace"): ("status.phase",),
    ("apps", "ReplicaSet"): ("status.replicas",),
    ("", "Service"): ("spec.clusterIP", "spec.type"),
}


def _unknown_field(group: str, kind: str, path: str) -> BadRequest:
    """kube's 400 for a field label the group does not know: its conversion function's message, or
    apimachinery's DefaultMetaV1FieldSelectorConversion's for a kind that registers none."""
    if (group, kind) in FIELDS:
        return BadRequest(f"field label not supported: {path}")
    return BadRequest(f'"{path}" is not a known field selector: only "metadata.name", "metadata.namespace"')


def _event_source(obj: dict[str, Any]) -> str:
    """kube's selectable `source` of an Event: source.component, else the reporting controller
    (core/v1 and events.k8s.io/v1 spellings alike)."""
    source = obj.get("source") or obj.get("deprecatedSource") or {}
    return str(source.get("component") or obj.get("reportingComponent") or obj.get("reportingController") or "")


def _field_value(obj: dict[str, Any], path: str) -> str:
    if path == "source" and obj.get("kind") == "Event":
        return _event_source(obj)
    if path in ("reportingComponent", "reportingController") and obj.get("kind") == "Event":
        return str(obj.get("reportingComponent") or obj.get("reportingController") or "")
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[tuple[str, bool, str], ...]  # (path, equal?, value)

    def matches(self, obj: dict[str, Any]) -> bool:
        return all((_field_value(obj, p) == v) == eq for p, eq, v in self.terms)

    @property
    def empty(self) -> bool:
        return not self.terms

    def exact_name(self) -> str | None:
        for p, eq, v in self.terms:
            if p == "metadata.name" and eq:
                return v
        return None


def parse_field_selector(text: str | None, kind: str, group: str = "") -> FieldSelector:
    """A fieldSelector for objects of `group`/`kind`, in that group's spellings (400 otherwise)."""
    if not text or not text.strip():
        return FieldSelector(())
    allowed = _COMMON_FIELDS + FIELDS.get((group, kind), ())
    terms: list[tuple[str, bool, str]] = []
    for raw in text.split(","):
        part = raw.strip()
        for op, eq in (("!=", False), ("==", True), ("=", True)):
            if op in part:
                path, _, value = part.partition(op)
                path = path.strip()
                if path not in allowed:
                    raise _unknown_field(group, kind, path)
                terms.append((path, eq, value.strip()))
                break
        else:
            raise BadRequest(f"invalid selector: '{text}'; can't understand '{part}'")
    return FieldSelector(tuple(terms))


def compile_filter(label: LabelSelector, field: FieldSelector) -> Callable[[dict[str, Any]], bool] | None:
    """A predicate on wire objects, or None when nothing is filtered."""
    if label.empty and field.empty:
        return None

    def match(obj: dict[str, Any]) -> bool:
        return label.matches((obj.get("metadata") or {}).get("labels")) and field.matches(obj)

    return match
