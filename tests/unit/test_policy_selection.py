"""Module selection reports every bad module name and setting of a ScanPolicy, each with its path."""

from __future__ import annotations

import pytest

from cloudios.api import ScanPolicySpec
from cloudios.domain import Provider
from cloudios.pipeline.selection import PolicyError, select


def test_every_settings_error_is_reported_with_its_path() -> None:
    spec = ScanPolicySpec.model_validate(
        {
            "modules": [
                {"name": "aws.ec2.idle", "settings": {"cpuAverageThreshold": 500, "maxSpikeDays": -1}},
                {"name": "aws.ec2.nonexistent"},
                {"name": "aws.ebs.unattached", "settings": {"noSuchSetting": 1}},
            ]
        }
    )
    with pytest.raises(PolicyError) as caught:
        select(spec, Provider.AWS)
    error = caught.value
    fields = [field for field, _ in error.problems]
    assert fields == [
        "spec.modules[0].settings.cpuAverageThreshold",
        "spec.modules[0].settings.maxSpikeDays",
        "spec.modules[1].name",
        "spec.modules[2].settings.noSuchSetting",
    ]
    assert error.field == fields[0]
    # The message the operator's condition and the CLI print carries all of them.
    text = f"{error.field}: {error.message}"
    for field in fields:
        assert field in text
    assert "unknown module 'aws.ec2.nonexistent'" in text
    assert str(error) == text


def test_a_valid_policy_selects_its_modules() -> None:
    spec = ScanPolicySpec.model_validate({"modules": [{"name": "aws.ec2.idle", "settings": {"minDays": 3}}]})
    assert [s.module.name for s in select(spec, Provider.AWS)] == ["aws.ec2.idle"]
