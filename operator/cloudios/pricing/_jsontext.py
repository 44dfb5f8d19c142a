"""JSON text of price snapshots: one member per line down to the price tables, each table on one line.

Snapshots ship in the wheel, so they are written without spaces; a diff of a regenerated snapshot
still shows which tables changed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

_EXPANDED_LEVELS = 4  # document, regions, one region, a region's section; deeper values stay on one line


def encode(data: Any, level: int = 0) -> str:
    """JSON text with objects expanded one member per line down to the price tables."""
    if not isinstance(data, dict) or not data or level >= _EXPANDED_LEVELS:
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    pad = " " * (level + 1)
    members = [f"{pad}{json.dumps(k, ensure_ascii=False)}:{encode(v, level + 1)}" for k, v in data.items()]
    return "{\n" + ",\n".join(members) + "\n" + " " * level + "}"


def share_decimals(tables: Iterable[Any]) -> None:
    """Replace, in place, each price of the tables (name -> price) by one Decimal per distinct figure.

    Price tables repeat a few tens of thousands of distinct figures over a hundred thousand entries;
    sharing them roughly halves the memory a loaded book holds. A value that is not a decimal number
    is left for validation to refuse.
    """
    seen: dict[str, Decimal] = {}
    for table in tables:
        if not isinstance(table, dict):
            continue
        for key, value in table.items():
            if isinstance(value, str | Decimal):
                try:
                    table[key] = seen.setdefault(str(value), Decimal(str(value)))
                except InvalidOperation:
                    continue
