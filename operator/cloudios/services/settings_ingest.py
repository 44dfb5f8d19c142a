"""Settings of the ingest listener (agent reports, data rights) and of kubernetes accounts' agents."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from cloudios.services.settings_groups import _Group


class IngestSettings(_Group):
    """The HTTPS ingest listener: agent reports (POST /v1/reports) and the data-rights API."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_INGEST_")
    port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="Port of the operator's own ingest listener (data rights, and agent reports when "
        "`reports` is on); 0 disables it. `cloudios ingest` listens on 8443 unless set.",
    )
    addr: str = "0.0.0.0"  # noqa: S104 - the pod's port is what the Service targets
    cert_file: Path | None = Field(
        default=None, description="Serving certificate (PEM); default: the webhook's."
    )
    key_file: Path | None = Field(default=None, description="Its private key (PEM).")
    reports: bool = Field(default=True, description="Accept agent reports (POST /v1/reports).")
    rate_per_second: float = Field(
        default=1.0, gt=0, le=1000, description="Reports per second one cluster token may send (refill)."
    )
    burst: int = Field(
        default=60, ge=1, le=100_000, description="Reports one token may send at once (a restarted agent "
        "flushing its queue, a history backfill); then 429 with Retry-After.",
    )  # fmt: skip
    failures_per_minute: int = Field(
        default=30, ge=1, description="Refused tokens per minute from one address before it gets 429."
    )
    token_cache_seconds: float = Field(
        default=30, ge=0, le=300, description="How long a token lookup is reused: a revoked or deleted "
        "token is refused at most this long after the store says so.",
    )  # fmt: skip
    max_concurrent_reports: int = Field(
        default=4, ge=1, le=256, description="Reports parsed and stored at once; others wait (memory bound)."
    )
    body_timeout_seconds: float = Field(
        default=60, gt=0, description="Longest time a client may take to send one report's body."
    )


class AgentSettings(_Group):
    """Kubernetes CloudAccounts: their agent tokens and whether their agent reports."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_AGENT_")
    token_overlap_hours: float = Field(
        default=24, ge=0, le=24 * 30, description="After a rotation the previous token keeps working "
        "this long, so the agent can be given the new one without a gap.",
    )  # fmt: skip
    reporting_window_seconds: float = Field(
        default=600, gt=0, description="Ready=True while the agent's last report is at most this old."
    )
    check_interval_seconds: float = Field(
        default=60, gt=0, description="How often kubernetes accounts are re-checked: agent reports, "
        "and the rotate-token and revoke-token annotations.",
    )  # fmt: skip
    ingest_url: str | None = Field(
        default=None, description="The ingest URL agents reach (shown in the install hint of a "
        "CloudAccount that has no agent reporting yet).",
    )  # fmt: skip
