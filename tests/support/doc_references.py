"""Finds the make targets, commands, chart values and CLOUDIOS_* variables a Markdown page names.

The rules (tests/unit/test_docs_consistency.py checks what they find against the code):

* Only code counts: inline code spans and fenced blocks. Prose never does ("make sure", "the
  cloudios category"). Fenced blocks tagged json, yaml, python or any other non-shell language
  give only variables; untagged and sh/bash/shell/console blocks give commands too.
* A shell line is joined with its backslash continuations, loses its `# comment`, and is split into
  commands at `|`, `&&`, `||`, `;`, `$(` and `<(`. A command starts after `$ `, `sudo`, `env` and
  `NAME=value` assignments; its program is the last path part of its first word
  (`.venv/bin/cloudios` is `cloudios`), so `helm install cloudios helm/cloudios` names no command.
* `make A B`: every following word that looks like a target (lowercase, digits, dashes).
* `cloudios ...`, `kubectl cloudios ...` (or `kubectl-cloudios`) and `cloudios-agent ...`: the words
  are walked through the real argument parser: a subcommand must exist where the parser expects
  one, and every `-x`/`--long` option must belong to the (sub)command it follows, spelt in full.
  A word that is not lowercase letters and dashes (a placeholder like `<name>`, `…`) ends the walk.
* Chart values: the keys of `--set`, `--set-string`, `--set-file` and `--set-json` in a helm
  command; the same outside a helm command (a span `--set a.b=c`) and a code span `a.b=value` (a
  dotted key set to something) when the key's first part is a top-level key of a chart, since
  `--set x=2.5` may be a generic example; and a bare dotted span (`metrics.serviceMonitor.enabled`,
  `database.*`) whose first part is a top-level key of a chart when its line also says value(s),
  values.yaml, --set or chart
  (file names such as `rbac.json` and API groups or hosts such as `metrics.k8s.io` excepted).
  `[0]` indexes are dropped; a trailing `.*` asks only that the prefix exists.
* An agent flag table: a code span that is only a long option (`--ingest-url`) on a line that also
  names a `CLOUDIOS_AGENT_` variable is read as `cloudios-agent --ingest-url`.
* Variables: every `CLOUDIOS_[A-Z0-9_]+` anywhere in code; one ending in `_` or followed by `*` or
  `<` (`CLOUDIOS_INGEST_*`, `CLOUDIOS_AGENT_<FLAG>`) is a prefix that some variable must start with.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SHELL_LANGUAGES = frozenset({"", "sh", "bash", "shell", "console", "text"})
SET_FLAGS = ("--set", "--set-string", "--set-file", "--set-json")
PROGRAMS = ("cloudios", "cloudios-agent", "kubectl-cloudios")
SPAN = re.compile(r"`([^`\n]+)`")
VARIABLE = re.compile(r"CLOUDIOS_[A-Z0-9_]*[*<]?")
DOTTED = re.compile(r"^[a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+|\[\d+\])*(?:\.[A-Za-z0-9]+)(?:\.\*)?$")
ASSIGNED = re.compile(r"^([a-z][A-Za-z0-9]*(?:\.[A-Za-z0-9]+|\[\d+\])+)=\S*$")
VALUE_WORDS = re.compile(r"\bvalues?\b|values\.yaml|--set|\bchart\b", re.IGNORECASE)
FILE_NAME = re.compile(r"\.(json|ya?ml|py|md|txt|toml|db|crt|key|pem|sh|html|csv|lock|mod|sum)$")
HOST = re.compile(r"\.(io|com|dev|net|org|internal|local)$")  # API groups and host names
TARGET = re.compile(r"^[a-z][a-z0-9-]*$")
SPLIT = re.compile(r"\|\||&&|\||;|\$\(|<\(")


@dataclass(frozen=True)
class Reference:
    kind: str  # make | command | chart-value | variable
    path: Path
    line: int
    text: str  # what the page says: the target, the command's words, the value key, the variable
    chart: str = ""  # for chart values named in a helm command: the chart directory it installs

    def where(self) -> str:
        return f"{self.path}:{self.line}"


@dataclass(frozen=True)
class Fragment:
    text: str
    line: int
    shell: bool  # commands may be read from it
    span: bool  # an inline code span (chart-value rules for bare spans apply)
    context: str  # the whole source line, for the chart-value keywords


def fragments(text: str) -> Iterator[Fragment]:
    """Inline code spans of prose lines, and the lines of fenced blocks (continuations joined)."""
    fence: str | None = None
    language = ""
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if stripped.startswith("```"):
            if fence is None:
                fence, language = "```", stripped[3:].strip().lower()
            else:
                fence = None
            continue
        if fence is None:
            for match in SPAN.finditer(raw):
                yield Fragment(match.group(1), number, shell=True, span=True, context=raw)
            continue
        start, joined = pending or (number, "")
        joined = f"{joined} {raw.strip()}" if joined else raw.strip()
        if joined.endswith("\\"):
            pending = (start, joined[:-1].rstrip())
            continue
        pending = None
        yield Fragment(joined, start, shell=language in SHELL_LANGUAGES, span=False, context=joined)


def _uncommented(line: str) -> str:
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


def _words(command: str) -> list[str]:
    try:
        return shlex.split(command)
    except ValueError:
        return command.split()


def commands(line: str) -> Iterator[list[str]]:
    """The commands of one shell line, each as its words, the program first (a bare name)."""
    for part in SPLIT.split(_uncommented(line)):
        words = _words(part.replace(")", " "))
        while words and (
            words[0] in {"$", "sudo", "env", "exec", "time"} or re.match(r"^[A-Z_][A-Z0-9_]*=", words[0])
        ):
            words = words[1:]
        if words:
            yield [words[0].rsplit("/", 1)[-1], *words[1:]]


def _chart_of(words: list[str]) -> str:
    for word in words:
        if re.search(r"(^|/)helm/cloudios-agent/?$", word):
            return "cloudios-agent"
        if re.search(r"(^|/)helm/cloudios/?$", word):
            return "cloudios"
    return ""


def _set_keys(words: list[str]) -> Iterator[str]:
    for i, word in enumerate(words):
        flag, _, inline = word.partition("=")
        if flag not in SET_FLAGS:
            continue
        assignment = inline or (words[i + 1] if i + 1 < len(words) else "")
        for item in re.split(r",(?=[A-Za-z][\w.\[\]-]*=)", assignment):
            key = item.partition("=")[0]
            if key and "=" in item:
                yield key


def references(path: Path, text: str, chart_roots: frozenset[str]) -> Iterator[Reference]:
    """Every reference of the page; chart_roots are the charts' top-level keys (for bare spans)."""
    for fragment in fragments(text):
        for match in VARIABLE.finditer(fragment.text):
            name = match.group(0).rstrip("*<")
            # A name ending in _ or followed by * or < is a prefix: "CLOUDIOS_INGEST_*".
            prefix = name.endswith("_") or match.group(0) != name
            yield Reference("variable", path, fragment.line, f"{name}*" if prefix else name)
        if not fragment.shell:
            continue
        yield from _command_references(path, fragment, chart_roots)
        if fragment.span:
            yield from _span_values(path, fragment, chart_roots)


