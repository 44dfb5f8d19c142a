"""What README.md and docs/**/*.md name exists: make targets, commands, chart values, CLOUDIOS_* variables.

Where each is looked up:

* make targets: the rules of the Makefile (`name:` at the start of a line; `.PHONY` alone is no rule).
* `cloudios`, `kubectl cloudios` and `cloudios-agent` commands: the real argument parsers
  (cloudios.cli.main.build_parser, cloudios.cli.kubectl.build_parser, cloudios_agent.main._parser).
* chart values: the keys of helm/*/values.yaml and the properties of helm/*/values.schema.json;
  below a key whose default is an empty map or a list, or whose schema is an open object, any
  key is accepted. A `--set` in a `helm ... helm/<chart>` command is checked against that chart.
* variables: the names the code reads: every settings group's `env_prefix` + field (or its
  validation aliases), the agent's one variable per flag, and every string constant in operator/
  and agent/ that is exactly a CLOUDIOS_* name (os.environ keys, the Job environment, constants).

How a page is read (what counts as a reference, so that prose never trips the test) is written in
tests/support/doc_references.py. Each failure names the page and line, what it says, and the fix.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic_settings import BaseSettings

from cloudios.cli import kubectl
from cloudios.cli import main as cli_main
from cloudios.services import settings as operator_settings
from cloudios_agent import main as agent_main
from tests.support import doc_references
from tests.support.doc_references import Reference

ROOT = Path(__file__).resolve().parent.parent.parent
CHARTS = ("cloudios", "cloudios-agent")


def hint(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


# ---- what exists -----------------------------------------------------------------------------------


@cache
def make_targets() -> frozenset[str]:
    rule = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_. -]*?)\s*::?(?!=)")
    targets: set[str] = set()
    for line in (ROOT / "Makefile").read_text(encoding="utf-8").splitlines():
        match = rule.match(line)
        if match:
            targets.update(t for t in match.group(1).split() if "$" not in t)
    return frozenset(targets)


@cache
def parsers() -> dict[str, argparse.ArgumentParser]:
    built: Any = (
        cli_main.build_parser()
    )  # (parser, runners) today; the parser alone once commands load lazily
    return {
        "cloudios": built[0] if isinstance(built, tuple) else built,
        "kubectl-cloudios": kubectl.build_parser(),
        "cloudios-agent": agent_main._parser(),
    }


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser] | None:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            choices: dict[str, argparse.ArgumentParser] = action.choices
            return choices
    return None


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action | None:
    actions = parser._option_string_actions
    if flag in actions:
        return actions[flag]
    if re.fullmatch(r"-[A-Za-z]{2,}", flag) and all(f"-{c}" in actions for c in flag[1:]):
        return actions[f"-{flag[1]}"]  # stacked short flags: -vv
    return None


def command_problem(words: list[str]) -> str | None:
    """Why `words` (program first) is not a command the parsers accept, or None."""
    parser, path, i = parsers()[words[0]], [words[0].replace("kubectl-", "kubectl ")], 1
    words = [w.strip("[]{}(),") for w in words]  # synopsis notation: [--flag VALUE], {a,b}
    while i < len(words):
        word = words[i]
        if word.startswith("-") and len(word) > 1 and not word[1].isdigit():
            flag = word.split("=", 1)[0]
            action = _option(parser, flag)
            if action is None:
                options = sorted(o for o in parser._option_string_actions if o.startswith("--"))
                return f"`{' '.join(path)}` has no option {flag}{hint(flag, options)}; its options: {options}"
            takes = action.nargs != 0 and "=" not in word
            if action.nargs in {"?", "*"}:
                takes = takes and i + 1 < len(words) and not words[i + 1].startswith("-")
            i += 2 if takes else 1
            continue
        sub = _subcommands(parser)
        if sub is not None:
            if not re.fullmatch(r"[a-z][a-z-]*", word):
                return None  # a placeholder where the subcommand goes: nothing more to check
            if word not in sub:
                return (
                    f"`{' '.join(path)} {word}`: no such command{hint(word, sub)}; "
                    f"`{' '.join(path)}` has {sorted(sub)}"
                )
            parser, path = sub[word], [*path, word]
        i += 1
    return None


def _flatten(node: Any, prefix: str, known: set[str], open_: set[str]) -> None:
    if isinstance(node, dict):
        if not node and prefix:
            open_.add(prefix)
        for key, child in node.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            known.add(path)
            _flatten(child, path, known, open_)
    elif isinstance(node, list) or node is None:
        open_.add(prefix)


def _schema(node: dict[str, Any], prefix: str, known: set[str], open_: set[str]) -> None:
    properties = node.get("properties")
    if isinstance(properties, dict):
        for key, child in properties.items():
            path = f"{prefix}.{key}" if prefix else key
            known.add(path)
            if isinstance(child, dict):
                _schema(child, path, known, open_)
    if prefix and (
        node.get("type") == "array"
        or (not properties and node.get("additionalProperties") not in (None, False))
    ):
        open_.add(prefix)


@cache
def chart_values(chart: str) -> tuple[frozenset[str], frozenset[str]]:
    """(every key path, the paths below which any key is accepted) of one chart."""
    known: set[str] = set()
    open_: set[str] = set()
    folder = ROOT / "helm" / chart
    _flatten(yaml.safe_load((folder / "values.yaml").read_text(encoding="utf-8")) or {}, "", known, open_)
    schema = folder / "values.schema.json"
    if schema.exists():
        _schema(json.loads(schema.read_text(encoding="utf-8")), "", known, open_)
    return frozenset(known), frozenset(open_)


def chart_roots() -> frozenset[str]:
    return frozenset(p for chart in CHARTS for p in chart_values(chart)[0] if "." not in p)


def value_problem(ref: Reference) -> str | None:
    key = re.sub(r"\[\d+\]", "", ref.text)
    wildcard = key.endswith(".*")
    key = key.removesuffix(".*")
    charts = (ref.chart,) if ref.chart else CHARTS
    for chart in charts:
        known, open_ = chart_values(chart)
        parts = key.split(".")
        if key in known or any(".".join(parts[:n]) in open_ for n in range(1, len(parts))):
            return None
        if wildcard and any(k.startswith(f"{key}.") for k in known):
            return None
    files = " or ".join(f"helm/{c}/values.yaml" for c in charts)
    every = {k for c in charts for k in chart_values(c)[0]}
    return f"chart value `{ref.text}` is not in {files}{hint(key, every)}"


def _settings_variables(group: type[BaseSettings]) -> Iterable[str]:
    prefix = str(group.model_config.get("env_prefix", ""))
    for name, field in group.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseSettings):
            yield from _settings_variables(annotation)
            continue
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        if choices:
            yield from (str(c) for c in choices)
        elif isinstance(alias, str):
            yield alias
        else:
            yield f"{prefix}{name}".upper()


# Python code that reads variables: the product, and the test harness and tools (docs/development.md);
# shell scripts and the Makefile too (see variables()).
READERS = ("operator/cloudios", "agent/cloudios_agent", "tests/support", "tools", "bench")


@cache
def variables() -> frozenset[str]:
    names = set(_settings_variables(operator_settings.OperatorSettings))
    names |= agent_main.variables()
    for folder in READERS:
        for source in (ROOT / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and re.fullmatch(r"CLOUDIOS_[A-Z0-9_]*[A-Z0-9]", node.value)
                ):
                    names.add(node.value)
    scripts = [ROOT / "Makefile", *ROOT.glob("*.sh"), *(ROOT / "tools").rglob("*.sh")]
    scripts += [*(ROOT / "images").rglob("*.sh")] if (ROOT / "images").is_dir() else []
    for script in scripts:  # $X, ${X} (shell) and $(X) (make)
        names.update(re.findall(r"\$[({]?(CLOUDIOS_[A-Z0-9_]*[A-Z0-9])", script.read_text(encoding="utf-8")))
    return frozenset(names)


def variable_problem(ref: Reference) -> str | None:
    known = variables()
    if ref.text.endswith("*"):
        prefix = ref.text[:-1]
        if any(v.startswith(prefix) for v in known):
            return None
        return f"no variable the code reads starts with {prefix}"
    if ref.text in known:
        return None
    return f"{ref.text} is read nowhere in {', '.join(READERS)}{hint(ref.text, known)}"


# ---- the check -------------------------------------------------------------------------------------


def problem(ref: Reference) -> str | None:
    if ref.kind == "make":
        if ref.text in make_targets():
            return None
        targets = sorted(make_targets())
        return f"`make {ref.text}`: no such target{hint(ref.text, targets)}; targets: {targets}"
    if ref.kind == "command":
        return command_problem(ref.text.split(" "))
    if ref.kind == "chart-value":
        return value_problem(ref)
    return variable_problem(ref)


def page_references(path: Path, text: str | None = None) -> list[Reference]:
    body = path.read_text(encoding="utf-8") if text is None else text
    return list(
        doc_references.references(path.relative_to(ROOT) if path.is_absolute() else path, body, chart_roots())
    )


def problems_of(refs: Iterable[Reference]) -> list[str]:
    found = []
    for ref in refs:
        why = problem(ref)
        if why:
            found.append(f"{ref.where()}: {why}. Fix the page, or the code if the page is right.")
    return found


@pytest.mark.parametrize("page", doc_references.pages(ROOT), ids=lambda p: str(p.relative_to(ROOT)))
def test_everything_a_page_names_exists(page: Path) -> None:
    problems = problems_of(page_references(page))
    assert not problems, "\n".join(problems)


# ---- the rules themselves: each kind of mistake is caught, prose is not ----------------------------

SAMPLE = """\
Prose is ignored: make sure that cloudios scans, even CLOUDIOS_IN_PROSE stays out of code.
`helm install cloudios helm/cloudios` and `kubectl get cloudios -n team-a` name no cloudios command.

