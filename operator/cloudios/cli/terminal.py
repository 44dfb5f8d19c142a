"""Untrusted text on a terminal: literal rich Text (never markup), no control characters or escapes."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from cloudios.domain.text import printable


def cell(value: object) -> Text:
    """A value from a file, a flag, a cloud tag or a CR field, shown exactly as written."""
    return Text(printable(str(value)))


def say(console: Console, line: str) -> None:
    """One line, literally: values from files and flags are never markup or escape sequences."""
    console.print(cell(line))
