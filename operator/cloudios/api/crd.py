"""CRDs of cloudios.io generated from the API models; `--write` / `--check` keep the copies in sync."""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cloudios.api import crd_render
from cloudios.api.cloudaccount import CloudAccount, CloudAccountSpec, CloudAccountStatus
from cloudios.api.common import GROUP, VERSION
from cloudios.api.crd_schema import model_schema, node_at
from cloudios.api.recommendation import Recommendation, RecommendationSpec, RecommendationStatus
from cloudios.api.scanpolicy import ScanPolicy, ScanPolicySpec, ScanPolicyStatus
from cloudios.domain.enums import Provider

CATEGORY = "cloudios"
REGENERATE = "python -m cloudios.api.crd --write ."
# Where `--write` puts each generated file, relative to the repository root.
CRD_DIRS = ("crds", "helm/cloudios/files/crds")
API_DOC = "docs/api.md"
_DIFF_LINES = 12

_READY = '.status.conditions[?(@.type=="Ready")]'
_CONDITIONS_BY_TYPE = {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]}
# The provider's identifier of the account, whichever block is set (JSONPath union of names).
_ACCOUNT_ID_PATH = (
    ".spec['aws','gcp','azure','kubernetes']['accountId','projectId','subscriptionId','clusterName']"
)
_ACCOUNT_KEYS = {
    "aws": "accountId",
    "gcp": "projectId",
    "azure": "subscriptionId",
    "kubernetes": "clusterName",
}


@dataclass(frozen=True)
class Column:
    """One additionalPrinterColumn; priority 1 shows only with `-o wide`."""

    name: str
    json_path: str
    description: str
    type: str = "string"
    priority: int = 0

    def render(self) -> dict[str, Any]:
        column: dict[str, Any] = {
            "name": self.name,
            "type": self.type,
            "jsonPath": self.json_path,
            "description": self.description,
        }
        if self.priority:
            column["priority"] = self.priority
        return column


def _rule(rule: str, message: str) -> dict[str, str]:
    return {"rule": rule, "message": message}


def _immutable(what: str, instead: str) -> dict[str, str]:
    # A transition rule: evaluated only on UPDATE, when the field exists before and after.
    return _rule("self == oldSelf", f"{what} is immutable; {instead}")


@dataclass(frozen=True)
class Kind:
    """Everything the CRD of one kind needs beyond the models themselves."""

    model: type[BaseModel]
    spec: type[BaseModel]
    status: type[BaseModel]
    plural: str
    short_names: tuple[str, ...]
    description: str
    columns: tuple[Column, ...]
    # Schema paths (as crd_schema.walk names them) → CEL rules and extra OpenAPI keywords.
    rules: Mapping[str, Sequence[Mapping[str, str]]] = field(default_factory=dict)
    extra: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return str(self.model.model_fields["kind"].default)

    @property
    def name(self) -> str:
        return f"{self.plural}.{GROUP}"


def _provider_block_rules() -> list[dict[str, str]]:
    providers = [p.value for p in Provider]
    rules = [
        _rule(
            f"has(self.{p}) == (self.provider == '{p}')",
            f"spec.{p} must be set when provider is {p}, and only then",
        )
        for p in providers
    ]
    count = " + ".join(f"(has(self.{p}) ? 1 : 0)" for p in providers)
    blocks = ", ".join(providers[:-1]) + f" or {providers[-1]}"
    rules.append(_rule(f"{count} == 1", f"exactly one provider block ({blocks}) must be set"))
    return rules


