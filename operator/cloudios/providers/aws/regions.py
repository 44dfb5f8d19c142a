"""AWS region names the installed botocore knows (its bundled endpoint data; no network)."""

from __future__ import annotations

import functools
from collections.abc import Sequence

import botocore
import botocore.loaders

from cloudios.providers.base import ProviderError

UNKNOWN_REGION = "UnknownRegion"


@functools.cache
def known_regions() -> frozenset[str]:
    """Every region of every partition in botocore's endpoints.json (aws, aws-cn, aws-us-gov, ...)."""
    data = botocore.loaders.create_loader().load_data("endpoints")
    return frozenset(region for partition in data["partitions"] for region in partition["regions"])


def validate_regions(regions: Sequence[str], *, field: str = "spec.aws.regions") -> None:
    """Raise ProviderError(UnknownRegion) naming each region botocore does not know, by index.

    Called before any AWS call: a made-up region that fits the name pattern would otherwise make
    the account Ready and every scan fail deep inside a response parser.
    """
    known = known_regions()
    unknown = [(index, region) for index, region in enumerate(regions) if region not in known]
    if not unknown:
        return
    named = "; ".join(f"{field}[{index}]: '{region}' is not an AWS region" for index, region in unknown)
    raise ProviderError(
        UNKNOWN_REGION,
        f"{named}. Fix or remove it; a region newer than this release needs a newer Cloudios "
        f"(botocore {botocore.__version__}). Known: {', '.join(sorted(known))}.",
    )
