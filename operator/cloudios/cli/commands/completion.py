"""`cloudios completion`'s options and help."""

from __future__ import annotations

import argparse

from cloudios.cli.commands import SubParsers, command

SHELLS = ("bash", "zsh", "fish")


def add_parser(sub: SubParsers[argparse.ArgumentParser]) -> None:
    p = command(
        sub,
        "completion",
        summary="print a shell completion script (bash, zsh or fish)",
        description="Print a script that completes cloudios's commands, options and choices in your "
        "shell. Load it from your shell's start-up file.",
        examples=(
            "bash: echo 'source <(cloudios completion bash)' >> ~/.bashrc",
            'zsh:  cloudios completion zsh > "${fpath[1]}/_cloudios"',
            "fish: cloudios completion fish > ~/.config/fish/completions/cloudios.fish",
        ),
    )
    p.add_argument("shell", choices=SHELLS, help="the shell to complete in")
