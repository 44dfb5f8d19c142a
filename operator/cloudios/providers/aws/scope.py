"""Where one region's describe calls go: its clients, page sizes and how results are tagged."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cloudios.domain import Provider, Resource

# Largest page each API accepts.
MAX_PAGE = {
    "describe_instances": 1000,
    "describe_volumes": 500,
    "describe_snapshots": 1000,
    "describe_images": 1000,
    "describe_nat_gateways": 1000,
    "describe_load_balancers": 400,
    "describe_target_groups": 400,
    "describe_db_instances": 100,
    "describe_db_clusters": 100,
    "describe_db_snapshots": 100,
    "describe_db_cluster_snapshots": 100,
}


@dataclass(frozen=True)
class RegionScope:
    """Where the describe calls go and how results are tagged."""

    account_id: str
    region: str
    clients: Mapping[str, Any]
    page_size: int | None = None

    def client(self, service: str) -> Any:
        return self.clients[service]

    def pages(self, service: str, operation: str, result_key: str, **kwargs: Any) -> Iterator[Any]:
        """Every item of every page of ``operation``."""
        size = min(self.page_size or MAX_PAGE[operation], MAX_PAGE[operation])
        paginator = self.client(service).get_paginator(operation)
        for page in paginator.paginate(PaginationConfig={"PageSize": size}, **kwargs):
            yield from page.get(result_key, [])

    def resource(self, kind: str, rid: str, **fields: Any) -> Resource:
        return Resource(
            provider=Provider.AWS, account_id=self.account_id, region=self.region, kind=kind, id=rid, **fields
        )


def utc(value: datetime | None) -> datetime | None:
    """A timezone-aware UTC datetime (botocore may hand back naive or local times)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def tags(tag_list: Sequence[Mapping[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tag_list or [] if "Key" in t}


def or_none(value: Any) -> Any:
    return value if value not in ("", None) else None
