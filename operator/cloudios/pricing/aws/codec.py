"""The AWS snapshot's shared basis records: region tables name them instead of repeating them.

The same source fills one table in thirty-odd regions, so its basis (source, version, hashes, how its
keys were mapped) is written once under ``bases`` and each region's ``tables`` entry names it by key.
"""

from __future__ import annotations

import json
from typing import Any

from cloudios.pricing import _jsontext


def resolve(data: Any) -> Any:
    """Raw snapshot data with every region table that names a shared basis replaced by that basis."""
    if not isinstance(data, dict) or not isinstance(data.get("regions"), dict):
        return data
    bases = data.get("bases") or {}
    regions = {}
    for name, region in data["regions"].items():
        named = region.get("tables") if isinstance(region, dict) else None
        regions[name] = region
        if isinstance(named, dict) and any(isinstance(v, str) for v in named.values()):
            resolved = {}
            for table, basis in named.items():
                if isinstance(basis, str) and basis not in bases:
                    raise ValueError(f"regions.{name}.tables.{table}: names basis {basis!r}, not in bases")
                resolved[table] = bases[basis] if isinstance(basis, str) else basis
            regions[name] = {**region, "tables": resolved}
    return {**data, "regions": regions}


def share(data: dict[str, Any]) -> dict[str, Any]:
    """Dumped snapshot data with every region table equal to a shared basis written as its key."""
    bases = data.get("bases") or {}
    if not bases:
        return data
    keys = {json.dumps(b, sort_keys=True): k for k, b in bases.items()}
    regions = {}
    for name, region in data.get("regions", {}).items():
        named = region.get("tables", {})
        shared = {t: keys.get(json.dumps(b, sort_keys=True), b) for t, b in named.items()}
        regions[name] = {**region, "tables": shared} if named else region
    return {**data, "regions": regions}


def share_prices(data: Any) -> Any:
    """Raw snapshot data whose equal EC2 and RDS prices are one Decimal object (see ``_jsontext``)."""
    if isinstance(data, dict) and isinstance(data.get("regions"), dict):
        _jsontext.share_decimals(
            table
            for region in data["regions"].values()
            if isinstance(region, dict)
            for section in ("ec2", "rds")
            for table in (region.get(section) or {}).values()
        )
    return data
