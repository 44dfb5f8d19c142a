"""Inventory of one project: Compute Engine aggregated and global lists, Cloud SQL instances.

Every list is paginated (each page counted as one call) and runs as its own task, so the caller
bounds concurrency with its pool. Attribute keys are exactly those documented in
``cloudios.domain.gcp``; the project comes from the request, never from a response.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from google.api_core import exceptions as gexc
from google.auth import exceptions as auth_exc
from google.cloud import compute_v1

from cloudios.domain import Provider, Resource
from cloudios.domain.gcp import (
    GCE_ADDRESS,
    GCE_DISK,
    GCE_IMAGE,
    GCE_INSTANCE,
    GCE_SNAPSHOT,
    GLOBAL,
    SQL_INSTANCE,
    region_of_zone,
)
from cloudios.providers.gcp.auth import ProjectSession
from cloudios.providers.gcp.errors import translate

KNOWN_KINDS = frozenset({GCE_INSTANCE, GCE_DISK, GCE_ADDRESS, GCE_SNAPSHOT, GCE_IMAGE, SQL_INSTANCE})
Task = Callable[[], list[Resource]]


def _short(url: str) -> str:
    """The last path segment of a Compute resource URL (zone, machine type, disk type)."""
    return url.rsplit("/", 1)[-1] if url else ""


def _time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Lister:
    """Runs one project's list calls, counted, retried and translated."""

    session: ProjectSession

    @property
    def project(self) -> str:
        return self.session.project

    def resource(
        self,
        kind: str,
        rid: object,
        region: str,
        name: str,
        *,
        labels: Mapping[str, str],
        created: str | None,
        **attributes: Any,
    ) -> Resource:
        return Resource(
            provider=Provider.GCP,
            account_id=self.project,
            region=region,
            kind=kind,
            id=str(rid),
            name=name or None,
            tags=dict(labels),
            created_at=_time(created),
            attributes={**attributes, "creationTimestamp": created},
        )

    def pages(self, key: str, call: Callable[..., Any], request: Any) -> Iterator[Any]:
        """Each page of a Compute list, one counted call per page."""
        tuning = self.session.tuning
        counter = self.session.counter
        try:
            pager = call(request=request, retry=counter.retry(key, tuning), timeout=tuning.timeout)
            for page in pager.pages:
                counter.add(key)
                yield page
        except (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError) as exc:
            raise translate(exc, operation=key, project=self.project) from None

    def aggregated(self, key: str, client: type[Any], request: Any, field: str) -> Iterator[Any]:
        for page in self.pages(key, self.session.compute(client).aggregated_list, request):
            for scoped in page.items.values():
                yield from getattr(scoped, field)

    def instances(self) -> list[Resource]:
        request = compute_v1.AggregatedListInstancesRequest(
            project=self.project,
            max_results=self.session.tuning.compute_page_size,
        )
        out = []
        for i in self.aggregated(
            "compute.instances.aggregatedList", compute_v1.InstancesClient, request, "instances"
        ):
            zone = _short(i.zone)
            meta = {m.key: m.value for m in i.metadata.items}
            out.append(
                self.resource(
                    GCE_INSTANCE,
                    i.id,
                    region_of_zone(zone),
                    i.name,
                    labels=i.labels,
                    created=i.creation_timestamp,
                    machineType=_short(i.machine_type),
                    zone=zone,
                    status=i.status,
                    managedBy=_short(meta["created-by"]) if "created-by" in meta else None,
                    preemptible=bool(i.scheduling.preemptible),
                )
            )
        return out

    def disks(self) -> list[Resource]:
        request = compute_v1.AggregatedListDisksRequest(
            project=self.project,
            max_results=self.session.tuning.compute_page_size,
        )
        out = []
        for d in self.aggregated("compute.disks.aggregatedList", compute_v1.DisksClient, request, "disks"):
            zone = _short(d.zone)
            out.append(
                self.resource(
                    GCE_DISK,
                    d.id,
                    region_of_zone(zone) if zone else _short(d.region),
                    d.name,
                    labels=d.labels,
                    created=d.creation_timestamp,
                    diskType=_short(d.type_),
                    sizeGb=int(d.size_gb),
                    zone=zone or None,
                    users=[_short(u) for u in d.users],
                    status=d.status,
                    lastAttachTimestamp=d.last_attach_timestamp or None,
                    lastDetachTimestamp=d.last_detach_timestamp or None,
                )
            )
        return out

    def addresses(self) -> list[Resource]:
        size = self.session.tuning.compute_page_size
        regional = self.aggregated(
            "compute.addresses.aggregatedList",
            compute_v1.AddressesClient,
            compute_v1.AggregatedListAddressesRequest(project=self.project, max_results=size),
            "addresses",
        )
        client = self.session.compute(compute_v1.GlobalAddressesClient)
        global_pages = self.pages(
            "compute.globalAddresses.list",
            client.list,
            compute_v1.ListGlobalAddressesRequest(project=self.project, max_results=size),
        )
        every: Iterable[Any] = [*regional, *(a for page in global_pages for a in page.items)]
        return [
            self.resource(
                GCE_ADDRESS,
                a.id,
                _short(a.region) or GLOBAL,
                a.name,
                labels=a.labels,
                created=a.creation_timestamp,
                address=a.address,
                addressType=a.address_type or "EXTERNAL",
                status=a.status,
                users=[_short(u) for u in a.users],
                networkTier=a.network_tier or None,
            )
            for a in every
        ]

    def snapshots(self) -> list[Resource]:
        client = self.session.compute(compute_v1.SnapshotsClient)
        request = compute_v1.ListSnapshotsRequest(
            project=self.project, max_results=self.session.tuning.compute_page_size
        )
        return [
            self.resource(
                GCE_SNAPSHOT,
                s.id,
                GLOBAL,
                s.name,
                labels=s.labels,
                created=s.creation_timestamp,
                storageBytes=int(s.storage_bytes),
                diskSizeGb=int(s.disk_size_gb),
                sourceDisk=_short(s.source_disk) or None,
                storageLocations=list(s.storage_locations),
            )
            for page in self.pages("compute.snapshots.list", client.list, request)
            for s in page.items
        ]

    def images(self) -> list[Resource]:
        client = self.session.compute(compute_v1.ImagesClient)
        request = compute_v1.ListImagesRequest(
            project=self.project, max_results=self.session.tuning.compute_page_size
        )
        return [
            self.resource(
                GCE_IMAGE,
                i.id,
                GLOBAL,
                i.name,
                labels=i.labels,
                created=i.creation_timestamp,
                diskSizeGb=int(i.disk_size_gb),
                archiveSizeBytes=int(i.archive_size_bytes),
                family=i.family or None,
                status=i.status,
            )
            for page in self.pages("compute.images.list", client.list, request)
            for i in page.items
        ]

    def sql_instances(self) -> list[Resource]:
        """Cloud SQL Admin ``instances.list`` over REST (no client library in the lock)."""
        key = "sqladmin.instances.list"
        tuning = self.session.tuning
        http = self.session.http()
        url = f"{self.session.endpoints.sqladmin}/v1/projects/{self.project}/instances"
        out: list[Resource] = []
        token: str | None = None
        while True:
            params = {"maxResults": str(tuning.sql_page_size), **({"pageToken": token} if token else {})}

            def get(params: dict[str, str] = params) -> Any:
                reply = http.get(url, params=params, timeout=tuning.timeout)
                if reply.status_code >= 400:  # noqa: PLR2004 - HTTP error class
                    raise gexc.from_http_response(reply)
                return reply.json()

            try:
                body = self.session.counter.retry(key, tuning)(get)()
            except (gexc.GoogleAPICallError, gexc.RetryError, auth_exc.GoogleAuthError) as exc:
                raise translate(exc, operation=key, project=self.project) from None
            self.session.counter.add(key)
            out.extend(self._sql(item) for item in body.get("items", []))
            token = body.get("nextPageToken")
            if not token:
                return out

    def _sql(self, item: Mapping[str, Any]) -> Resource:
        settings = item.get("settings", {})
        name = str(item["name"])
        return self.resource(
            SQL_INSTANCE,
            f"{self.project}:{name}",
            str(item.get("region", "")),
            name,
            labels=settings.get("userLabels", {}),
            created=item.get("createTime"),
            tier=settings.get("tier"),
            databaseVersion=item.get("databaseVersion"),
            state=item.get("state"),
            activationPolicy=settings.get("activationPolicy"),
            availabilityType=settings.get("availabilityType", "ZONAL"),
            dataDiskSizeGb=int(settings.get("dataDiskSizeGb", 0) or 0),
            dataDiskType=settings.get("dataDiskType"),
            createTime=item.get("createTime"),
        )


LISTS: Mapping[str, Callable[[Lister], list[Resource]]] = {
    GCE_INSTANCE: Lister.instances,
    GCE_DISK: Lister.disks,
    GCE_ADDRESS: Lister.addresses,
    GCE_SNAPSHOT: Lister.snapshots,
    GCE_IMAGE: Lister.images,
    SQL_INSTANCE: Lister.sql_instances,
}


def tasks(session: ProjectSession, kinds: Iterable[str]) -> list[Task]:
    """One task per kind to inventory."""
    lister = Lister(session)
    return [partial(LISTS[k], lister) for k in sorted(kinds) if k in LISTS]
