"""Renders CRDs as YAML and as the Markdown API reference (stdlib only: no YAML library in cloudios.api)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

# Plain (unquoted) YAML scalars only when they cannot be read as anything but this string;
# everything else is written as a JSON string, which is valid double-quoted YAML.
_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9 _.,;()/'=+-]*$")
_RESERVED = frozenset({"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"})


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        if _PLAIN.match(value) and not value.endswith(" ") and value.lower() not in _RESERVED:
            return value
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"cannot write {type(value).__name__} as YAML")


def _lines(value: Any, indent: int) -> Iterator[str]:
    pad = " " * indent
    if isinstance(value, Mapping):
        for key, item in value.items():
            head = f"{pad}{_scalar(str(key))}:"
            if isinstance(item, Mapping | list) and item:
                yield head
                # Lists sit at their key's indentation (the kubectl / controller-gen layout).
                yield from _lines(item, indent if isinstance(item, list) else indent + 2)
            elif isinstance(item, Mapping):
                yield f"{head} {{}}"
            elif isinstance(item, list):
                yield f"{head} []"
            else:
                yield f"{head} {_scalar(item)}"
    elif isinstance(value, list):
        for item in value:
            if isinstance(item, Mapping) and item:
                nested = list(_lines(item, indent + 2))
                yield f"{pad}- {nested[0].lstrip()}"
                yield from nested[1:]
            elif isinstance(item, Mapping | list):
                raise TypeError("empty or nested lists inside lists are not written")
            else:
                yield f"{pad}- {_scalar(item)}"
    else:
        yield f"{pad}{_scalar(value)}"


def to_yaml(document: Mapping[str, Any], header: str = "") -> str:
    """One YAML document in block style, keys in their given order, with an optional comment header."""
    lines = [f"# {header}"] if header else []
    lines.extend(_lines(document, 0))
    return "\n".join(lines) + "\n"


# --- Markdown reference -------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _code(text: str) -> str:
    return f"`{_cell(text)}`"


def _type(node: Mapping[str, Any]) -> str:
    kind = str(node.get("type", ""))
    if kind == "array":
        return f"[]{_type(node.get('items', {}))}"
    if kind == "object" and isinstance(node.get("additionalProperties"), Mapping):
        return f"map[string]{_type(node['additionalProperties'])}"
    if "format" in node:
        return f"{kind} ({node['format']})"
    return kind


def _constraints(node: Mapping[str, Any]) -> list[str]:
    out = []
    if "enum" in node:
        out.append("one of " + ", ".join(_code(str(v)) for v in node["enum"]))
    if "pattern" in node:
        out.append(f"pattern {_code(node['pattern'])}")
    bounds = (
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
    )
    out.extend(f"{label} {node[key]}" for key, label in bounds if key in node)
    if "default" in node:
        out.append(f"default {_code(json.dumps(node['default']))}")
    if node.get("x-kubernetes-list-type") == "set":
        out.append("unique items")
    if node.get("x-kubernetes-list-type") == "map":
        keys = ", ".join(node.get("x-kubernetes-list-map-keys", []))
        out.append(f"one item per {keys}")
    if node.get("x-kubernetes-preserve-unknown-fields"):
        out.append("free-form object")
    out.extend(
        f"{rule['message']} ({_code(rule['rule'])})" for rule in node.get("x-kubernetes-validations", [])
    )
    items = node.get("items")
    if isinstance(items, Mapping) and "properties" not in items and (each := _constraints(items)):
        out.append("each item: " + ", ".join(each))
    return out


def _rows(node: Mapping[str, Any], path: str) -> Iterator[str]:
    required = set(node.get("required", []))
    for name, prop in node.get("properties", {}).items():
        field = f"{path}.{name}" if path else name
        yield (
            f"| {_code(field)} | {_type(prop)} | {'yes' if name in required else ''} | "
            f"{_cell(prop.get('description', ''))} | {'; '.join(_constraints(prop))} |"
        )
        yield from _rows(*_element(prop, field))


def _element(node: Mapping[str, Any], path: str) -> tuple[Mapping[str, Any], str]:
    """Through lists and maps to the object whose fields are listed next (`modules[]`, `counts.*`)."""
    while True:
        if isinstance(node.get("items"), Mapping):
            node, path = node["items"], f"{path}[]"
        elif isinstance(node.get("additionalProperties"), Mapping):
            node, path = node["additionalProperties"], f"{path}.*"
        else:
            return node, path


def _kind_section(definition: Mapping[str, Any]) -> list[str]:
    spec = definition["spec"]
    names = spec["names"]
    version = spec["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    out = [
        f"## {names['kind']}",
        "",
        schema["description"],
        "",
        f"- API version: `{spec['group']}/{version['name']}`, {spec['scope'].lower()}",
        f"- Resource: `{names['plural']}`; short names: "
        + ", ".join(_code(s) for s in names["shortNames"])
        + "; categories: "
        + ", ".join(_code(c) for c in names["categories"]),
        "- `kubectl get` columns: "
        + ", ".join(
            c["name"] + (" (wide)" if c.get("priority") else "") for c in version["additionalPrinterColumns"]
        ),
        "",
    ]
    object_rules = schema["properties"]["spec"].get("x-kubernetes-validations", [])
    if object_rules:
        out += ["Rules checked by the API server on the whole spec:", ""]
        out += [f"- {rule['message']}: {_code(rule['rule'])}" for rule in object_rules]
        out.append("")
    for part in ("spec", "status"):
        node = schema["properties"][part]
        out += [f"### {names['kind']}.{part}", "", node["description"], ""]
        out += ["| Field | Type | Required | Description | Validation |", "|---|---|---|---|---|"]
        out += list(_rows(node, ""))
        out.append("")
    return out


def api_markdown(definitions: Sequence[Mapping[str, Any]], regenerate: str) -> str:
    """docs/api.md: every field of every kind with its type, description and validation."""
    lines = [
        "# Cloudios API reference (cloudios.io/v1alpha1)",
        "",
        f"<!-- Generated from cloudios.api by `{regenerate}`; do not edit. -->",
        "",
        (
            "Every field below is also served by the API server: `kubectl explain cloudaccount.spec.aws` "
            "prints the same descriptions. Validation is enforced by the API server (OpenAPI keywords "
            "and CEL rules) before anything reaches the operator."
        ),
        "",
    ]
    for definition in definitions:
        lines += _kind_section(definition)
    return "\n".join(lines).rstrip("\n") + "\n"