def _command_references(path: Path, fragment: Fragment, chart_roots: frozenset[str]) -> Iterator[Reference]:
    for words in commands(fragment.text):
        program = words[0]
        if program == "make":
            for word in words[1:]:
                if not TARGET.match(word):
                    break
                yield Reference("make", path, fragment.line, word)
        elif program in PROGRAMS or (program == "kubectl" and words[1:2] == ["cloudios"]):
            name = "kubectl-cloudios" if program == "kubectl" else program
            rest = words[2:] if program == "kubectl" else words[1:]
            yield Reference("command", path, fragment.line, " ".join([name, *rest]))
        if program in {"helm", *SET_FLAGS} or any(w.partition("=")[0] in SET_FLAGS for w in words):
            chart = _chart_of(words)
            for key in _set_keys(words):
                # Outside a helm command, `--set x=2.5` may be a generic example: only a key under a
                # chart's top-level value is taken as naming a chart value.
                if program == "helm" or key.split(".", 1)[0].split("[", 1)[0] in chart_roots:
                    yield Reference("chart-value", path, fragment.line, key, chart)


def _span_values(path: Path, fragment: Fragment, chart_roots: frozenset[str]) -> Iterator[Reference]:
    text = fragment.text.strip()
    if re.fullmatch(r"--[a-z][a-z0-9-]*", text) and "CLOUDIOS_AGENT_" in fragment.context:
        yield Reference("command", path, fragment.line, f"cloudios-agent {text}")
        return
    if text.startswith(SET_FLAGS):
        return  # read as a command above
    assigned = ASSIGNED.match(text)
    if assigned:
        if assigned.group(1).split(".", 1)[0].split("[", 1)[0] in chart_roots:
            yield Reference("chart-value", path, fragment.line, assigned.group(1))
    elif (
        DOTTED.match(text)
        and not FILE_NAME.search(text)
        and not HOST.search(text)
        and text.split(".", 1)[0].split("[", 1)[0] in chart_roots
        and VALUE_WORDS.search(fragment.context)
    ):
        yield Reference("chart-value", path, fragment.line, text)


def pages(root: Path) -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]
