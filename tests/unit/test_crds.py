"""CRDs generated from cloudios.api: committed copies in sync, structural, documented, kubectl-friendly."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, Field

from cloudios.api import crd as crd_module
from cloudios.api.crd import CRD_DIRS, KINDS, REGENERATE, crds, generated_files, main, stale_files
from cloudios.api.crd_schema import DECIMAL_PATTERN, SchemaError, model_schema, walk

ROOT = Path(__file__).resolve().parents[2]
BY_KIND = {c["spec"]["names"]["kind"]: c for c in crds()}


def schema_of(kind: str) -> dict[str, Any]:
    return BY_KIND[kind]["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def test_committed_files_match_the_models() -> None:
    stale = stale_files(ROOT)
    assert not stale, (
        f"generated files are out of date: {sorted(stale)}; regenerate them with `{REGENERATE}` "
        "(run from the repository root with the virtualenv active) and commit the result"
    )


def test_committed_crds_parse_to_the_generated_objects() -> None:
    for directory in CRD_DIRS:
        committed = [yaml.safe_load(p.read_text()) for p in sorted((ROOT / directory).glob("*.yaml"))]
        by_name = {c["metadata"]["name"]: c for c in committed}
        assert by_name == {c["metadata"]["name"]: c for c in crds()}, directory


def test_check_reports_a_stale_file_and_write_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--write", str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0
    target = tmp_path / "crds" / "cloudios.io_scanpolicies.yaml"
    target.write_text(target.read_text().replace("maximum: 90", "maximum: 99"))
    (tmp_path / "docs" / "api.md").unlink()
    capsys.readouterr()
    assert main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "crds/cloudios.io_scanpolicies.yaml: 2 line(s) differ" in err
    assert "-                maximum: 99" in err
    assert "+                maximum: 90" in err
    assert "docs/api.md: missing" in err
    assert REGENERATE in err
    assert main(["--write", str(tmp_path)]) == 0
    assert main(["--check", str(tmp_path)]) == 0


def test_every_node_has_a_type_and_every_field_a_description() -> None:
    for kind, definition in BY_KIND.items():
        for path, node in walk(schema_of(kind)):
            assert "type" in node, f"{kind} {path}: no type"
            assert not {"anyOf", "oneOf", "allOf", "not", "$ref", "nullable"} & node.keys(), f"{kind} {path}"
            if node.get("additionalProperties") is False:
                pytest.fail(f"{kind} {path}: additionalProperties false is not structural")
            for name, prop in node.get("properties", {}).items():
                if path == "" and name == "metadata":
                    assert prop == {"type": "object"}
                    continue
                assert prop.get("description"), f"{kind} {path}.{name}: no description"
        assert definition["spec"]["versions"][0]["subresources"] == {"status": {}}


def test_generation_refuses_an_undocumented_field() -> None:
    class Undocumented(BaseModel):
        documented: int = Field(description="fine")
        bare: int

    with pytest.raises(SchemaError, match=r"X\.bare: every field needs a description"):
        model_schema(Undocumented, "X")


def test_generation_refuses_a_union() -> None:
    class Union(BaseModel):
        either: int | str = Field(description="int or str")

    with pytest.raises(SchemaError, match=r"X\.either: anyOf"):
        model_schema(Union, "X")


def test_money_is_a_decimal_string_and_free_form_maps_are_preserved() -> None:
    spec = schema_of("Recommendation")["properties"]["spec"]["properties"]
    assert spec["monthlySavings"]["properties"]["amount"] == {
        "description": "Amount as a decimal string, e.g. '12.34'.",
        "type": "string",
        "pattern": DECIMAL_PATTERN,
    }
    assert spec["monthlySavings"]["properties"]["currency"]["pattern"] == "^[A-Z]{3}$"
    for name in ("evidence", "current", "proposed"):
        assert spec[name]["type"] == "object"
        assert spec[name]["x-kubernetes-preserve-unknown-fields"] is True
    minimum = schema_of("ScanPolicy")["properties"]["spec"]["properties"]["minMonthlySavings"]
    assert minimum["type"] == "string"
    assert minimum["pattern"] == r"^[0-9]+(\.[0-9]+)?$"
    assert "minimum" not in minimum


def test_enums_bounds_and_rules() -> None:
    rec = schema_of("Recommendation")["properties"]
    assert rec["spec"]["properties"]["decision"]["properties"]["type"]["enum"] == ["Approved", "Dismissed"]
    assert rec["spec"]["properties"]["decision"]["properties"]["reason"]["maxLength"] == 1024
    assert rec["spec"]["properties"]["category"]["enum"] == [
        "idle", "rightsize", "orphaned", "modernize", "schedule", "commitment"
    ]  # fmt: skip
    assert rec["status"]["properties"]["state"]["enum"] == [
        "Proposed", "Approved", "Applied", "Verified", "Dismissed", "Expired", "Resolved"
    ]  # fmt: skip
    lookback = schema_of("ScanPolicy")["properties"]["spec"]["properties"]["lookbackDays"]
    assert (lookback["minimum"], lookback["maximum"]) == (1, 90)
    account = schema_of("CloudAccount")["properties"]["spec"]
    rules = {r["rule"] for r in account["x-kubernetes-validations"]}
    assert "has(self.aws) == (self.provider == 'aws')" in rules
    assert account["properties"]["provider"]["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    aws = account["properties"]["aws"]["properties"]
    assert aws["accountId"]["x-kubernetes-validations"][0]["rule"] == "self == oldSelf"
    assert aws["roleArn"]["pattern"].startswith("^arn:aws")
    for kind in BY_KIND:
        conditions = schema_of(kind)["properties"]["status"]["properties"]["conditions"]
        assert conditions["x-kubernetes-list-map-keys"] == ["type"], kind


COLUMNS = {
    "CloudAccount": (["Provider", "Account", "Ready", "Reason", "Savings", "Age"], ["Regions", "Last Check"]),
    "ScanPolicy": (["Ready", "Reason", "Last Run", "Next Run", "Savings", "Age"], []),
    "Recommendation": (
        ["State", "Module", "Resource", "Savings", "Realized", "Regressed", "Confidence", "Age"],
        ["Account", "Region", "Decision", "Verifier"],
    ),
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_printer_columns_names_and_category(kind: str) -> None:
    version = BY_KIND[kind]["spec"]["versions"][0]
    columns = version["additionalPrinterColumns"]
    normal, wide = COLUMNS[kind]
    assert [c["name"] for c in columns if not c.get("priority")] == normal
    assert [c["name"] for c in columns if c.get("priority") == 1] == wide
    for column in columns:
        assert column["jsonPath"].startswith(".")
        assert column["type"] in {"string", "integer", "number", "boolean", "date"}
    names = BY_KIND[kind]["spec"]["names"]
    assert names["categories"] == ["cloudios"]
    assert len(names["shortNames"]) == 2
    assert BY_KIND[kind]["spec"]["scope"] == "Namespaced"
    assert version["served"]
    assert version["storage"]
    assert version["name"] == "v1alpha1"


def test_ready_columns_read_the_ready_condition() -> None:
    columns = {
        c["name"]: c["jsonPath"]
        for c in BY_KIND["CloudAccount"]["spec"]["versions"][0]["additionalPrinterColumns"]
    }
    assert columns["Ready"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Reason"] == '.status.conditions[?(@.type=="Ready")].reason'
    assert columns["Savings"] == ".status.potentialMonthlySavings.amount"


def test_api_reference_lists_every_field() -> None:
    doc = generated_files()[crd_module.API_DOC]
    for kind in KINDS:
        assert f"## {kind.kind}" in doc
        for part in ("spec", "status"):
            schema = schema_of(kind.kind)["properties"][part]
            for path, _ in walk(schema):
                if path and not path.endswith(("[]", "*")):
                    assert f"| `{path}` |" in doc, f"{kind.kind}.{part}.{path} missing from docs/api.md"