CLOUD_ACCOUNT = Kind(
    model=CloudAccount,
    spec=CloudAccountSpec,
    status=CloudAccountStatus,
    plural="cloudaccounts",
    short_names=("ca", "cloudacct"),
    description="A cloud account (AWS account, GCP project, Azure subscription) that Cloudios reads "
    "with read-only access, or a cluster whose workloads the Cloudios agent reports.",
    columns=(
        Column("Provider", ".spec.provider", "aws, gcp, azure or kubernetes."),
        Column("Account", _ACCOUNT_ID_PATH, "Account ID, project ID, subscription ID or cluster name."),
        Column("Ready", f"{_READY}.status", "Whether the account is usable (spec, suspend, credentials)."),
        Column("Reason", f"{_READY}.reason", "Why the account is (not) ready."),
        Column("Savings", ".status.potentialMonthlySavings.amount", "Open monthly savings (USD)."),
        Column("Age", ".metadata.creationTimestamp", "Time since creation.", type="date"),
        Column("Regions", ".spec.aws.regions", "AWS regions scanned.", priority=1),
        Column("Last Check", ".status.lastHealthCheck.time", "Last health check.", type="date", priority=1),
    ),
    rules={
        "spec": _provider_block_rules(),
        "spec.provider": [_immutable("provider", "create a new CloudAccount for another provider")],
        **{
            f"spec.{p}.{key}": [_immutable(f"{p}.{key}", "create a new CloudAccount for another account")]
            for p, key in _ACCOUNT_KEYS.items()
        },
        # Mirrors AzureAccount's validator: the usual copy-paste mistakes, refused at admission.
        "spec.azure": [
            _rule(
                "self.clientId.lowerAscii() != self.tenantId.lowerAscii()",
                "azure.clientId equals tenantId: set the identity's application (client) ID",
            ),
            _rule(
                "self.subscriptionId.lowerAscii() != self.tenantId.lowerAscii()",
                "azure.subscriptionId equals tenantId: set the subscription's own ID",
            ),
        ],
    },
    extra={
        # Listed once each (like the pydantic validator); a set keeps kubectl apply merges sane.
        "spec.aws.regions": {"x-kubernetes-list-type": "set"},
        "spec.aws.regions[]": {"pattern": r"^[a-z]{2}(-[a-z]+)+-[0-9]$", "maxLength": 32},
        "status.conditions": _CONDITIONS_BY_TYPE,
    },
)

