"""Entry point of the cloudios-agent command."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """Run the agent (the reporting loop lands with the agent issue)."""
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in {"--version", "version"}:
        from cloudios_agent import __version__  # noqa: PLC0415

        sys.stdout.write(f"cloudios-agent {__version__}\n")
        return 0
    sys.stderr.write("cloudios-agent: the reporting loop is not implemented yet (agent issue)\n")
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
