"""`cloudios validate`: the CRDs' own CEL rules and the webhook's checks, offline, with their messages."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from cloudios.api import admission
from cloudios.cli import cel_rules, validate

ROOT = Path(__file__).resolve().parents[2]
CLOUDIOS = str(Path(sys.executable).parent / "cloudios")
EXAMPLES = sorted(
    p for name in ("cloudaccount.yaml", "scanpolicy.yaml") for p in (ROOT / "examples").glob(f"*/{name}")
)
CRD_FILES = {
    "CloudAccount": ROOT / "crds/cloudios.io_cloudaccounts.yaml",
    "ScanPolicy": ROOT / "crds/cloudios.io_scanpolicies.yaml",
    "Recommendation": ROOT / "crds/cloudios.io_recommendations.yaml",
}
HEADER = "apiVersion: cloudios.io/v1alpha1\n"
AZURE = (
    HEADER + "kind: CloudAccount\nmetadata: {name: az, namespace: team-a}\nspec:\n  provider: azure\n"
    "  azure: {subscriptionId: %s, tenantId: %s, clientId: %s}\n"
)
SUB, TENANT, CLIENT = (
    "5f0c2b7e-1a2b-4c3d-8e9f-0a1b2c3d4e5f",
    "72f988bf-0000-4000-8000-000000000000",
    "3c1d9a2e-4b5f-4a6b-9c7d-8e9f0a1b2c3d",
)


def cloudios(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLOUDIOS, *args], input=stdin, capture_output=True, text=True, timeout=120, check=False
    )


def crd_schema(kind: str) -> dict[str, Any]:
    doc = yaml.safe_load(CRD_FILES[kind].read_text())
    schema: dict[str, Any] = doc["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def rules(schema: Any) -> list[str]:
    found: list[str] = []
    if isinstance(schema, dict):
        found += [r["rule"] for r in schema.get("x-kubernetes-validations", [])]
        for value in schema.values():
            found += rules(value)
    return found


@pytest.mark.parametrize("kind", sorted(CRD_FILES))
def test_validate_uses_the_committed_crds_schema_and_rules(kind: str) -> None:
    assert validate.schemas()[kind] == crd_schema(kind)


def test_every_create_rule_of_the_crds_evaluates_offline_on_the_examples() -> None:
    """No rule is skipped on the examples: each one that is not a transition rule ran to a bool."""
    evaluated: set[str] = set()
    for path in EXAMPLES:
        for doc in yaml.safe_load_all(path.read_text()):
            schema = crd_schema(doc["kind"])
            assert list(cel_rules.check(schema, doc)) == [], path
            evaluated |= {
                r for r in rules(schema) if cel_rules.evaluate(r, _node_for(schema, doc, r)) is True
            }
    create_rules = {r for kind in CRD_FILES for r in rules(crd_schema(kind)) if "oldSelf" not in r}
    assert create_rules, "the CRDs have CEL rules"
    assert create_rules <= evaluated, create_rules - evaluated


def _node_for(schema: dict[str, Any], doc: Any, rule: str) -> Any:
    """The value of ``doc`` at the schema node that holds ``rule`` (or None when absent)."""
    if rule in [r["rule"] for r in schema.get("x-kubernetes-validations", [])]:
        return doc
    for key, sub in (schema.get("properties") or {}).items():
        if isinstance(doc, dict) and key in doc:
            found = _node_for(sub, doc[key], rule)
            if found is not None:
                return found
    return None


@pytest.mark.parametrize(
    ("manifest", "field", "message"),
    [
        (AZURE % (SUB, TENANT, TENANT), "spec.azure", "azure.clientId equals tenantId: set the identity's"),
        (AZURE % (TENANT, TENANT, CLIENT), "spec.azure", "azure.subscriptionId equals tenantId: set the"),
        (
            HEADER + "kind: ScanPolicy\nmetadata: {name: p, namespace: team-a}\n"
            "spec: {modules: [{name: aws.ec2.idle}, {name: aws.ec2.idle}]}\n",
            "spec.modules",
            "module names must be unique: list each module once",
        ),
        (
            HEADER + "kind: CloudAccount\nmetadata: {name: two, namespace: team-a}\nspec:\n  provider: aws\n"
            "  aws: {accountId: '123456789012', roleArn: 'arn:aws:iam::123456789012:role/r', "
            "externalId: x, regions: [us-east-1]}\n  kubernetes: {clusterName: c}\n",
            "spec",
            "spec.kubernetes must be set when provider is kubernetes, and only then",
        ),
    ],
)
def test_a_failed_cel_rule_gives_the_crds_message_and_exit_two(
    tmp_path: Path, manifest: str, field: str, message: str
) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(manifest)
    result = cloudios("validate", "-f", str(path))
    assert result.returncode == 2
    doc = yaml.safe_load(manifest)
    obj = f"{doc['kind']}/team-a/{doc['metadata']['name']}"
    assert any(
        line.startswith(f"error: {path}: {obj}: {field}: {message}") for line in result.stderr.splitlines()
    ), result.stderr
    assert "Traceback" not in result.stderr


def test_the_webhooks_schedule_url_and_verifier_checks_with_their_own_words(tmp_path: Path) -> None:
    policy = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "ScanPolicy",
        "metadata": {"name": "p", "namespace": "team-a"},
        "spec": {
            "schedule": "0 0 30 2 *",
            "notifications": [{"url": "https://169.254.169.254/hook"}],
            "verifier": {
                "provider": "openai",
                "endpoint": "https://127.0.0.1/v1/chat/completions",
                "model": "gpt-4.1-mini",
                "secretRef": {"name": "llm"},
            },
        },
    }
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(policy))
    result = cloudios("validate", "-f", str(path), "-q")
    assert (result.returncode, result.stdout) == (2, "")
    schedule = admission.schedule_problem(None, policy, validate.dt.datetime.now(validate.dt.UTC))
    [url] = admission.notification_problems(None, policy, allow_private=False)
    assert schedule is not None
    lines = result.stderr.splitlines()
    assert f"error: {path}: ScanPolicy/team-a/p: {schedule}" in lines
    assert f"error: {path}: ScanPolicy/team-a/p: {url.replace(' is refused: ', ': ', 1)}" in lines
    verifier = admission.verifier_problem(None, policy, allow_private=False)
    assert verifier is not None
    assert f"error: {path}: ScanPolicy/team-a/p: {verifier.replace(' is refused: ', ': ', 1)}" in lines


def test_a_rule_that_cannot_be_evaluated_is_said_so_not_passed() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": "self.name.fooBar() == 1", "message": "m"}],
            }
        },
    }
    doc = {"spec": {"name": "x"}}
    [problem] = validate.rule_problems("f.yaml", "ScanPolicy/team-a/p", schema, doc, valid=True)
    assert problem.severity == "warning"
    assert problem.field == "spec"
    assert "CEL rule `self.name.fooBar() == 1` could not be evaluated offline" in problem.message
    assert "fooBar" in problem.message
    assert "the API server checks it when you apply" in problem.message


def test_examples_are_valid_from_files_a_directory_and_stdin(tmp_path: Path) -> None:
    result = cloudios("validate", *[a for p in EXAMPLES for a in ("-f", str(p))])
    assert (result.returncode, result.stderr) == (0, ""), result.stderr
    assert result.stdout.endswith(": valid\n")
    for name in ("cloudaccount.yaml", "scanpolicy.yaml"):
        (tmp_path / "nested").mkdir(exist_ok=True)
        (tmp_path / "nested" / name).write_text((ROOT / "examples/azure" / name).read_text())
    # Another group's objects are not checked (a kustomize build has them); other files are not read.
    (tmp_path / "deploy.yml").write_text("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
    (tmp_path / "notes.txt").write_text("kind: [not yaml")
    directory = cloudios("validate", "-f", str(tmp_path))
    assert directory.returncode == 0, directory.stderr
    assert directory.stdout == "3 object(s) checked: valid\n"  # two CloudAccounts and a ScanPolicy
    stdin = cloudios("validate", "-f", "-", "-q", stdin=(ROOT / "examples/aws/cloudaccount.yaml").read_text())
    assert (stdin.returncode, stdin.stdout, stdin.stderr) == (0, "", "")


def test_every_problem_in_json_and_yaml_and_bad_input_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(AZURE % (SUB, TENANT, TENANT) + "---\n" + HEADER + "kind: Nope\nmetadata: {name: n}\n")
    as_json = json.loads(cloudios("validate", "-f", str(path), "-o", "json").stdout)
    as_yaml = yaml.safe_load(cloudios("validate", "-f", str(path), "-o", "yaml").stdout)
    assert as_json == as_yaml
    assert as_json["valid"] is False
    assert as_json["objects"] == 2
    assert {"file": str(path), "object": "Nope/n", "field": "kind", "severity": "error"}.items() <= (
        as_json["problems"][-1].items()
    )
    for bad in ("no-such-file.yaml", str(ROOT / "README.md")):
        result = cloudios("validate", "-f", bad)
        assert result.returncode == 2
        assert result.stderr.startswith(f"error: {bad}: ")
        assert "Traceback" not in result.stderr
    assert cloudios("validate").returncode == 2  # -f is required
