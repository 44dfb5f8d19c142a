"""tools/render_dashboard.py draws every panel of the dashboard from Prometheus answers; matplotlib stays
a development dependency, never the operator's."""

from __future__ import annotations

import tomllib
from pathlib import Path

from tests.support import tools

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n"


def _answers(tool: object) -> dict[str, object]:
    model = tools.load_tool("gen_dashboard").dashboard()
    answers: dict[str, list[list[dict[str, object]]]] = {}
    for panel in model["panels"]:
        for target in panel.get("targets", []):
            if target["instant"]:
                result = [
                    {"metric": {"namespace": "team-a", "policy": "p", "account": "a"}, "value": [100, "2"]}
                ]
            else:
                values = [[100 + 4 * i, str(i)] for i in range(10)]
                result = [{"metric": {"namespace": "team-a", "category": "idle", "state": "Proposed"},
                           "values": values}]  # fmt: skip
            answers.setdefault(str(panel["id"]), []).append(result)
    return {"start": 100, "end": 140, "answers": answers}


def test_it_draws_every_panel(tmp_path: Path) -> None:
    tool = tools.load_tool("render_dashboard")
    out = tmp_path / "dashboard.png"
    tool.draw(_answers(tool), out)
    assert out.read_bytes().startswith(PNG)
    empty = tmp_path / "empty.png"
    tool.draw({"start": 0, "end": 1, "answers": {}}, empty)  # no data: "No data", not a crash
    assert empty.read_bytes().startswith(PNG)


def test_legends_follow_grafana_templates() -> None:
    tool = tools.load_tool("render_dashboard")
    assert tool._legend("{{namespace}}/{{account}}", {"namespace": "a", "account": "b"}) == "a/b"
    assert tool._legend("__auto", {"x": "1"}) == "x=1"


def test_matplotlib_is_a_development_dependency_only() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert not any(d.startswith("matplotlib") for d in project["dependencies"])
    assert any(d.startswith("matplotlib") for d in project["optional-dependencies"]["dev"])
    assert (ROOT / "docs" / "images" / "dashboard.png").read_bytes().startswith(PNG)
