"""Generate each chart's values.schema.json and its README values table from values.yaml comments.

The values file is the single source: a `# --` comment above a key is its description (helm-docs'
convention), `# @schema {...}` lines add JSON Schema keywords to the type inferred from the default,
and `# @default -- text` replaces the default shown in the README. See docs/development.md, "Chart
values". `python tools/chart_docs.py` rewrites both files of both charts; `--check` exits 1 when a
committed copy differs from what the values file generates.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
CHARTS = (ROOT / "helm" / "cloudios", ROOT / "helm" / "cloudios-agent")
REGENERATE = "python tools/chart_docs.py"
BEGIN = f"<!-- BEGIN values: generated from values.yaml by `{REGENERATE}`; edit values.yaml instead -->"
END = "<!-- END values -->"

_KEY = re.compile(r"^(?P<indent>\s*)(?P<key>[A-Za-z0-9_.-]+|\"[^\"]+\"):(\s|$)")
_ITEM = re.compile(r"^(?P<indent>\s*)-(\s|$)")
_JSON_TYPES: dict[type, str] = {bool: "boolean", int: "integer", float: "number", str: "string"}


class ValuesError(ValueError):
    """values.yaml lacks a description or an annotation the generator needs; the message says which."""


@dataclass
class Comment:
    """What the comment block above one key says."""

    description: str = ""
    schema: dict[str, Any] = field(default_factory=dict)
    default: str | None = None


@dataclass
class Row:
    """One line of the README's values table."""

    path: str
    type: str
    default: str
    description: str


def comments(text: str) -> dict[str, Comment]:
    """The comment block of every mapping key, by dotted path; keys inside list items are skipped."""
    found: dict[str, Comment] = {}
    stack: list[tuple[int, str]] = []  # (indent, key); key "-" marks a list item
    block: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            block = []
            continue
        if stripped.startswith("#"):
            block.append(stripped)
            continue
        indent = len(line) - len(line.lstrip())
        item = _ITEM.match(line)
        match = _KEY.match(line)
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if stack and stack[-1][1] == "-":
            block = []  # inside a list item: not a values key
            continue
        if item:
            stack.append((indent, "-"))
        elif match:
            stack.append((indent, match.group("key").strip('"')))
            found[".".join(k for _, k in stack)] = _parse(block, ".".join(k for _, k in stack))
        block = []
    return found


def _parse(block: list[str], path: str) -> Comment:
    comment = Comment()
    lines: list[str] | None = None
    for raw in block:
        text = raw.removeprefix("#").strip()
        if text.startswith("@schema"):
            extra = yaml.safe_load(text.removeprefix("@schema"))
            if not isinstance(extra, dict):
                raise ValuesError(f"{path}: `# @schema` needs a mapping, e.g. `# @schema {{minimum: 1}}`")
            comment.schema.update(extra)
            lines = None
        elif text.startswith("@default --"):
            comment.default = text.removeprefix("@default --").strip()
            lines = None
        elif text.startswith("--"):
            lines = [text.removeprefix("--").strip()]
            comment.description = lines[0]
        elif lines is not None:
            lines.append(text)
            comment.description = " ".join(part for part in lines if part)
    return comment


def _inferred(value: Any, path: str) -> dict[str, Any]:
    if value is None:
        raise ValuesError(f'{path} is null: give its type with `# @schema {{type: [integer, "null"]}}`')
    if isinstance(value, list):
        schema: dict[str, Any] = {"type": "array"}
        kinds = {type(v) for v in value}
        if len(kinds) == 1:
            (kind,) = kinds
            schema["items"] = {"type": "object" if kind is dict else _JSON_TYPES[kind]}
        return schema
    if isinstance(value, dict):
        return {"type": "object"}
    return {"type": _JSON_TYPES[type(value)]}