```sh
make demo lint   # a comment: make nothing-here
make no-such-target
cloudios scan -f a.yaml -o json | jq .summary
CLOUDIOS_LOG_LEVEL=DEBUG .venv/bin/cloudios scna -f a.yaml
cloudios scan --fail-abov 500
cloudios keys add [--keyset FILE] [--primery]
kubectl cloudios approve <name> -n team-a --reason "checked with the owners"
kubectl cloudios aprove x
cloudios-agent --ingest-url https://ingest --no-such-flag
helm install cloudios-agent helm/cloudios-agent \\
  --set ingest.url=https://x --set-file token=t.txt --set ingest.nope=1
```

Set the chart value `metrics.serviceMonitor.enable`, or `operator.peering.enabled=true`; the chart's
value `metrics.k8s.io` is an API group and `rbac.json` a file, and `nodeSelector.zone` is free-form;
`--set x=2.5` in general is no chart value, but `--set metrics.prot=1` is.
`CLOUDIOS_LOG_LEVEL`, `CLOUDIOS_NO_SUCH`, `CLOUDIOS_INGEST_*`, `CLOUDIOS_NOPE_*`, `CLOUDIOS_AGENT_<FLAG>`.

```yaml
cloudios scna: not a command in YAML
env: [{name: CLOUDIOS_IN_YAML}]
```

