"""Command-line options several `cloudios` commands share."""

from __future__ import annotations

import argparse
import os


def add_store_location(p: argparse.ArgumentParser, *, url: bool = False) -> None:
    """--data-dir (the SQLite store), and with ``url`` also --database-url."""
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="store directory (default $CLOUDIOS_DATA_DIR or ~/.local/share/cloudios)",
    )
    if url:
        p.add_argument(
            "--database-url",
            metavar="URL",
            default=os.environ.get("CLOUDIOS_DATABASE_URL"),
            help="SQLAlchemy URL of the store; overrides --data-dir (default $CLOUDIOS_DATABASE_URL)",
        )