def schema_of(values: dict[str, Any], notes: dict[str, Comment], prefix: str = "") -> dict[str, Any]:
    """The strict object schema of a mapping of values: every key a property, no other keys."""
    properties: dict[str, Any] = {}
    for key, value in values.items():
        path = f"{prefix}{key}"
        note = notes.get(path, Comment())
        prop: dict[str, Any] = {}
        # A mapping is described key by key (strict) unless its annotation says what it admits.
        if isinstance(value, dict) and "additionalProperties" not in note.schema:
            if not value:
                raise ValuesError(
                    f"{path} is an empty mapping: say what it admits, e.g. "
                    "`# @schema {additionalProperties: {type: string}}` or `{additionalProperties: true}`"
                )
            prop = schema_of(value, notes, f"{path}.")
        elif not note.description:
            raise ValuesError(f"{path} has no `# --` description in values.yaml")
        else:
            prop = {} if "type" in note.schema else _inferred(value, path)
        if note.description:
            prop["description"] = note.description
        prop.update(note.schema)
        properties[key] = prop
    return {"type": "object", "additionalProperties": False, "properties": properties}


def rows(
    values: dict[str, Any], notes: dict[str, Comment], schema: dict[str, Any], prefix: str = ""
) -> list[Row]:
    """README rows of every described key, in the order of values.yaml."""
    found: list[Row] = []
    for key, value in values.items():
        path, prop = f"{prefix}{key}", schema["properties"][key]
        note = notes.get(path, Comment())
        kind = prop.get("type", "object")
        kind = "/".join(kind) if isinstance(kind, list) else kind
        shown = note.default if note.default is not None else json.dumps(value, separators=(", ", ": "))
        if note.description:  # a described mapping gets a row of its own, then one per key
            found.append(Row(path, kind, shown, note.description))
        if "properties" in prop:
            found.extend(rows(value, notes, prop, f"{path}."))
    return found


def table(found: list[Row]) -> str:
    lines = ["| Key | Type | Default | Description |", "|---|---|---|---|"]
    for row in found:
        default = row.default.replace("|", "\\|")
        description = row.description.replace("|", "\\|")
        lines.append(f"| `{row.path}` | {row.type} | `{default}` | {description} |")
    return "\n".join(lines)


def generated(chart: Path) -> dict[Path, str]:
    """The chart's values.schema.json and README.md as the values file makes them."""
    text = (chart / "values.yaml").read_text()
    values = yaml.safe_load(text)
    notes = comments(text)
    root = schema_of(values, notes)
    title = yaml.safe_load((chart / "Chart.yaml").read_text())["name"]
    schema = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": f"Values of the {title} chart (generated from values.yaml by {REGENERATE})",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "global": {"type": "object", "description": "Helm's global values (unused by this chart)."},
            **root["properties"],
        },
    }
    readme = (chart / "README.md").read_text()
    start, end = readme.find(BEGIN), readme.find(END)
    if start < 0 or end < start:
        raise ValuesError(f"{chart / 'README.md'} lacks the markers {BEGIN!r} and {END!r}")
    body = table(rows(values, notes, root))
    readme = f"{readme[:start]}{BEGIN}\n\n{body}\n\n{readme[end:]}"
    return {
        chart / "values.schema.json": json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
        chart / "README.md": readme,
    }


def stale(charts: tuple[Path, ...] = CHARTS) -> list[Path]:
    """Committed files that differ from what their values file generates."""
    return [
        path
        for chart in charts
        for path, content in generated(chart).items()
        if not path.exists() or path.read_text() != content
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when a committed file is stale")
    args = parser.parse_args(argv)
    try:
        if args.check:
            outdated = stale()
            for path in outdated:
                print(f"{path.relative_to(ROOT)} is stale: run `{REGENERATE}`", file=sys.stderr)
            return 1 if outdated else 0
        for chart in CHARTS:
            for path, content in generated(chart).items():
                if not path.exists() or path.read_text() != content:
                    path.write_text(content)
                    print(f"wrote {path.relative_to(ROOT)}")
    except ValuesError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