| `--ingest-url` | `CLOUDIOS_AGENT_INGEST_URL` | an agent flag table |
| `--no-such-agent-flag` | `CLOUDIOS_AGENT_NO_SUCH_AGENT_FLAG` | |
"""


def test_each_kind_of_wrong_reference_is_caught_and_prose_is_not() -> None:
    refs = page_references(Path("docs/sample.md"), SAMPLE)
    found = problems_of(refs)
    expected = [
        "docs/sample.md:6: `make no-such-target`: no such target",
        "docs/sample.md:8: `cloudios scna`: no such command (did you mean scan?)",
        "docs/sample.md:9: `cloudios scan` has no option --fail-abov (did you mean --fail-above?)",
        "docs/sample.md:10: `cloudios keys add` has no option --primery (did you mean --primary?)",
        "docs/sample.md:12: `kubectl cloudios aprove`: no such command (did you mean approve?)",
        "docs/sample.md:13: `cloudios-agent` has no option --no-such-flag",
        "docs/sample.md:14: chart value `ingest.nope` is not in helm/cloudios-agent/values.yaml",
        (
            "docs/sample.md:18: chart value `metrics.serviceMonitor.enable` is not in "
            "helm/cloudios/values.yaml or helm/cloudios-agent/values.yaml (did you mean "
            "metrics.serviceMonitor.enabled"
        ),
        "docs/sample.md:20: chart value `metrics.prot` is not in helm/cloudios/values.yaml or",
        "docs/sample.md:21: CLOUDIOS_NO_SUCH is read nowhere",
        "docs/sample.md:21: no variable the code reads starts with CLOUDIOS_NOPE_",
        "docs/sample.md:25: CLOUDIOS_IN_YAML is read nowhere",
        "docs/sample.md:29: `cloudios-agent` has no option --no-such-agent-flag",
        "docs/sample.md:29: CLOUDIOS_AGENT_NO_SUCH_AGENT_FLAG is read nowhere",
    ]
    assert len(found) == len(expected), "\n".join(found)
    for problem_text, start in zip(found, expected, strict=True):
        assert problem_text.startswith(start), f"{problem_text!r} should start with {start!r}"
    kinds = {(r.kind, r.text) for r in refs}
    assert ("make", "demo") in kinds
    assert ("make", "lint") in kinds
    assert ("make", "nothing-here") not in kinds
    assert ("command", "cloudios scan -f a.yaml -o json") in kinds
    assert ("chart-value", "operator.peering.enabled") in kinds
    assert ("chart-value", "nodeSelector.zone") in kinds
    assert not any(r.kind == "chart-value" and r.text == "x" for r in refs)
    assert not any(r.text == "CLOUDIOS_IN_PROSE" for r in refs)
    assert not any(r.kind == "command" and "get" in r.text for r in refs)
    assert not any("metrics.k8s.io" in r.text or "rbac.json" in r.text for r in refs)


def test_the_lookups_see_what_the_code_has() -> None:
    # Guard against a lookup that silently finds nothing, which would turn every check above off.
    assert {"demo", "test", "lint", "bench", "controlplane", "demo-cli", "audit"} <= make_targets()
    assert {"scan", "demo", "prices", "audit", "keys"} <= set(_subcommands(parsers()["cloudios"]) or {})
    assert {"approve", "dismiss", "summary", "explain"} <= set(
        _subcommands(parsers()["kubectl-cloudios"]) or {}
    )
    assert {"CLOUDIOS_EXECUTOR", "CLOUDIOS_SCAN_EXECUTOR", "CLOUDIOS_AGENT_INGEST_URL"} <= variables()
    assert {"CLOUDIOS_DATABASE_URL", "CLOUDIOS_GCP_MONITORING_ENDPOINT", "CLOUDIOS_CACHE_DIR"} <= variables()
    assert "metrics.serviceMonitor.enabled" in chart_values("cloudios")[0]
    assert "ingest.url" in chart_values("cloudios-agent")[0]
    assert "podAnnotations" in chart_values("cloudios")[1]
