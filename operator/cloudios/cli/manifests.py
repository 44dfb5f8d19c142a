"""Reads CloudAccount and ScanPolicy manifests from YAML files, with errors naming file, object and field."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from cloudios.api import API_VERSION, CloudAccount, ScanPolicy
from cloudios.cli import manifest_yaml

_KINDS: dict[str, type[CloudAccount | ScanPolicy]] = {
    "CloudAccount": CloudAccount,
    "ScanPolicy": ScanPolicy,
}

_HINTS = {
    "spec.aws.roleArn": "set it to the ARN of the read-only role, "
    "e.g. arn:aws:iam::123456789012:role/cloudios",
    "spec.aws.externalId": "set it to the external ID in the role's trust policy",
    "spec.aws.accountId": "set it to the 12-digit AWS account ID",
    "spec.aws.regions": "list the regions to scan, e.g. [us-east-1]",
    "spec.lookbackDays": "use a whole number of days from 1 to 90",
    "spec.provider": "use one of aws, gcp, azure, kubernetes",
}


class ManifestError(ValueError):
    """Bad input in a manifest file; the message names the file, the object and the field."""

    def __init__(self, file: str, obj: str | None, field: str | None, message: str) -> None:
        where = ": ".join(part for part in (file, obj, field) if part)
        super().__init__(f"{where}: {message}")
        self.file = file
        self.obj = obj
        self.field = field
        self.message = message


@dataclass
class Manifests:
    """Everything read from the given files, in order."""

    accounts: list[CloudAccount] = field(default_factory=list)
    policies: list[ScanPolicy] = field(default_factory=list)
    origin: dict[tuple[str, str, str], str] = field(default_factory=dict)
    """(kind, namespace, name) -> the file it came from, for error messages."""

    def file_of(self, obj: CloudAccount | ScanPolicy) -> str:
        return self.origin.get((obj.kind, obj.metadata.namespace, obj.metadata.name), "<manifests>")


def _loc_to_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.startswith(("function-after", "function-before")):
            continue
        else:
            out += ("." if out else "") + part
    return out


def explain(error: ErrorDetails) -> tuple[str, str]:
    path = _loc_to_path(tuple(error["loc"]))
    msg = str(error["msg"])
    if msg.startswith("Value error, "):
        msg = msg.removeprefix("Value error, ")
        # Validators name the sub-field themselves as "<field>: <message>".
        head, sep, rest = msg.partition(": ")
        if sep and " " not in head:
            path = f"{path}.{head}" if path else head
            msg = rest
    if error["type"] == "missing":
        msg = "required field is missing"
    elif error["type"] == "extra_forbidden":
        msg = "unknown field (check the spelling; see `kubectl explain` or docs/)"
    elif error["type"] == "literal_error" or error["type"] == "enum":
        msg = f"{msg} (got {error.get('input')!r})"
    hint = _HINTS.get(path)
    return path, f"{msg}; {hint}" if hint and error["type"] == "missing" else msg


def _parse(file: str, index: int, doc: Any) -> CloudAccount | ScanPolicy | None:
    if doc is None:
        return None
    if not isinstance(doc, dict):
        raise ManifestError(file, f"document {index + 1}", None, "expected a mapping (a Kubernetes object)")
    kind = doc.get("kind")
    name = (doc.get("metadata") or {}).get("name") if isinstance(doc.get("metadata"), dict) else None
    obj = manifest_yaml.object_label(kind, name, index + 1)
    if doc.get("apiVersion") != API_VERSION:
        raise ManifestError(
            file, obj, "apiVersion", f"expected '{API_VERSION}', got {doc.get('apiVersion')!r}"
        )
    model = _KINDS.get(str(kind))
    if model is None:
        raise ManifestError(file, obj, "kind", f"unknown kind {kind!r}; expected one of {', '.join(_KINDS)}")
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        path, message = explain(exc.errors()[0])
        raise ManifestError(file, obj, path or None, message) from None


def documents(file: str) -> list[Any]:
    """The YAML documents of one file ('-': standard input), read and parsed within manifest_yaml's limits."""
    import sys  # noqa: PLC0415

    try:
        if file == "-":
            data = manifest_yaml.read(sys.stdin.buffer)
        else:
            with Path(file).open("rb") as stream:
                data = manifest_yaml.read(stream)
        return manifest_yaml.load_all(manifest_yaml.decode(data))
    except OSError as exc:
        raise ManifestError(file, None, None, f"cannot read file ({exc.strerror or exc})") from None
    except manifest_yaml.InputError as exc:
        raise ManifestError(file, exc.obj, exc.field, exc.message) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else None
        problem = getattr(exc, "problem", None) or "malformed YAML"
        raise ManifestError(file, where, None, f"malformed YAML: {problem}") from None


def load(paths: list[str]) -> Manifests:
    """Read every document of every file; '-' reads standard input."""
    found = Manifests()
    for file in paths:
        docs = documents(file)
        for index, doc in enumerate(docs):
            parsed = _parse(file, index, doc)
            if parsed is not None:
                key = (parsed.kind, parsed.metadata.namespace, parsed.metadata.name)
                if key in found.origin:
                    raise ManifestError(
                        file,
                        f"{parsed.kind}/{parsed.metadata.name}",
                        "metadata.name",
                        f"defined twice in namespace '{key[1]}' (also in {found.origin[key]})",
                    )
                found.origin[key] = file
            if isinstance(parsed, CloudAccount):
                found.accounts.append(parsed)
            elif isinstance(parsed, ScanPolicy):
                found.policies.append(parsed)
    return found
