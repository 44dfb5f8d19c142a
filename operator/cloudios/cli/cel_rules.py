"""The CRDs' CEL rules (x-kubernetes-validations) evaluated offline with cel-python, as the API server
would on create; a rule this evaluator cannot run is reported as such, never passed."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import celpy
from celpy import celtypes
from celpy.adapter import json_to_cel

# A transition rule compares with the stored object: the API server evaluates it only on update.
_TRANSITION = re.compile(r"\boldSelf\b")


def _lower_ascii(text: celtypes.StringType) -> celtypes.StringType:
    return celtypes.StringType("".join(c.lower() if c.isascii() else c for c in text))


def _upper_ascii(text: celtypes.StringType) -> celtypes.StringType:
    return celtypes.StringType("".join(c.upper() if c.isascii() else c for c in text))


# Kubernetes' CEL library beyond the standard one (k8s.io/apiserver/pkg/cel/library and cel-go's
# strings extension), as far as our rules use it. Any other is "cannot be evaluated offline".
KUBERNETES_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "lowerAscii": _lower_ascii,
    "upperAscii": _upper_ascii,
}


@dataclass(frozen=True)
class Failure:
    """A rule that failed (``unevaluated`` False) or could not be evaluated here (True)."""

    path: str
    rule: str
    message: str
    unevaluated: bool = False


@cache
def _program(rule: str) -> Any:
    env = celpy.Environment()
    return env.program(env.compile(rule), functions=KUBERNETES_FUNCTIONS)


def _short(exc: Exception) -> str:
    """celpy's error without the activation it dumps (every variable and function it knows)."""
    text = str(exc.args[0] if exc.args else exc)
    return text.split(" (in activation", 1)[0].lstrip('("')


def evaluate(rule: str, value: Any) -> bool | str:
    """True or False, or why ``rule`` cannot be evaluated with ``self`` = ``value``."""
    try:
        result = _program(rule).evaluate({"self": json_to_cel(value)})
    except Exception as exc:  # noqa: BLE001 - celpy raises many kinds; each is "cannot evaluate"
        return f"{type(exc).__name__}: {_short(exc)}"
    if isinstance(result, celtypes.BoolType):
        return bool(result)
    return f"the rule gave {type(result).__name__}, not a bool"


def check(schema: Mapping[str, Any], value: Any, path: str = "") -> Iterator[Failure]:
    """Every rule of ``schema`` (an openAPIV3Schema) that ``value`` fails, depth first, where the
    value is present; transition rules (oldSelf) are left to updates, as the API server does."""
    for entry in schema.get("x-kubernetes-validations", []):
        rule, message = str(entry["rule"]), str(entry.get("message") or f"failed rule: {entry['rule']}")
        if _TRANSITION.search(rule):
            continue
        outcome = evaluate(rule, value)
        if outcome is False:
            yield Failure(path, rule, message)
        elif isinstance(outcome, str):
            yield Failure(path, rule, outcome, unevaluated=True)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, child in value.items():
            sub = properties.get(key, extra if isinstance(extra, dict) else None)
            if sub is not None:
                yield from check(sub, child, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, child in enumerate(value):
            yield from check(schema["items"], child, f"{path}[{index}]")
