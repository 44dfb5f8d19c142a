"""Settings of signed webhooks (ScanPolicy spec.notifications): retries, SSRF allowances, payloads."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from cloudios.services.settings_groups import _Group

ALL_NAMESPACES = "*"


class NotifySettings(_Group):
    """Webhook deliveries: the outbox worker, retry bounds, private ranges, tag allow-list."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_NOTIFY_")
    interval_seconds: float = Field(
        default=5, gt=0, le=3600, description="How often each ScanPolicy's outbox is worked."
    )
    retry_hours: float = Field(
        default=24, gt=0, le=24 * 14, description="How long a delivery is retried before it becomes a "
        "dead letter (from the event's time).",
    )  # fmt: skip
    backoff_base_seconds: float = Field(
        default=5, gt=0, description="First retry delay bound; doubles per attempt (full jitter)."
    )
    backoff_max_seconds: float = Field(
        default=600, gt=0, description="Largest delay between two attempts of one delivery."
    )
    timeout_seconds: float = Field(default=10, gt=0, le=120, description="Limit of one delivery attempt.")
    lease_seconds: float = Field(
        default=120, gt=0, description="How long a worker holds a message it is sending (a crashed "
        "worker's messages are retried after this).",
    )  # fmt: skip
    batch: int = Field(default=20, ge=1, le=1000, description="Messages one pass sends per policy.")
    secret_overlap_hours: float = Field(
        default=24, ge=0, le=24 * 30, description="After a signing secret changes, deliveries carry "
        "signatures with the old and the new secret this long.",
    )  # fmt: skip
    allow_private_namespaces: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Namespaces whose webhooks may reach private addresses (RFC 1918, "
        "unique-local, CGNAT), comma-separated; '*' for all. Loopback, link-local and metadata "
        "addresses are refused regardless.",
    )  # fmt: skip
    tag_allow_list: Annotated[tuple[str, ...], NoDecode] = Field(
        default=("environment", "team", "cost-center", "application"),
        description="Tag keys whose values webhook payloads may carry (comma-separated); no others.",
    )
    ca_file: Path | None = Field(
        default=None, description="CA bundle for receivers' certificates; default: the system's."
    )

    @field_validator("allow_private_namespaces", "tag_allow_list", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(n.strip() for n in value.split(",") if n.strip())
        return value

    def allows_private(self, namespace: str) -> bool:
        return ALL_NAMESPACES in self.allow_private_namespaces or namespace in self.allow_private_namespaces
