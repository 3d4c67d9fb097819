"""kubectl's output formats for mkctl: tables (from the server's Table), yaml, json, name.

Tables are laid out as kubectl's tabwriter does it (minimum width 6, padding 3, the last column
unpadded); YAML looks like kubectl's (sorted keys, unindented lists, double quotes where quoting
is needed, literal blocks for multi-line strings); JSON has sorted keys and 4-space indents.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

MIN_WIDTH, PADDING = 6, 3


def tabulate(rows: list[list[str]], widths: list[int] | None = None) -> str:
    """Columns padded to max(width + 3, 6), the last left ragged: kubectl's tabwriter settings.

    `widths`, when given, carries the column widths from one call to the next (and is updated):
    `get -w` keeps the columns of the first table for the rows that follow, as kubectl does."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    if widths is None:
        widths = []
    widths.extend([0] * (ncols - len(widths)))
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell))
    out = []
    for r in rows:
        parts = [cell.ljust(max(widths[i] + PADDING, MIN_WIDTH)) for i, cell in enumerate(r[:-1])]
        out.append("".join(parts) + (r[-1] if r else ""))
    return "\n".join(out) + "\n"


def cell_text(value: Any) -> str:
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def labels_text(labels: dict[str, str] | None) -> str:
    if not labels:
        return "<none>"
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items()))


class _KubeDumper(yaml.SafeDumper):
    def choose_scalar_style(self) -> str:
        style = super().choose_scalar_style()
        return '"' if style == "'" else style

    def ignore_aliases(self, data: Any) -> bool:  # kubectl never writes anchors: repeat shared values
        return True


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if value in ("y", "Y", "n", "N"):  # YAML 1.1 booleans that PyYAML would leave bare (go-yaml quotes them)
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" in value and not any(line != line.rstrip() for line in value.split("\n")):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value)


_KubeDumper.add_representer(str, _str)


def to_yaml(obj: Any) -> str:
    return yaml.dump(obj, Dumper=_KubeDumper, sort_keys=True, default_flow_style=False, allow_unicode=True)


def to_json(obj: Any) -> str:
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False) + "\n"


def as_list(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}


def tabwrite(text: str, *, minwidth: int = 0, padding: int = 2) -> str:
    """Go's text/tabwriter (left-aligned, space padding) over tab-separated text.

    kubectl writes describe output and tables as tab-separated cells and lets tabwriter align them:
    a column spans the consecutive lines that have a tab-terminated cell in it, and is as wide as
    its widest cell plus `padding`; the text after a line's last tab is never padded.
    """
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write(line0: int, line1: int) -> None:
        for line in lines[line0:line1]:
            parts = []
            for j, cell in enumerate(line):
                parts.append(cell.ljust(widths[j]) if j < len(widths) and j < len(line) - 1 else cell)
            out.append("".join(parts))

    def fmt(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            fmt(line0, this)
            widths.pop()
            line0 = this
        write(line0, line1)

    fmt(0, len(lines))
    return "\n".join(out)
