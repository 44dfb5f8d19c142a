"""`cloudios completion`: shell completion scripts generated from the parser itself."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Iterator

from cloudios.cli.commands import EXIT_OK
from cloudios.cli.main import build_parser


def run(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return EXIT_OK


def script(shell: str) -> str:
    """The completion script for ``shell``: shtab's for bash and zsh, fish's written here."""
    parser = build_parser()
    if shell == "fish":
        return fish(parser)
    import shtab  # noqa: PLC0415 - only this command needs it

    return str(shtab.complete(parser, shell=shell)) + "\n"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # noqa: SLF001 - argparse has no public walk of its tree
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _help_of(parser: argparse.ArgumentParser, name: str) -> str:
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            for choice in action._choices_actions:  # noqa: SLF001
                if choice.dest == name:
                    return choice.help or ""
    return ""


def fish(parser: argparse.ArgumentParser) -> str:
    """`complete` lines for fish: commands by position, then each command's options and choices."""
    prog = parser.prog
    lines = [f"# fish completion for {prog}, written by `{prog} completion fish`", f"complete -c {prog} -f"]
    lines += list(_fish_level(prog, parser, ()))
    return "\n".join(lines) + "\n"


def _fish_level(prog: str, parser: argparse.ArgumentParser, path: tuple[str, ...]) -> Iterator[str]:
    children = _subcommands(parser)
    condition = "; and ".join(f"__fish_seen_subcommand_from {shlex.quote(p)}" for p in path)
    if children:
        names = " ".join(children)
        not_yet = f"not __fish_seen_subcommand_from {names}"
        when = f"{condition}; and {not_yet}" if condition else not_yet
        for name in children:
            yield (
                f"complete -c {prog} -n {shlex.quote(when)} -a {shlex.quote(name)} "
                f"-d {shlex.quote(_help_of(parser, name))}"
            )
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction) or not action.option_strings:  # noqa: SLF001
            if action.choices and not isinstance(action, argparse._SubParsersAction) and condition:  # noqa: SLF001
                choices = shlex.quote(" ".join(map(str, action.choices)))
                yield f"complete -c {prog} -n {shlex.quote(condition)} -a {choices}"
            continue
        yield _fish_option(prog, condition, action)
    for name, child in children.items():
        yield from _fish_level(prog, child, (*path, name))


def _plain(action: argparse.Action) -> str:
    """An option's help with argparse's %(default)s expanded, as --help shows it."""
    text = str(action.help).replace("%(default)s", str(action.default))
    return text.replace("%%", "%")


def _fish_option(prog: str, condition: str, action: argparse.Action) -> str:
    """One option's `complete` line: its short and long names, choices or a file, and its help."""
    parts = [f"complete -c {prog}"]
    if condition:
        parts.append(f"-n {shlex.quote(condition)}")
    parts += [f"-s {o[1:]}" if not o.startswith("--") else f"-l {o[2:]}" for o in action.option_strings]
    if action.choices:
        parts.append(f"-x -a {shlex.quote(' '.join(map(str, action.choices)))}")
    elif action.nargs != 0:
        parts.append("-r -F")
    if action.help and action.help != argparse.SUPPRESS:
        parts.append(f"-d {shlex.quote(_plain(action))}")
    return " ".join(parts)
