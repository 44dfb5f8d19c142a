"""An S3-compatible bucket for store backups: put, get, list and delete objects under a prefix.

The client comes from a fresh ``boto3.session.Session`` on botocore's standard chain (the operator's
own identity: IRSA, environment, instance role), never a CloudAccount's credentials; the endpoint
follows ``endpoint_url`` or boto3's ``AWS_ENDPOINT_URL`` (MinIO, Ceph, moto in the tests).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import boto3.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cloudios.providers.base import ObjectStoreError


@dataclass
class S3ObjectStore:
    """Objects under ``prefix`` in ``bucket``."""

    bucket: str
    prefix: str = "cloudios-backups/"
    endpoint_url: str | None = None
    region: str | None = None
    _client: Any = field(default=None, repr=False)

    def _s3(self) -> Any:
        if self._client is None:
            session = boto3.session.Session(region_name=self.region)
            self._client = session.client(
                "s3",
                endpoint_url=self.endpoint_url,
                config=Config(
                    retries={"mode": "standard", "max_attempts": 5}, connect_timeout=10, read_timeout=120
                ),
            )
        return self._client

    def describe(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(
                f"{what} in {self.describe()} failed: {type(exc).__name__}: {exc}"
            ) from None

    def put(self, name: str, data: bytes) -> None:
        self._call("put", self._s3().put_object, Key=self.prefix + name, Body=data)

    def get(self, name: str) -> bytes:
        answer = self._call("get", self._s3().get_object, Key=self.prefix + name)
        return bytes(answer["Body"].read())

    def names(self) -> list[str]:
        """Object names under the prefix (without it), sorted."""
        found: list[str] = []
        paginator = self._s3().get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix):
                found.extend(obj["Key"][len(self.prefix) :] for obj in page.get("Contents", []))
        except (BotoCoreError, ClientError) as exc:
            raise ObjectStoreError(f"list in {self.describe()} failed: {type(exc).__name__}: {exc}") from None
        return sorted(found)

    def delete(self, name: str) -> None:
        self._call("delete", self._s3().delete_object, Key=self.prefix + name)
