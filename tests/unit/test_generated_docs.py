"""docs/modules.md is generated from the registry; this fails when the committed copy drifts."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from cloudios.modules import registry
from tests.support import tools

ROOT = Path(__file__).resolve().parent.parent.parent
TOOL = ROOT / "tools" / "gen_docs.py"


def load_tool() -> ModuleType:
    return tools.load_tool("gen_docs")


def test_modules_md_is_up_to_date() -> None:
    committed = (ROOT / "docs" / "modules.md").read_text(encoding="utf-8")
    assert committed == load_tool().render(), "docs/modules.md is stale: run python tools/gen_docs.py"


def test_generated_docs_cover_every_module_setting_and_permission() -> None:
    text = load_tool().render()
    for module in registry.all_modules():
        assert f"## {module.name}" in text
        for key in module.spec.settings.model_json_schema(by_alias=True).get("properties", {}):
            assert f"`{key}`" in text
        for permission in module.spec.permissions:
            assert f"`{permission}`" in text


def test_provider_policies_are_up_to_date_and_least_privilege() -> None:
    tool = load_tool()
    policies = tool.policies()
    assert policies, "every supported provider has a generated policy"
    for path, text in policies.items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python tools/gen_docs.py"
    aws = json.loads((ROOT / "docs" / "providers" / "aws-policy.json").read_text(encoding="utf-8"))
    (statement,) = aws["Statement"]
    declared = {p for m in registry.for_provider("aws") for p in m.spec.permissions}
    assert set(statement["Action"]) == declared
    assert all(a.split(":")[1].startswith(("Describe", "Get", "List")) for a in statement["Action"])


def test_check_mode_exits_1_when_stale(tmp_path: Path) -> None:
    ok = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True, check=False)
    assert ok.returncode == 0, ok.stderr
    tool = load_tool()
    target = tmp_path / "modules.md"
    setattr(tool, "TARGET", target)  # noqa: B010 - the loaded tool is untyped
    setattr(tool, "POLICY_DIR", tmp_path)  # noqa: B010
    target.write_text("# stale\n")
    assert tool.main(["--check"]) == 1
    assert tool.main([]) == 0
    assert tool.main(["--check"]) == 0
