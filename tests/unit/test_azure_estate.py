"""Azure estate files: the documented example loads; mistakes name the file and the field; series."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from cloudios.emulators.azure import estate, sample, series

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "azure" / "estate.yaml"


def test_the_documented_example_loads_and_round_trips() -> None:
    loaded = estate.load(EXAMPLE)
    assert loaded.provider == "azure"
    assert {r.truth for r in loaded.resources} == {"idle", "rightsize", "orphaned", "none"}
    assert estate.parse(yaml.safe_load(estate.dump(loaded))) == loaded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"provider": "aws"}, r"estate.yaml: provider: Input should be 'azure'"),
        ({"lookbackDays": 200}, r"lookbackDays: Input should be less than or equal to 93"),
        (
            {"resources": [{"kind": "azure.vm", "id": "/subscriptions/x/vm", "region": "eastus"}]},
            "must start with",
        ),
        (
            {"resources": [{"kind": "azure.sql", "id": "x", "region": "eastus"}]},
            r"resources.0.kind: 'azure.sql'",
        ),
    ],
)
def test_mistakes_name_the_file_and_field(tmp_path: Path, change: dict[str, object], message: str) -> None:
    raw = yaml.safe_load(EXAMPLE.read_text())
    raw.update(change)
    path = tmp_path / "estate.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(estate.EstateError, match=message):
        estate.load(path)


def test_series_follow_the_pattern_and_stop_yesterday() -> None:
    generated = sample.generate(seed=1, scale=0.3)
    end = date(2026, 7, 15)
    idle = next(r for r in generated.resources if r.truth == "idle" and r.metrics)
    days = series.daily(idle, "percentage_cpu", end, 30)
    assert len(days) == 30
    assert days[-1].day == date(2026, 7, 14)
    assert all(d.average < 3 and d.maximum <= 10.0 + 1e-9 and d.count == 1440 for d in days)
    assert days == series.daily(idle, "percentage_cpu", end, 30)  # reproducible
    batch = next(r for r in generated.resources if r.name and "batch" in r.name)
    assert all(d.maximum >= 89 for d in series.daily(batch, "percentage_cpu", end, 30))
