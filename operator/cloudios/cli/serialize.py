"""Machine-readable output shared by the CLI and the kubectl plugin: JSON and YAML of plain data."""

from __future__ import annotations

import json
from typing import Any

import yaml

FORMATS = ("json", "yaml")


def to_json(data: Any) -> str:
    """Indented JSON; non-ASCII and control characters escaped (ensure_ascii)."""
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def to_yaml(data: Any) -> str:
    """YAML of plain data: safe_dump only (no Python tags), every non-ASCII or control character
    escaped, so values from the cloud (tags, names) stay inert text, as in the JSON output."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=False, default_flow_style=False, width=100)


def dump(data: Any, fmt: str) -> str:
    """``data`` as ``fmt`` (json or yaml)."""
    return to_yaml(data) if fmt == "yaml" else to_json(data)
