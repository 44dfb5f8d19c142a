"""Turns pydantic models into the structural OpenAPI v3 schemas that CRDs require."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
NON_NEGATIVE_DECIMAL_PATTERN = r"^[0-9]+(\.[0-9]+)?$"

# Keywords copied as they are; everything else is either translated below or refused, so a new
# pydantic construct fails generation instead of silently vanishing from the CRD.
_PASSTHROUGH = (
    "description",
    "type",
    "format",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "required",
)
_HANDLED = frozenset({*_PASSTHROUGH, "title", "properties", "items", "additionalProperties", "default"})


class SchemaError(ValueError):
    """A model cannot be expressed as a structural CRD schema; the message names the field."""


class _KubeJsonSchema(GenerateJsonSchema):
    """Pydantic's generator with Kubernetes conventions: decimals are strings, Optional is not-required."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        # Money travels as a decimal string (never a float); the sign rule replaces ge=0.
        non_negative = any(bound is not None and bound >= 0 for bound in (schema.get("ge"), schema.get("gt")))
        return {
            "type": "string",
            "pattern": NON_NEGATIVE_DECIMAL_PATTERN if non_negative else DECIMAL_PATTERN,
        }

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        # An optional field is simply left out of `required`; null itself is never written.
        return self.generate_inner(schema["schema"])


def model_schema(model: type[BaseModel], where: str) -> dict[str, Any]:
    """The structural schema of `model`; `where` (e.g. "CloudAccount.spec") prefixes error paths."""
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_KubeJsonSchema)
    defs: dict[str, Any] = raw.pop("$defs", {})
    return _convert(raw, defs, where)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Inline a `$ref` (or pydantic's `allOf: [$ref]` wrapper); the referring node's keys win."""
    node = dict(node)
    all_of = node.pop("allOf", None)
    if all_of is not None:
        if len(all_of) != 1 or "$ref" not in all_of[0]:
            raise SchemaError(f"{where}: allOf cannot be expressed in a structural schema")
        node["$ref"] = all_of[0]["$ref"]
    ref = node.pop("$ref", None)
    if ref is None:
        return node
    name = ref.removeprefix("#/$defs/")
    if name not in defs:
        raise SchemaError(f"{where}: unresolved reference {ref}")
    return {**_resolve(defs[name], defs, where), **node}


def _convert(node: Mapping[str, Any], defs: Mapping[str, Any], where: str) -> dict[str, Any]:
    node = _resolve(node, defs, where)
    _refuse_unsupported(node, where)
    out: dict[str, Any] = {key: node[key] for key in _PASSTHROUGH if key in node}
    out.update({key: value for key, value in node.items() if key.startswith("x-kubernetes-")})
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    default = node.get("default")
    # Scalar defaults are applied by the API server (and shown by kubectl explain); null and
    # container defaults are left to the models so stored objects stay small.
    if isinstance(default, str | int | bool):
        out["default"] = default
    _convert_children(node, out, defs, where)
    if "type" not in out:
        raise SchemaError(f"{where}: no type; structural schemas need a type on every node")
    if "required" in out and "properties" not in out:
        del out["required"]
    return out


def _refuse_unsupported(node: Mapping[str, Any], where: str) -> None:
    for union in ("anyOf", "oneOf", "not"):
        if union in node:
            raise SchemaError(f"{where}: {union} (a union type) cannot be expressed in a structural schema")
    unknown = {key for key in node if key not in _HANDLED and not key.startswith("x-kubernetes-")}
    if unknown:
        raise SchemaError(f"{where}: unsupported JSON Schema keywords {sorted(unknown)}")


def _convert_children(
    node: Mapping[str, Any], out: dict[str, Any], defs: Mapping[str, Any], where: str
) -> None:
    if "properties" in node:
        out["properties"] = {}
        for name, prop in node["properties"].items():
            path = f"{where}.{name}"
            if not prop.get("description"):
                raise SchemaError(f"{path}: every field needs a description (kubectl explain shows it)")
            out["properties"][name] = _convert(prop, defs, path)
    extra = node.get("additionalProperties")
    if extra is True or (out.get("type") == "object" and "properties" not in node and extra is None):
        # dict[str, Any]: an open subtree on purpose (module settings, evidence).
        out["x-kubernetes-preserve-unknown-fields"] = True
    elif isinstance(extra, Mapping):
        out["additionalProperties"] = _convert(extra, defs, f"{where}.*")
    if "items" in node:
        out["items"] = _convert(node["items"], defs, f"{where}[]")


def walk(schema: Mapping[str, Any], path: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every node of a schema with its path (`spec.modules[].name`, `spec.counts.*`)."""
    yield path, schema
    for name, prop in schema.get("properties", {}).items():
        yield from walk(prop, f"{path}.{name}" if path else name)
    if isinstance(schema.get("items"), Mapping):
        yield from walk(schema["items"], f"{path}[]")
    if isinstance(schema.get("additionalProperties"), Mapping):
        yield from walk(schema["additionalProperties"], f"{path}.*")


def node_at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The node at a `walk` path; KeyError names the path when it does not exist."""
    node = schema
    for part in path.replace("[]", ".[]").split("."):
        if part == "[]":
            node = node["items"]
        elif part == "*":
            node = node["additionalProperties"]
        else:
            try:
                node = node["properties"][part]
            except KeyError:
                raise KeyError(f"no field {path} in the schema") from None
    return node
