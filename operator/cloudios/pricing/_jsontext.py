"""JSON text of price snapshots: one member per line down to the price tables, each table on one line.

Snapshots ship in the wheel, so they are written without spaces; a diff of a regenerated snapshot
still shows which tables changed.
"""

from __future__ import annotations

import json
from typing import Any

_EXPANDED_LEVELS = 4  # document, regions, one region, a region's section; deeper values stay on one line


def encode(data: Any, level: int = 0) -> str:
    """JSON text with objects expanded one member per line down to the price tables."""
    if not isinstance(data, dict) or not data or level >= _EXPANDED_LEVELS:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    pad = " " * (level + 1)
    members = [f"{pad}{json.dumps(k, ensure_ascii=False)}:{encode(v, level + 1)}" for k, v in data.items()]
    return "{\n" + ",\n".join(members) + "\n" + " " * level + "}"