SCAN_POLICY = Kind(
    model=ScanPolicy,
    spec=ScanPolicySpec,
    status=ScanPolicyStatus,
    plural="scanpolicies",
    short_names=("sp", "scanpol"),
    description="Which optimization modules run against which CloudAccounts of the namespace, "
    "on what schedule and over how many days of metrics.",
    columns=(
        Column("Ready", f"{_READY}.status", "Whether the policy is valid and its last run succeeded."),
        Column("Reason", f"{_READY}.reason", "Why the policy is (not) ready."),
        Column("Last Run", ".status.lastRunTime", "When the last run started.", type="date"),
        # A string, not a date: kubectl prints future dates as <invalid>.
        Column("Next Run", ".status.nextRunTime", "When the next run is due (UTC)."),
        Column("Savings", ".status.potentialMonthlySavings.amount", "Monthly savings found (USD)."),
        Column("Age", ".metadata.creationTimestamp", "Time since creation.", type="date"),
    ),
    rules={
        "spec.modules": [
            _rule(
                "self.all(m, self.exists_one(n, n.name == m.name))",
                "module names must be unique: list each module once",
            )
        ],
    },
    extra={
        # Bounds that keep the uniqueness rule within the API server's CEL cost budget.
        "spec.modules": {"maxItems": 100},
        "spec.modules[].name": {"maxLength": 128},
        "status.conditions": _CONDITIONS_BY_TYPE,
        "status.accounts": {"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    },
)

RECOMMENDATION = Kind(
    model=Recommendation,
    spec=RecommendationSpec,
    status=RecommendationStatus,
    plural="recommendations",
    short_names=("rec", "recs"),
    description="One finding the operator publishes: a resource, what to change, the evidence and the "
    "monthly saving. Users set only spec.decision (Approved or Dismissed).",
    columns=(
        Column("State", ".status.state", "Proposed, Approved, Applied, Verified, Dismissed, ..."),
        Column("Module", ".spec.module", "Module that produced the finding."),
        Column("Resource", ".spec.resourceId", "Provider ID of the resource."),
        Column("Savings", ".spec.monthlySavings.amount", "Estimated monthly saving."),
        Column("Realized", ".status.realizedMonthlySavings.amount", "Verified monthly saving (list prices)."),
        Column(
            "Regressed", '.status.conditions[?(@.type=="Regressed")].reason', "What hurt after the change."
        ),
        Column("Confidence", ".spec.confidence", "high, medium or low."),
        Column("Age", ".metadata.creationTimestamp", "Time since creation.", type="date"),
        Column("Account", ".spec.accountRef.name", "CloudAccount of the resource.", priority=1),
        Column("Region", ".spec.region", "Region of the resource.", priority=1),
        Column("Decision", ".spec.decision.type", "Approved or Dismissed, once decided.", priority=1),
        Column(
            "Verifier", ".status.verifier.verdict", "The AI verifier's agree, disagree or unsure.", priority=1
        ),
    ),
    extra={"status.conditions": _CONDITIONS_BY_TYPE},
)

KINDS = (CLOUD_ACCOUNT, SCAN_POLICY, RECOMMENDATION)

_META_FIELDS = {
    "apiVersion": {
        "description": "Versioned schema of this representation of an object; cloudios.io/v1alpha1.",
        "type": "string",
    },
    "kind": {"description": "REST resource this object represents, in CamelCase.", "type": "string"},
    "metadata": {"type": "object"},
}


def open_api_schema(kind: Kind) -> dict[str, Any]:
    """The openAPIV3Schema of one kind: models, then extra keywords, then CEL rules."""
    spec = model_schema(kind.spec, f"{kind.kind}.spec")
    status = model_schema(kind.status, f"{kind.kind}.status")
    schema: dict[str, Any] = {
        "description": kind.description,
        "type": "object",
        "properties": {**_META_FIELDS, "spec": spec, "status": status},
    }
    if kind.model.model_fields["spec"].is_required():
        schema["required"] = ["spec"]
    for path, keywords in kind.extra.items():
        node_at(schema, path).update(keywords)
    for path, rules in kind.rules.items():
        node_at(schema, path).setdefault("x-kubernetes-validations", []).extend(dict(r) for r in rules)
    return schema


def crd(kind: Kind) -> dict[str, Any]:
    """The apiextensions.k8s.io/v1 CustomResourceDefinition of one kind."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": kind.name},
        "spec": {
            "group": GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": f"{kind.kind}List",
                "plural": kind.plural,
                "singular": kind.kind.lower(),
                "shortNames": list(kind.short_names),
                "categories": [CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.render() for column in kind.columns],
                    "schema": {"openAPIV3Schema": open_api_schema(kind)},
                }
            ],
        },
    }


def crds() -> list[dict[str, Any]]:
    """The CRDs of all Cloudios kinds, in a stable order."""
    return [crd(kind) for kind in KINDS]


def generated_files() -> dict[str, str]:
    """Every generated file (repository-relative path → text)."""
    files: dict[str, str] = {}
    definitions = crds()
    for kind, definition in zip(KINDS, definitions, strict=True):
        text = crd_render.to_yaml(
            definition, header=f"Generated from cloudios.api by `{REGENERATE}`; do not edit."
        )
        for directory in CRD_DIRS:
            files[f"{directory}/{GROUP}_{kind.plural}.yaml"] = text
    files[API_DOC] = crd_render.api_markdown(definitions, regenerate=REGENERATE)
    return files


def stale_files(root: Path) -> dict[str, str]:
    """Generated files under `root` that are missing or differ from the models → a diff summary."""
    stale: dict[str, str] = {}
    for relative, text in generated_files().items():
        path = root / relative
        if not path.is_file():
            stale[relative] = "missing"
            continue
        committed = path.read_text(encoding="utf-8")
        if committed != text:
            diff = list(
                difflib.unified_diff(
                    committed.splitlines(), text.splitlines(), "committed", "generated", n=0, lineterm=""
                )
            )
            changed = [line for line in diff[2:] if line[:1] in "+-"]
            shown = "\n".join(f"    {line}" for line in changed[:_DIFF_LINES])
            more = f"\n    ... and {len(changed) - _DIFF_LINES} more" if len(changed) > _DIFF_LINES else ""
            stale[relative] = f"{len(changed)} line(s) differ:\n{shown}{more}"
    return stale


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudios.api.crd", description=__doc__)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--write", metavar="DIR", type=Path, help="write the generated files under DIR")
    action.add_argument("--check", metavar="DIR", type=Path, help="exit 1 if files under DIR are out of date")
    args = parser.parse_args(argv)
    if args.write is not None:
        for relative, text in generated_files().items():
            path = args.write / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            sys.stdout.write(f"wrote {path}\n")
        return 0
    stale = stale_files(args.check)
    for relative, summary in stale.items():
        sys.stderr.write(f"out of date: {relative}: {summary}\n")
    if stale:
        sys.stderr.write(f"{len(stale)} generated file(s) differ from the API models; run `{REGENERATE}`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
