"""Price snapshot files: the explicit table of which cloud's parser reads one."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cloudios.pricing import aws, azure, gcp
from cloudios.pricing.base import PriceBook

# provider -> parser of that cloud's snapshot JSON text; one line per cloud.
PARSERS: dict[str, Callable[[str], PriceBook]] = {
    "aws": aws.parse_book,
    "gcp": gcp.parse_book,
    "azure": azure.parse_book,
}
# Snapshots written before the ``provider`` field existed were all AWS ones.
UNNAMED_PROVIDER = "aws"


def load_book(path: Path | str) -> PriceBook:
    """The price book in a snapshot file, read by the parser of the cloud its ``provider`` names.

    Raises OSError when the file cannot be read and ValueError (pydantic's ValidationError
    included) when it is not a snapshot of a known cloud.
    """
    text = Path(path).read_text(encoding="utf-8")
    data = json.loads(text)
    provider = data.get("provider", UNNAMED_PROVIDER) if isinstance(data, dict) else None
    parse = PARSERS.get(provider) if isinstance(provider, str) else None
    if parse is None:
        known = ", ".join(PARSERS)
        raise ValueError(f"not a price snapshot of a known cloud (provider {provider!r}; known: {known})")
    return parse(text)
