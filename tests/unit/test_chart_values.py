"""Both charts' values.schema.json and README values tables are generated from values.yaml and kept in
sync; Chart.yaml carries the metadata chart users expect and tracks the package version."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from tests.support.chart import AGENT_CHART, CHART, ROOT
from tests.support.tools import load_tool

CHARTS = [CHART, AGENT_CHART]


@pytest.fixture(scope="module")
def chart_docs() -> ModuleType:
    return load_tool("chart_docs")


def test_committed_schema_and_readme_are_what_values_yaml_generates(chart_docs: ModuleType) -> None:
    stale = chart_docs.stale()
    assert not stale, (
        f"{[str(p.relative_to(ROOT)) for p in stale]} differ from what values.yaml generates; "
        f"run `{chart_docs.REGENERATE}` and commit the result"
    )
    assert chart_docs.main(["--check"]) == 0


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_the_schema_is_strict_and_admits_exactly_the_keys_of_values_yaml(chart: Path) -> None:
    """Every key of values.yaml is a property with a matching type, every property has a default."""
    schema = json.loads((chart / "values.schema.json").read_text())
    values = yaml.safe_load((chart / "values.yaml").read_text())
    kinds = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}

    def check(node: dict[str, object], value: dict[str, object], path: str) -> None:
        assert node["additionalProperties"] is False, f"{path or 'the root'} is not strict"
        properties = node["properties"]
        assert isinstance(properties, dict)
        assert set(properties) - {"global"} == set(value), path
        for key, default in value.items():
            prop = properties[key]
            declared = prop["type"] if isinstance(prop["type"], list) else [prop["type"]]
            kind = "null" if default is None else kinds[type(default)]
            assert kind in declared or (kind == "integer" and "number" in declared), (
                f"{path}{key}",
                declared,
            )
            if "properties" in prop:
                check(prop, default, f"{path}{key}.")
            elif kind == "object":
                assert "additionalProperties" in prop, f"{path}{key}: say what the mapping admits"

    check(schema, values, "")


def write_chart(chart_docs: ModuleType, tmp_path: Path, values: str) -> Path:
    (tmp_path / "Chart.yaml").write_text("apiVersion: v2\nname: demo\nversion: 0.1.0\n")
    (tmp_path / "values.yaml").write_text(values)
    (tmp_path / "README.md").write_text(f"# demo\n\n{chart_docs.BEGIN}\n{chart_docs.END}\n")
    return tmp_path


def test_the_generator_reads_descriptions_annotations_and_defaults(
    chart_docs: ModuleType, tmp_path: Path
) -> None:
    chart = write_chart(
        chart_docs,
        tmp_path,
        "# A header comment, not a description.\n\n"
        "image:\n"
        "  # -- Image pull policy,\n"
        "  # on two lines.\n"
        "  # @schema {enum: [Always, IfNotPresent]}\n"
        "  pullPolicy: IfNotPresent\n"
        "# -- Extra labels.\n"
        "# @schema {additionalProperties: {type: string}}\n"
        "labels: {}\n"
        "# -- Rules.\n"
        "# @default -- see values.yaml\n"
        "rules:\n"
        "  - alert: X\n"
        "    # -- not a key of values: inside a list item\n"
        "    expr: up == 0\n"
        "# -- Priority.\n"
        '# @schema {type: [integer, "null"]}\n'
        "priority: null\n",
    )
    files = chart_docs.generated(chart)
    schema = json.loads(files[chart / "values.schema.json"])
    assert schema["properties"]["image"] == {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "pullPolicy": {
                "type": "string",
                "description": "Image pull policy, on two lines.",
                "enum": ["Always", "IfNotPresent"],
            }
        },
    }
    assert schema["properties"]["labels"]["additionalProperties"] == {"type": "string"}
    assert schema["properties"]["rules"] == {
        "type": "array",
        "items": {"type": "object"},
        "description": "Rules.",
    }
    assert schema["properties"]["priority"]["type"] == ["integer", "null"]
    readme = files[chart / "README.md"]
    assert '| `image.pullPolicy` | string | `"IfNotPresent"` | Image pull policy, on two lines. |' in readme
    assert "| `rules` | array | `see values.yaml` | Rules. |" in readme
    assert "rules.expr" not in readme


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ("image:\n  tag: v1\n", "image.tag has no `# --` description"),
        ("# -- Labels.\nlabels: {}\n", "labels is an empty mapping: say what it admits"),
        ("# -- Priority.\npriority: null\n", "priority is null: give its type"),
        ("# -- Port.\n# @schema [1, 2]\nport: 1\n", "port: `# @schema` needs a mapping"),
    ],
    ids=["undocumented", "open-mapping", "untyped-null", "bad-annotation"],
)
def test_the_generator_refuses_what_it_cannot_describe(
    chart_docs: ModuleType, tmp_path: Path, values: str, message: str
) -> None:
    chart = write_chart(chart_docs, tmp_path, values)
    with pytest.raises(chart_docs.ValuesError, match=message.replace("[", r"\[")):
        chart_docs.generated(chart)


@pytest.mark.parametrize("chart", CHARTS, ids=lambda c: c.name)
def test_chart_metadata(chart: Path) -> None:
    meta = yaml.safe_load((chart / "Chart.yaml").read_text())
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert meta["appVersion"] == version, "appVersion must equal the package version in pyproject.toml"
    assert meta["apiVersion"] == "v2"
    assert meta["kubeVersion"] == ">=1.29.0-0"  # CEL validation rules in the CRDs are GA from 1.29
    assert meta["home"] == "https://github.com/cloudios/cloudios"
    assert meta["sources"][0] == meta["home"]
    assert meta["maintainers"]
    for maintainer in meta["maintainers"]:
        assert maintainer["name"]
        assert maintainer.get("url") or maintainer.get("email")
    # The icon is the repository's own SVG, served from the default branch.
    prefix = "https://raw.githubusercontent.com/cloudios/cloudios/main/"
    assert meta["icon"].startswith(prefix)
    icon = ROOT / meta["icon"].removeprefix(prefix)
    assert icon.suffix == ".svg"
    assert icon.read_text().lstrip().startswith("<svg")
