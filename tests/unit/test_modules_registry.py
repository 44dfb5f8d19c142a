"""The module registry and every module's declared contract: names, needs, permissions, settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from cloudios.domain import Provider, Snapshot
from cloudios.domain import azure as azure_kinds
from cloudios.domain import gcp as gcp_kinds
from cloudios.domain import kubernetes as k8s_kinds
from cloudios.domain import resource as kinds
from cloudios.modules import registry
from cloudios.modules.base import Module
from cloudios.modules.shared import CamelSettings

MODULES = registry.all_modules()
KNOWN_KINDS = {
    v
    for module in (kinds, gcp_kinds, azure_kinds, k8s_kinds)
    for k, v in vars(module).items()
    if k.isupper() and isinstance(v, str)
}
# Per provider: the permission syntax and the permission every metric-reading module needs.
ACTIONS = {
    Provider.AWS: (re.compile(r"^[a-z0-9-]+:[A-Z][A-Za-z0-9]+$"), "cloudwatch:GetMetricData"),
    Provider.GCP: (re.compile(r"^[a-z]+\.[a-zA-Z]+\.[a-z][A-Za-z]*$"), "monitoring.timeSeries.list"),
    Provider.AZURE: (
        re.compile(r"^Microsoft\.[A-Za-z]+(/[A-Za-z]+)+/read$"),
        "Microsoft.Insights/metrics/read",
    ),
    # The agent's ClusterRole: <apiGroup>/<resource>, 'core' for the core group.
    Provider.KUBERNETES: (re.compile(r"^[a-z0-9.]+/[a-z]+$"), "metrics.k8s.io/pods"),
}
PREFIXES = {Provider.KUBERNETES: "k8s"}


def test_registry_lists_each_module_once_by_provider() -> None:
    names = [m.name for m in MODULES]
    assert len(names) == len(set(names)) == 36
    assert len(registry.for_provider(Provider.AWS)) == 18
    assert len(registry.for_provider(Provider.GCP)) == 6
    assert len(registry.for_provider(Provider.AZURE)) == 7
    assert len(registry.for_provider(Provider.KUBERNETES)) == 5
    every = {m for p in Provider for m in registry.for_provider(p)}
    assert every == set(MODULES)
    assert registry.for_provider("aws") == registry.for_provider(Provider.AWS)


def test_get_returns_the_module_and_names_valid_ones_when_unknown() -> None:
    assert registry.get("aws.ec2.idle").name == "aws.ec2.idle"
    with pytest.raises(registry.UnknownModuleError) as caught:
        registry.get("aws.ec2.idel")
    assert isinstance(caught.value, KeyError)
    assert "aws.ec2.idel" in str(caught.value)
    assert "aws.ec2.idle" in str(caught.value)
    assert "aws.nat.idle" in str(caught.value)


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_module_declares_a_consistent_contract(module: Module[Any]) -> None:
    spec = module.spec
    prefix = PREFIXES.get(spec.provider, spec.provider.value)
    assert re.fullmatch(rf"{prefix}\.[a-z0-9]+\.[a-z0-9_]+", spec.name)
    action, metrics_read = ACTIONS[spec.provider]
    assert spec.summary.strip()
    assert spec.resource_kinds
    assert set(spec.resource_kinds) <= KNOWN_KINDS
    for need in spec.metrics:
        assert need.kind in spec.resource_kinds, f"{spec.name} reads {need.kind} metrics"
    assert spec.permissions
    assert all(action.match(p) for p in spec.permissions), spec.permissions
    if spec.metrics:
        assert metrics_read in spec.permissions
    assert spec.min_days >= 0
    for other in spec.yields_to:
        assert registry.get(other).spec.provider == spec.provider, (spec.name, other)
        assert other != spec.name


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.name)
def test_settings_are_camel_case_described_and_strict(module: Module[Any]) -> None:
    model = module.spec.settings
    assert issubclass(model, CamelSettings)
    schema = model.model_json_schema(by_alias=True)
    for key, prop in schema.get("properties", {}).items():
        assert re.fullmatch(r"[a-z][A-Za-z0-9]*", key), key
        assert prop.get("description", "").strip(), f"{module.name}.{key} lacks a description"
    defaults = model()
    assert model.model_validate(defaults.model_dump(by_alias=True)) == defaults
    with pytest.raises(ValidationError):
        model.model_validate({"noSuchSetting": 1})
    if "minDays" in schema.get("properties", {}):
        assert defaults.model_dump(by_alias=True)["minDays"] == module.spec.min_days
        with pytest.raises(ValidationError):
            model.model_validate({"minDays": 0})


def test_settings_accept_camel_case_and_python_names() -> None:
    model = registry.get("aws.ec2.idle").spec.settings
    by_alias = model.model_validate({"cpuAverageThreshold": 2.5})
    by_name = model.model_validate({"cpu_average_threshold": 2.5})
    assert by_alias == by_name
    assert by_alias.model_dump(by_alias=True)["cpuAverageThreshold"] == 2.5


def test_settings_refuse_out_of_range_values() -> None:
    model = registry.get("aws.ec2.rightsize").spec.settings
    for bad in ({"percentile": 0}, {"percentile": 101}, {"memoryFloorRatio": 0}, {"headroom": -0.1}):
        with pytest.raises(ValidationError):
            model.model_validate(bad)


def test_run_gives_a_module_its_own_settings_model_and_refuses_another() -> None:
    idle, nat = registry.get("aws.ec2.idle"), registry.get("aws.nat.idle")
    empty = Snapshot(
        provider=Provider.AWS, account_id="123456789012", collected_at=datetime.now(UTC), lookback_days=14
    )
    assert idle.run(empty) == []
    assert idle.settings_of(None) == idle.spec.settings()
    own = idle.spec.settings.model_validate({"cpuAverageThreshold": 2.5})
    assert idle.settings_of(own) is own
    with pytest.raises(TypeError, match=r"aws\.ec2\.idle takes Ec2IdleSettings, not NatIdleSettings"):
        idle.run(empty, nat.spec.settings())


def test_a_provider_module_that_cannot_be_imported_says_what_to_install() -> None:
    from cloudios.providers.base import ProviderError, sdk_module  # noqa: PLC0415

    assert sdk_module("aws", "credentials").__name__ == "cloudios.providers.aws.credentials"
    with pytest.raises(ProviderError) as missing:
        sdk_module("gcp", "no_such_module")
    assert missing.value.reason == "ProviderSdkMissing"
    assert "install cloudios[gcp]" in missing.value.message


def test_declared_precedence_has_no_cycle() -> None:
    yields = {m.name: set(m.spec.yields_to) for m in MODULES}

    def reaches(start: str, goal: str, seen: frozenset[str] = frozenset()) -> bool:
        return any(
            nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})) for nxt in yields[start]
        )

    assert not [name for name in yields if reaches(name, name)]
