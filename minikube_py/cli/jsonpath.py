"""kubectl's JSONPath templates for `-o jsonpath=...`, `custom-columns` and `--sort-by`.

Supports what kubectl documents: `{.a.b}`, `{.items[*].metadata.name}`, `[n]`, `[-1]`, `[a:b]`,
`['key.with.dots']`, unions `[a,b]`, recursive descent `..name`, filters `[?(@.type=="Ready")]`
(==, !=, <, <=, >, >= and existence), `{range ...}...{end}`, string literals `{"\\n"}` and `{@}`.
Several results of one action are joined by a space; maps and lists print as JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Node = Any
Step = Callable[[list[Node], Node], list[Node]]


class JSONPathError(Exception):
    pass


_MISSING = object()


@dataclass
class _Path:
    source: str
    steps: list[Step]
    from_root: bool

    def find(self, current: Node, root: Node) -> list[Node]:
        nodes = [root if self.from_root else current]
        for step in self.steps:
            nodes = step(nodes, root)
        return nodes


def _field(name: str) -> Step:
    def step(nodes: list[Node], root: Node) -> list[Node]:
        out = []
        for n in nodes:
            if isinstance(n, dict) and name in n:
                out.append(n[name])
        return out
    return step


def _wildcard(nodes: list[Node], root: Node) -> list[Node]:
    out: list[Node] = []
    for n in nodes:
        if isinstance(n, list):
            out.extend(n)
        elif isinstance(n, dict):
            out.extend(n[k] for k in sorted(n))
    return out


def _recursive(name: str) -> Step:
    def walk(n: Node, out: list[Node]) -> None:
        if isinstance(n, dict):
            if name == "*":
                out.extend(n[k] for k in sorted(n))
            elif name in n:
                out.append(n[name])
            for k in sorted(n):
                walk(n[k], out)
        elif isinstance(n, list):
            for item in n:
                walk(item, out)

    def step(nodes: list[Node], root: Node) -> list[Node]:
        out: list[Node] = []
        for n in nodes:
            walk(n, out)
        return out
    return step


def _index(spec: str) -> Step:
    if ":" in spec:
        parts = [p.strip() for p in spec.split(":")]
        nums = [int(p) if p else None for p in parts] + [None] * (3 - len(parts))
        start, end, stride = nums[0], nums[1], nums[2]

        def slice_step(nodes: list[Node], root: Node) -> list[Node]:
            out: list[Node] = []
            for n in nodes:
                if isinstance(n, list):
                    out.extend(n[slice(start, end, stride)])
            return out
        return slice_step
    i = int(spec)

    def step(nodes: list[Node], root: Node) -> list[Node]:
        out = []
        for n in nodes:
            if isinstance(n, list):
                if -len(n) <= i < len(n):
                    out.append(n[i])
                else:
                    raise JSONPathError(f"array index out of bounds: index {i}, length {len(n)}")
        return out
    return step


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": lambda a, b: a == b, "!=": lambda a, b: a != b, "<=": lambda a, b: a <= b,
    ">=": lambda a, b: a >= b, "<": lambda a, b: a < b, ">": lambda a, b: a > b,
}


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    if text in ("true", "false"):
        return text == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return _MISSING


def _filter(expr: str) -> Step:
    m = re.fullmatch(r"\s*(@[^=!<>]*?)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*", expr)
    left = _parse_path(m.group(1) if m else expr.strip())
    op = _OPS[m.group(2)] if m else None
    right_text = m.group(3) if m else ""
    right = _literal(right_text) if m else None
    right_path = _parse_path(right_text) if m and right is _MISSING else None

    def step(nodes: list[Node], root: Node) -> list[Node]:
        out: list[Node] = []
        for n in nodes:
            items = n if isinstance(n, list) else list(n.values()) if isinstance(n, dict) else []
            for item in items:
                found = left.find(item, root)
                if op is None:
                    if found:
                        out.append(item)
                    continue
                want = right_path.find(item, root) if right_path else [right]
                if found and want:
                    try:
                        if op(found[0], want[0]):
                            out.append(item)
                    except TypeError:
                        continue
        return out
    return step


def _union(names: list[str]) -> Step:
    def step(nodes: list[Node], root: Node) -> list[Node]:
        out: list[Node] = []
        for name in names:
            out.extend(_index(name)(nodes, root) if re.fullmatch(r"-?\d+", name) else
                       _field(name.strip("'\""))(nodes, root))
        return out
    return step


def _parse_path(text: str) -> _Path:
    src = text.strip()
    pos = 0
    from_root = False
    if src.startswith("$"):
        from_root, pos = True, 1
    elif src.startswith("@"):
        pos = 1
    steps: list[Step] = []
    while pos < len(src):
        c = src[pos]
        if src.startswith("..", pos):
            m = re.compile(r"\.\.([A-Za-z0-9_\-/]+|\*)").match(src, pos)
            if not m:
                raise JSONPathError(f"unrecognized identifier after '..' in {src!r}")
            steps.append(_recursive(m.group(1)))
            pos = m.end()
        elif c == ".":
            m = re.compile(r"\.([A-Za-z0-9_\-/]+|\*)?").match(src, pos)
            assert m
            if m.group(1) == "*":
                steps.append(_wildcard)
            elif m.group(1):
                steps.append(_field(m.group(1)))
            pos = m.end()
        elif c == "[":
            end = _matching(src, pos, "[", "]")
            inner = src[pos + 1:end].strip()
            pos = end + 1
            if inner == "*":
                steps.append(_wildcard)
            elif inner.startswith("?(") and inner.endswith(")"):
                steps.append(_filter(inner[2:-1]))
            elif re.fullmatch(r"-?\d*\s*:\s*-?\d*(\s*:\s*-?\d*)?|-?\d+", inner):
                steps.append(_index(inner))
            elif "," in inner:
                steps.append(_union([p.strip() for p in inner.split(",")]))
            elif len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
                steps.append(_field(inner[1:-1]))
            else:
                raise JSONPathError(f"invalid array index {inner!r}")
        elif c.isspace():
            pos += 1
        else:
            m = re.compile(r"[A-Za-z0-9_\-/]+").match(src, pos)
            if not m:
                raise JSONPathError(f"unrecognized character in action: {c!r}")
            steps.append(_field(m.group(0)))
            pos = m.end()
    return _Path(src, steps, from_root)


def _matching(src: str, start: int, open_c: str, close_c: str) -> int:
    depth, quote = 0, ""
    for i in range(start, len(src)):
        c = src[i]
        if quote:
            if c == quote and src[i - 1] != "\\":
                quote = ""
            continue
        if c in "'\"":
            quote = c
        elif c == open_c:
            depth += 1
        elif c == close_c:
            depth -= 1
            if depth == 0:
                return i
    raise JSONPathError(f"unclosed {open_c!r} in {src!r}")


# --- templates ---------------------------------------------------------------------------------

@dataclass
class _Text:
    text: str


@dataclass
class _Action:
    path: _Path


@dataclass
class _Range:
    path: _Path
    body: list[Any]


def _parse_template(template: str) -> list[Any]:
    items: list[Any] = []
    stack: list[list[Any]] = [items]
    ranges: list[_Range] = []
    pos = 0
    while pos < len(template):
        start = template.find("{", pos)
        if start < 0:
            stack[-1].append(_Text(template[pos:]))
            break
        if start > pos:
            stack[-1].append(_Text(template[pos:start]))
        end = _matching(template, start, "{", "}")
        action = template[start + 1:end].strip()
        pos = end + 1
        if action == "end":
            if not ranges:
                raise JSONPathError("not in range, nothing to end")
            ranges.pop()
            stack.pop()
        elif action.startswith("range "):
            r = _Range(_parse_path(action[6:]), [])
            stack[-1].append(r)
            ranges.append(r)
            stack.append(r.body)
        elif len(action) >= 2 and action[0] == action[-1] and action[0] in "\"'":
            stack[-1].append(_Text(json.loads('"' + action[1:-1].replace('"', '\\"') + '"')
                                   if action[0] == '"' else action[1:-1]))
        else:
            stack[-1].append(_Action(_parse_path(action)))
    if ranges:
        raise JSONPathError("unclosed action: range without end")
    return items


def format_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


class Template:
    """A parsed kubectl JSONPath template; `render(obj)` gives its text."""

    def __init__(self, template: str, allow_missing: bool = True) -> None:
        text = template.strip() if template.strip() else template
        if "{" not in text:  # kubectl takes a bare `.metadata.name` as `{.metadata.name}`
            text = "{" + text + "}"
        self.source = template
        self.allow_missing = allow_missing
        try:
            self.items = _parse_template(text)
        except JSONPathError as exc:
            raise JSONPathError(f"error parsing jsonpath {template}, {exc}") from None

    def render(self, obj: Any) -> str:
        out: list[str] = []
        self._render(self.items, obj, obj, out)
        return "".join(out)

    def values(self, obj: Any) -> list[Any]:
        """The results of the first action (custom-columns and --sort-by use this)."""
        for item in self.items:
            if isinstance(item, _Action):
                return item.path.find(obj, obj)
        return []

    def _render(self, items: list[Any], current: Any, root: Any, out: list[str]) -> None:
        for item in items:
            if isinstance(item, _Text):
                out.append(item.text)
            elif isinstance(item, _Action):
                found = item.path.find(current, root)
                if not found and not self.allow_missing and item.path.steps:
                    raise JSONPathError(f"error executing jsonpath {self.source!r}: "
                                        f"{item.path.source} is not found")
                out.append(" ".join(format_value(v) for v in found))
            elif isinstance(item, _Range):
                for value in item.path.find(current, root):
                    self._render(item.body, value, root, out)
