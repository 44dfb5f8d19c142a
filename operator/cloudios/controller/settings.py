"""Operator configuration from CLOUDIOS_* environment variables, built once in main and passed on."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Environment variable -> field. Only these are read; everything else keeps its default.
# Later entries for the same field (the Helm chart's names) apply only when earlier ones are unset.
ENVIRONMENT: dict[str, str] = {
    "CLOUDIOS_NAMESPACES": "namespaces",
    "CLOUDIOS_DATA_DIR": "data_dir",
    "CLOUDIOS_DATABASE_URL": "database_url",
    "CLOUDIOS_HEALTH_INTERVAL_SECONDS": "health_interval_seconds",
    "CLOUDIOS_SCHEDULER_INTERVAL_SECONDS": "scheduler_interval_seconds",
    "CLOUDIOS_RETENTION_INTERVAL_SECONDS": "retention_interval_seconds",
    "CLOUDIOS_RETENTION_DAYS": "retention_days",
    "CLOUDIOS_EXECUTOR": "executor",
    "CLOUDIOS_JOB_IMAGE": "job_image",
    "CLOUDIOS_JOB_ALLOW_LOCAL_STORE": "job_allow_local_store",
    "CLOUDIOS_SCAN_CONCURRENCY": "scan_concurrency",
    "CLOUDIOS_WORKER_THREADS": "worker_threads",
    "CLOUDIOS_PROBE_TIMEOUT_SECONDS": "probe_timeout_seconds",
    "CLOUDIOS_PROBE_CONCURRENCY": "probe_concurrency",
    "CLOUDIOS_SCAN_TIMEOUT_SECONDS": "scan_timeout_seconds",
    "CLOUDIOS_PEERING_NAME": "peering_name",
    "CLOUDIOS_PEERING_PRIORITY": "peering_priority",
    "CLOUDIOS_PEERING_LIFETIME_SECONDS": "peering_lifetime_seconds",
    "CLOUDIOS_LOG_FORMAT": "log_format",
    "CLOUDIOS_LOG_LEVEL": "log_level",
    "CLOUDIOS_LIVENESS_ENDPOINT": "liveness_endpoint",
    "CLOUDIOS_WATCH_SERVER_TIMEOUT_SECONDS": "watch_server_timeout_seconds",
    "CLOUDIOS_WATCH_CLIENT_TIMEOUT_SECONDS": "watch_client_timeout_seconds",
    "CLOUDIOS_WATCH_RECONNECT_BACKOFF_SECONDS": "watch_reconnect_backoff_seconds",
    "CLOUDIOS_REQUEST_TIMEOUT_SECONDS": "request_timeout_seconds",
    "CLOUDIOS_WEBHOOK_ENABLED": "webhook_enabled",
    "CLOUDIOS_WEBHOOK_ADDR": "webhook_addr",
    "CLOUDIOS_WEBHOOK_PORT": "webhook_port",
    "CLOUDIOS_WEBHOOK_HOST": "webhook_host",
    "CLOUDIOS_WEBHOOK_CERT_FILE": "webhook_cert_file",
    "CLOUDIOS_WEBHOOK_KEY_FILE": "webhook_key_file",
    "CLOUDIOS_WEBHOOK_CA_FILE": "webhook_ca_file",
    "CLOUDIOS_WEBHOOK_MANAGED": "webhook_managed",
    "CLOUDIOS_WEBHOOK_CERT_DIR": "webhook_cert_dir",
    "CLOUDIOS_AUDIT_CHECKPOINT_DIR": "audit_checkpoint_dir",
    "CLOUDIOS_METRICS_PORT": "metrics_port",
    "CLOUDIOS_METRICS_ADDR": "metrics_addr",
    "CLOUDIOS_POD_NAME": "pod_name",
    "CLOUDIOS_NAMESPACE": "pod_namespace",
    "CLOUDIOS_SERVICE_ACCOUNT": "service_account",
    # Names the Helm chart uses for the same settings.
    "CLOUDIOS_SCAN_EXECUTOR": "executor",
    "CLOUDIOS_PEERING": "peering_name",
    "CLOUDIOS_HEALTH_PORT": "health_port",
}

_PRIORITY_MAX = 2**31 - 1


class SettingsError(ValueError):
    """A CLOUDIOS_* variable has a value the operator cannot start with."""


class ControllerSettings(BaseModel):
    """Everything the operator process is configured with (see docs/operator.md, Settings)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    namespaces: tuple[str, ...] = Field(
        default=(), description="Namespaces to watch (comma-separated); empty watches the whole cluster."
    )
    data_dir: Path | None = Field(default=None, description="Directory of the SQLite store.")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; overrides data_dir.")
    health_interval_seconds: float = Field(default=900, gt=0, description="Credential check interval.")
    scheduler_interval_seconds: float = Field(
        default=30, gt=0, description="How often schedules are checked."
    )
    retention_interval_seconds: float = Field(default=3600, gt=0, description="How often retention runs.")
    retention_days: int = Field(default=30, ge=1, description="Health checks and deleted accounts' data.")
    executor: Literal["inProcess", "job"] = Field(
        default="inProcess", description="Where scans run: in the operator, or a Job per account and region."
    )
    job_image: str | None = Field(default=None, description="Image of the scan Jobs (the operator's own).")
    job_allow_local_store: bool = Field(
        default=False,
        description="Let scan Jobs share a local SQLite store in a cluster (single node, development).",
    )
    scan_concurrency: int = Field(default=4, ge=1, le=64, description="Scans running at once.")
    worker_threads: int = Field(default=16, ge=2, le=256, description="Threads for blocking I/O.")
    probe_timeout_seconds: float = Field(default=30, gt=0, description="Limit of one credential check.")
    probe_concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Credential checks at once; the rest queue, first come first served.",
    )
    scan_timeout_seconds: float = Field(default=1800, gt=0, description="Limit of one account's scan.")
    peering_name: str | None = Field(
        default="cloudios", max_length=253, description="kopf peering object; empty runs standalone."
    )
    peering_priority: int = Field(
        default_factory=lambda: secrets.randbelow(_PRIORITY_MAX - 1) + 1,
        ge=0,
        le=_PRIORITY_MAX,
        description="Peering priority; random per process unless set, so replicas never tie.",
    )
    peering_lifetime_seconds: int = Field(default=60, ge=5, le=3600)
    log_format: Literal["json", "plain"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    liveness_endpoint: str | None = Field(
        default=None, description="kopf liveness probe URL (default http://0.0.0.0:8080/healthz)."
    )
    health_port: int | None = Field(default=None, ge=1, le=65535, description="Port of the default URL.")
    watch_server_timeout_seconds: int = Field(
        default=300, gt=0, description="Watch timeoutSeconds (integer)."
    )
    watch_client_timeout_seconds: float = Field(default=330, gt=0)
    watch_reconnect_backoff_seconds: float = Field(default=1.0, ge=0)
    request_timeout_seconds: float = Field(default=60, gt=0)
    webhook_enabled: bool = True
    webhook_addr: str = "0.0.0.0"  # noqa: S104 - the pod's port is what the Service targets
    webhook_port: int = Field(default=9443, ge=1, le=65535)
    webhook_host: str | None = Field(default=None, description="Host name put into the webhook URL.")
    webhook_cert_file: Path | None = None
    webhook_key_file: Path | None = None
    webhook_ca_file: Path | None = None
    webhook_cert_dir: Path | None = Field(
        default=None, description="Directory with tls.crt, tls.key, ca.crt."
    )
    webhook_managed: str | None = Field(
        default=None,
        description="Name of webhook configurations kopf creates and keeps up to date; unset when "
        "the Helm chart ships them.",
    )
    audit_checkpoint_dir: Path | None = Field(default=None, description="Where audit checkpoints go.")
    metrics_port: int = Field(
        default=9090, ge=0, le=65535, description="Port of the Prometheus /metrics endpoint; 0 disables it."
    )
    metrics_addr: str = "0.0.0.0"  # noqa: S104 - the pod's port is what the Service targets
    pod_name: str | None = Field(default=None, description="Peering identity (the pod's name).")
    pod_namespace: str | None = None
    service_account: str | None = None

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(n.strip() for n in value.split(",") if n.strip())
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator(
        "webhook_managed",
        "webhook_host",
        "database_url",
        "peering_name",
        "liveness_endpoint",
        "health_port",
        "webhook_cert_dir",
        "webhook_cert_file",
        "webhook_key_file",
        "webhook_ca_file",
        "data_dir",
        "audit_checkpoint_dir",
        "pod_name",
        "pod_namespace",
        "service_account",
        "job_image",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("peering_priority", mode="before")
    @classmethod
    def _random_when_empty(cls, value: Any) -> Any:
        return secrets.randbelow(_PRIORITY_MAX - 1) + 1 if value in ("", None) else value

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    @property
    def liveness_url(self) -> str:
        return self.liveness_endpoint or f"http://0.0.0.0:{self.health_port or 8080}/healthz"

    def webhook_files(self) -> tuple[Path, Path, Path] | None:
        """(cert, key, CA) from the explicit files or the certificate directory; None: generate."""
        if self.webhook_cert_file and self.webhook_key_file:
            return (
                self.webhook_cert_file,
                self.webhook_key_file,
                self.webhook_ca_file or self.webhook_cert_file,
            )
        if self.webhook_cert_dir is not None:
            d = self.webhook_cert_dir
            ca = d / "ca.crt"
            return d / "tls.crt", d / "tls.key", ca if ca.exists() else d / "tls.crt"
        return None

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> ControllerSettings:
        """Read the CLOUDIOS_* variables; a bad value raises SettingsError naming the variable."""
        values: dict[str, str] = {}
        for name, field in ENVIRONMENT.items():
            if name in environ and field not in values:
                values[field] = environ[name]
        try:
            settings = cls.model_validate(values)
        except ValidationError as exc:
            by_field = {v: k for k, v in ENVIRONMENT.items()}
            lines = []
            for error in exc.errors():
                field = str(error["loc"][0]) if error["loc"] else "?"
                lines.append(f"{by_field.get(field, field)}: {error['msg']}")
            raise SettingsError("; ".join(lines)) from None
        if settings.executor == "job":
            _check_job_executor(settings, in_cluster=bool(environ.get("KUBERNETES_SERVICE_HOST")))
        return settings


def _check_job_executor(settings: ControllerSettings, *, in_cluster: bool) -> None:
    """Scan Jobs write to the operator's store, so it must be one they reach too."""
    if not settings.job_image:
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job needs CLOUDIOS_JOB_IMAGE, the image scan Jobs run (the operator's "
            "own; the Helm chart sets it)"
        )
    if settings.database_url is None and in_cluster and not settings.job_allow_local_store:
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job needs CLOUDIOS_DATABASE_URL pointing at a database the scan Jobs "
            "share with the operator (PostgreSQL): the local SQLite store is private to this pod. "
            "For a single node or development set CLOUDIOS_JOB_ALLOW_LOCAL_STORE=true"
        )
    authority = (settings.database_url or "").split("://", 1)[-1].split("/", 1)[0]
    if "@" in authority and ":" in authority.rsplit("@", 1)[0]:
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job copies CLOUDIOS_DATABASE_URL into the scan Jobs' spec, so it must "
            "not carry credentials (user:password@); authenticate the database another way"
        )
