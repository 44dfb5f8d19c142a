"""`cloudios validate`: manifests checked offline by the models the CRDs are generated from, the CRDs'
CEL rules and the admission webhook's checks, each problem with its file, object, field and fix."""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cloudios.api import API_VERSION, CloudAccount, Recommendation, ScanPolicy, admission, crd
from cloudios.cli import cel_rules, manifest_yaml, serialize
from cloudios.cli import manifests as manifest_io
from cloudios.cli.commands import EXIT_INPUT, EXIT_OK
from cloudios.domain.text import printable

MODELS: dict[str, type[CloudAccount | ScanPolicy | Recommendation]] = {
    "CloudAccount": CloudAccount,
    "ScanPolicy": ScanPolicy,
    "Recommendation": Recommendation,
}
SUFFIXES = (".yaml", ".yml", ".json")
STDIN = "<stdin>"
ERROR, WARNING = "error", "warning"
_INDEX = re.compile(r"\[\d+\]")  # kubectl explain names fields, not list items


@dataclass(frozen=True)
class Problem:
    """One finding about one object: ``error`` fails validation, ``warning`` (a rule not checked
    offline) does not."""

    file: str
    object: str | None
    field: str | None
    message: str
    severity: str = ERROR

    def line(self) -> str:
        where = ": ".join(part for part in (self.file, self.object, self.field) if part)
        # Every part comes from the file: no terminal controls reach the screen.
        return printable(f"{self.severity}: {where}: {self.message}")


@cache
def schemas() -> dict[str, dict[str, Any]]:
    """kind -> the openAPIV3Schema the CRD in crds/ is generated from (its CEL rules included)."""
    return {kind.kind: crd.open_api_schema(kind) for kind in crd.KINDS}


def label(doc: dict[str, Any]) -> str:
    """``Kind/namespace/name``, or ``Kind/name`` when the manifest names no namespace."""
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    parts = [doc.get("kind") or "?", (meta or {}).get("namespace"), (meta or {}).get("name") or "?"]
    return "/".join(str(p) for p in parts if p)


def _schema_problems(file: str, obj: str, model: type[Any], doc: dict[str, Any]) -> Iterator[Problem]:
    try:
        model.model_validate(doc)
    except ValidationError as exc:
        for error in exc.errors():
            path, message = manifest_io.explain(error)
            if path and "; " not in message:  # no fix in the message: where the field is explained
                message += f"; see `kubectl explain {model.__name__.lower()}.{_INDEX.sub('', path)}`"
            yield Problem(file, obj, path or None, message)


def rule_problems(
    file: str, obj: str, schema: dict[str, Any], doc: dict[str, Any], *, valid: bool
) -> Iterator[Problem]:
    """The CEL rules of ``schema`` that ``doc`` fails, and those that cannot be evaluated here."""
    for failure in cel_rules.check(schema, doc):
        if not failure.unevaluated:
            yield Problem(file, obj, failure.path or None, failure.message)
        elif valid:  # on a value the schema refused already, a rule that cannot run says nothing new
            yield Problem(
                file,
                obj,
                failure.path or None,
                f"CEL rule `{failure.rule}` could not be evaluated offline ({failure.message}); "
                "the API server checks it when you apply",
                WARNING,
            )


def _admission_problems(file: str, obj: str, doc: dict[str, Any]) -> Iterator[Problem]:
    """The ScanPolicy webhook's checks, as on a create (private webhook addresses refused: a
    namespace can be allowed them only in the cluster)."""
    found = [admission.schedule_problem(None, doc, dt.datetime.now(dt.UTC))]
    found += admission.notification_problems(None, doc, allow_private=False)
    found.append(admission.verifier_problem(None, doc, allow_private=False))
    for problem in filter(None, found):
        field, _, message = problem.partition(": ") if problem.startswith("spec.") else ("", "", problem)
        field = field.removesuffix(" is refused")
        yield Problem(file, obj, field or None, message)


def ours(doc: Any) -> bool:
    """A Cloudios object (any version: a wrong one is reported), or something that is no object."""
    api_version = doc.get("apiVersion") if isinstance(doc, dict) else None
    return not isinstance(api_version, str) or api_version.split("/")[0] == API_VERSION.split("/")[0]


def check_document(file: str, index: int, doc: Any) -> list[Problem]:
    """Every problem of one YAML document (none for an empty one)."""
    if doc is None:
        return []
    if not isinstance(doc, dict):
        return [Problem(file, f"document {index + 1}", None, "expected a mapping (a Kubernetes object)")]
    obj = label(doc) if doc.get("kind") else manifest_yaml.object_label(None, None, index + 1)
    if doc.get("apiVersion") != API_VERSION:
        found = doc.get("apiVersion")
        return [Problem(file, obj, "apiVersion", f"expected '{API_VERSION}', got {found!r}; set it to it")]
    kind = str(doc.get("kind"))
    model = MODELS.get(kind)
    if model is None:
        known = ", ".join(MODELS)
        return [Problem(file, obj, "kind", f"unknown kind {doc.get('kind')!r}; use one of {known}")]
    problems = list(_schema_problems(file, obj, model, doc))
    problems += rule_problems(file, obj, schemas()[kind], doc, valid=not problems)
    if kind == "ScanPolicy":
        problems += _admission_problems(file, obj, doc)
    return list(dict.fromkeys(problems))  # the model and the webhook share some checks: once each


def expand(paths: list[str]) -> Iterator[str]:
    """Files as given ('-' is stdin); a directory gives its *.yaml, *.yml and *.json, sorted."""
    for path in paths:
        if path != "-" and Path(path).is_dir():
            yield from sorted(str(p) for p in Path(path).rglob("*") if p.suffix in SUFFIXES and p.is_file())
        else:
            yield path


def validate(paths: list[str]) -> tuple[int, list[Problem]]:
    """(objects read, problems) of every document of every file."""
    problems: list[Problem] = []
    seen: dict[tuple[str, str, str], str] = {}
    count = 0
    for path in expand(paths):
        file = STDIN if path == "-" else path
        try:
            docs = manifest_io.documents(path)
        except manifest_io.ManifestError as exc:
            problems.append(Problem(file, exc.obj, exc.field, exc.message))
            continue
        for index, doc in enumerate(docs):
            if doc is None or not ours(doc):
                continue  # another API group's object (a Deployment in the same file): not ours to check
            count += 1
            problems += check_document(file, index, doc)
            if isinstance(doc, dict) and isinstance(doc.get("metadata"), dict):
                meta = doc["metadata"]
                key = (str(doc.get("kind")), str(meta.get("namespace") or "default"), str(meta.get("name")))
                if key in seen:
                    problems.append(
                        Problem(
                            file,
                            label(doc),
                            "metadata.name",
                            f"defined twice in namespace '{key[1]}' (also in {seen[key]}); rename one",
                        )
                    )
                seen.setdefault(key, file)
    return count, problems


def run(args: argparse.Namespace) -> int:
    count, problems = validate(args.filename)
    errors = [p for p in problems if p.severity == ERROR]
    for problem in problems:
        if problem.severity == ERROR or not args.quiet:
            sys.stderr.write(problem.line() + "\n")
    if args.output in {"json", "yaml"}:
        result = {"objects": count, "valid": not errors, "problems": [asdict(p) for p in problems]}
        sys.stdout.write(serialize.dump(result, args.output))
    elif not args.quiet:
        verdict = "valid" if not errors else f"{len(errors)} error(s)"
        sys.stdout.write(f"{count} object(s) checked: {verdict}\n")
    return EXIT_INPUT if errors or not count else EXIT_OK
