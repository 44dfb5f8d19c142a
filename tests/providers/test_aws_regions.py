"""Region names are checked against botocore's endpoint data before any AWS call."""

from __future__ import annotations

import pytest

from cloudios.providers.aws.auth import probe
from cloudios.providers.aws.collect import collect
from cloudios.providers.aws.provider import AwsProvider
from cloudios.providers.aws.regions import known_regions, validate_regions
from cloudios.providers.base import ProviderError
from tests.support.controlplane import free_port
from tests.support.moto import AwsEnv


def test_known_regions_span_the_partitions() -> None:
    known = known_regions()
    assert {"us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1"} <= known
    assert "zz-nowhere-9" not in known
    validate_regions(["us-east-1", "ap-southeast-2", "us-gov-east-1"])


def test_every_unknown_region_is_named_with_its_index() -> None:
    with pytest.raises(ProviderError) as caught:
        validate_regions(["us-east-1", "zz-nowhere-9", "eu-west-1", "mars-north-1"])
    assert caught.value.reason == "UnknownRegion"
    message = caught.value.message
    assert "spec.aws.regions[1]: 'zz-nowhere-9' is not an AWS region" in message
    assert "spec.aws.regions[3]: 'mars-north-1' is not an AWS region" in message
    assert "regions[0]" not in message
    assert "us-east-1" in message  # the known regions are listed


@pytest.mark.aws
def test_probe_and_collect_refuse_before_any_call(aws_env: AwsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens there: a call would give EndpointUnreachable, not UnknownRegion.
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{free_port()}")
    request = aws_env.request("111111111111", regions=("us-east-1", "zz-nowhere-9"))
    assert request.account.aws is not None
    with pytest.raises(ProviderError) as probed:
        probe(request.account.aws, tenant="t", account_name="a", base_credentials=None, timeout=2)
    assert probed.value.reason == "UnknownRegion"
    with pytest.raises(ProviderError) as collected:
        collect(request)
    assert collected.value.reason == "UnknownRegion"
    assert "spec.aws.regions[1]" in collected.value.message
    # executor=job: no shard (no Job) for a region that does not exist.
    with pytest.raises(ProviderError) as sharded:
        AwsProvider().shards(request.account)
    assert sharded.value.reason == "UnknownRegion"
