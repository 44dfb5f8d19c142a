"""The operator's settings groups: one pydantic-settings model per area, read from CLOUDIOS_* variables."""

from __future__ import annotations

import contextvars
import secrets
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)
from pydantic_settings.sources.utils import parse_env_vars

from cloudios.security import keyset as master_keyset

_PRIORITY_MAX = 2**31 - 1
_ENVIRON: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar("environ", default=None)


class SettingsError(ValueError):
    """A CLOUDIOS_* variable has a value the operator cannot start with."""


class _MappingSource(EnvSettingsSource):
    """The environment of ``OperatorSettings.from_env`` (the process environment by default)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        given = _ENVIRON.get()
        if given is None:
            return super()._load_env_vars()
        return parse_env_vars(given, self.case_sensitive, self.env_ignore_empty, self.env_parse_none_str)


class _Group(BaseSettings):
    """A group of settings read from variables named ``<env_prefix><FIELD>``; empty values count as unset."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_ignore_empty=True)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - replaced by the mapping source
        dotenv_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - no .env files
        file_secret_settings: PydanticBaseSettingsSource,  # noqa: ARG003 - secrets never come from here
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, _MappingSource(settings_cls)


def _alias(*names: str) -> Any:
    return AliasChoices(*names)


class StoreSettings(_Group):
    """Where the store lives (docs/operations.md, Storage)."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_")
    data_dir: Path | None = Field(default=None, description="Directory of the SQLite store.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the app role, without a password; overrides data_dir.",
    )
    database_password_file: Path | None = Field(
        default=None, description="File holding the app role's password (a mounted Secret)."
    )
    database_password: SecretStr | None = Field(
        default=None, description="The app role's password (from a Secret); prefer the file."
    )
    database_admin_url: str | None = Field(
        default=None,
        description="PostgreSQL: URL of the migration role that owns the tables; the operator migrates "
        "with it at start-up and runs cross-tenant work (retention, the audit chain) through it.",
    )
    database_admin_password_file: Path | None = Field(
        default=None, description="File holding the migration role's password."
    )
    database_admin_password: SecretStr | None = Field(
        default=None, description="The migration role's password; prefer the file."
    )

    def password(self) -> str | None:
        """The app role's password, from the file or the variable (SettingsError naming which)."""
        return _password(self.database_password_file, self.database_password, "CLOUDIOS_DATABASE_PASSWORD")

    def admin_password(self) -> str | None:
        return _password(
            self.database_admin_password_file,
            self.database_admin_password,
            "CLOUDIOS_DATABASE_ADMIN_PASSWORD",
        )


def _password(file: Path | None, value: SecretStr | None, variable: str) -> str | None:
    if file is not None and value is not None:
        raise SettingsError(f"set {variable}_FILE or {variable}, not both")
    if value is not None:
        return value.get_secret_value()
    if file is None:
        return None
    try:
        return file.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"{variable}_FILE ({file}): cannot read it: {exc.strerror}") from None


class KeyringSettings(_Group):
    """The master keyset that wraps every tenant's data keys (docs/security.md, Encryption at rest)."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_MASTER_KEY_")
    file: Path | None = Field(
        default=None,
        description="File holding the master key or keyset (the Helm chart mounts its Secret here).",
    )
    value: SecretStr | None = Field(
        default=None,
        validation_alias=_alias("CLOUDIOS_MASTER_KEY"),
        description="The master key itself (base64 of 32 bytes) or a JSON keyset; prefer the file.",
    )

    @cached_property
    def keyset(self) -> master_keyset.MasterKeyset | None:
        """Parsed once; None when neither variable is set. A bad key raises KeysetError naming the
        variable (and the file), never the key."""
        if self.file is not None and self.value is not None:
            raise master_keyset.KeysetError("set CLOUDIOS_MASTER_KEY_FILE or CLOUDIOS_MASTER_KEY, not both")
        if self.value is not None:
            return master_keyset.parse(self.value.get_secret_value(), source="CLOUDIOS_MASTER_KEY")
        if self.file is None:
            return None
        source = f"CLOUDIOS_MASTER_KEY_FILE ({self.file})"
        try:
            text = self.file.read_bytes()
        except OSError as exc:
            raise master_keyset.KeysetError(f"{source}: cannot read it: {exc.strerror}") from None
        return master_keyset.parse(text, source=source)


class ProbeSettings(_Group):
    """Credential health checks."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_PROBE_")
    interval_seconds: float = Field(
        default=900, gt=0, validation_alias=_alias("CLOUDIOS_HEALTH_INTERVAL_SECONDS"),
        description="Credential check interval.",
    )  # fmt: skip
    retry_seconds: float = Field(
        default=10, gt=0, validation_alias=_alias("CLOUDIOS_HEALTH_RETRY_SECONDS"),
        description="First re-check after a check that failed for a transient reason; doubles with "
        "each further failure, up to the check interval.",
    )  # fmt: skip
    timeout_seconds: float = Field(default=30, gt=0, description="Limit of one credential check.")
    concurrency: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Credential checks at once; the rest queue, first come first served.",
    )


class JobSettings(_Group):
    """executor=job: the scan Jobs."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_JOB_")
    image: str | None = Field(default=None, description="Image of the scan Jobs (the operator's own).")
    allow_local_store: bool = Field(
        default=False,
        description="Let scan Jobs share a local SQLite store in a cluster (single node, development).",
    )
    database_password_secret: str | None = Field(
        default=None,
        description="`<secret>/<key>` in the operator's namespace holding the app role's database "
        "password: scan Jobs get it as CLOUDIOS_DATABASE_PASSWORD through a secretKeyRef, so the Job "
        "spec names the Secret but never holds the password.",
    )
    service_account: str | None = Field(
        default=None,
        description="ServiceAccount of the scan Jobs: not the operator's. It may read CloudAccounts and "
        "ScanPolicies; the operator grants it `get` on the one Secret a run needs, for that run only.",
    )


class ScanSettings(_Group):
    """Scheduled scans."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_SCAN_")
    executor: Literal["inProcess", "job"] = Field(
        default="inProcess",
        validation_alias=_alias("CLOUDIOS_EXECUTOR", "CLOUDIOS_SCAN_EXECUTOR"),
        description="Where scans run: in the operator, or a Job per account shard (region).",
    )
    concurrency: int = Field(default=4, ge=1, le=64, description="Scans running at once.")
    timeout_seconds: float = Field(default=1800, gt=0, description="Limit of one account's scan.")
    scheduler_interval_seconds: float = Field(
        default=30, gt=0, validation_alias=_alias("CLOUDIOS_SCHEDULER_INTERVAL_SECONDS"),
        description="How often schedules are checked.",
    )  # fmt: skip
    job: JobSettings = Field(default_factory=JobSettings)
    clock_offset_seconds: float = Field(
        default=0,
        ge=0,
        le=366 * 86400,
        description="Scans run this far ahead of the real clock (their end time, what the closed loop "
        "calls now): only for demos and tests that replay an emulator's future days; 0 in production.",
    )


class RetentionSettings(_Group):
    """How long health checks and deleted accounts' data are kept."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_RETENTION_")
    interval_seconds: float = Field(default=3600, gt=0, description="How often retention runs.")
    days: int = Field(default=30, ge=1, description="Health checks and deleted accounts' data.")
    usage_days: int = Field(
        default=90, ge=1, le=3650, description="Agent usage summaries (the longest lookback is 90 days)."
    )


class AuditSettings(_Group):
    """The audit log's keys and where its signed checkpoints go (outside the database)."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_AUDIT_")
    chain_key_file: Path | None = Field(
        default=None, description="HMAC key that links the chain (`cloudios audit keygen`; a Secret)."
    )
    signing_key_file: Path | None = Field(
        default=None, description="Ed25519 private key (PKCS#8 PEM) that signs checkpoints (a Secret)."
    )
    checkpoint_interval_seconds: float = Field(
        default=300, gt=0, description="How often the head is checkpointed (also after every decision)."
    )
    checkpoint_namespace: str | None = Field(
        default=None, description="Namespace of the checkpoint ConfigMap; default: the operator's own."
    )
    checkpoint_configmap: str = Field(
        default="cloudios-audit-checkpoints", min_length=1, max_length=253,
        description="ConfigMap holding the latest checkpoint.",
    )  # fmt: skip
    checkpoint_dir: Path | None = Field(
        default=None, description="Also (or instead, outside a cluster) write checkpoints here."
    )


class PeeringSettings(_Group):
    """kopf peering (active/standby replicas)."""

    # An empty name is meaningful (standalone), so empty values are read, not ignored.
    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_PEERING_", env_ignore_empty=False)
    name: str | None = Field(
        default="cloudios",
        max_length=253,
        validation_alias=_alias("CLOUDIOS_PEERING_NAME", "CLOUDIOS_PEERING"),
        description="kopf peering object; empty runs standalone.",
    )
    priority: int = Field(
        default_factory=lambda: secrets.randbelow(_PRIORITY_MAX - 1) + 1,
        ge=0,
        le=_PRIORITY_MAX,
        description="Peering priority; random per process unless set, so replicas never tie.",
    )
    lifetime_seconds: int = Field(default=60, ge=5, le=3600)

    @field_validator("name", mode="before")
    @classmethod
    def _empty_is_standalone(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("priority", mode="before")
    @classmethod
    def _random_when_empty(cls, value: Any) -> Any:
        return secrets.randbelow(_PRIORITY_MAX - 1) + 1 if value in ("", None) else value


class LogSettings(_Group):
    """Log lines on stderr."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_LOG_")
    format: Literal["json", "plain"] = "json"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class WatchSettings(_Group):
    """Kubernetes watch streams."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_WATCH_")
    server_timeout_seconds: int = Field(default=300, gt=0, description="Watch timeoutSeconds (integer).")
    client_timeout_seconds: float = Field(default=330, gt=0)
    reconnect_backoff_seconds: float = Field(default=1.0, ge=0)


class WebhookSettings(_Group):
    """The decision admission webhooks' HTTPS server."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_WEBHOOK_")
    enabled: bool = True
    addr: str = "0.0.0.0"  # noqa: S104 - the pod's port is what the Service targets
    port: int = Field(default=9443, ge=1, le=65535)
    host: str | None = Field(default=None, description="Host name put into the webhook URL.")
    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None
    cert_dir: Path | None = Field(default=None, description="Directory with tls.crt, tls.key, ca.crt.")
    managed: str | None = Field(
        default=None,
        description="Name of webhook configurations kopf creates and keeps up to date; unset when "
        "the Helm chart ships them.",
    )

    def files(self) -> tuple[Path, Path, Path] | None:
        """(cert, key, CA) from the explicit files or the certificate directory; None: generate."""
        if self.cert_file and self.key_file:
            return self.cert_file, self.key_file, self.ca_file or self.cert_file
        if self.cert_dir is not None:
            d = self.cert_dir
            ca = d / "ca.crt"
            return d / "tls.crt", d / "tls.key", ca if ca.exists() else d / "tls.crt"
        return None


class MetricsSettings(_Group):
    """The HTTPS endpoint: /metrics (TokenReview + SubjectAccessReview), /healthz and /readyz."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_METRICS_")
    port: int = Field(
        default=9090,
        ge=0,
        le=65535,
        description="Port of the HTTPS /metrics and /healthz endpoint; 0 disables it.",
    )
    addr: str = "0.0.0.0"  # noqa: S104 - the pod's port is what the Service targets
    cert_file: Path | None = Field(
        default=None, description="Serving certificate (PEM); default: the webhook's."
    )
    key_file: Path | None = Field(default=None, description="Its private key (PEM).")


class BackupSettings(_Group):
    """Daily encrypted backups of the store to an S3-compatible bucket (docs/operations.md, Backups)."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_BACKUP_")
    bucket: str | None = Field(default=None, description="Bucket for backups; unset disables them.")
    prefix: str = Field(default="cloudios-backups/", description="Key prefix of the backup objects.")
    endpoint_url: str | None = Field(
        default=None, description="S3-compatible endpoint (default: AWS, or boto3's AWS_ENDPOINT_URL)."
    )
    region: str | None = Field(default=None, description="The bucket's region.")
    check_interval_seconds: float = Field(
        default=3600, gt=0, description="How often to check whether the daily backup is due."
    )


class PodSettings(_Group):
    """Who and where the operator runs (the chart sets these from the downward API)."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_")
    pod_name: str | None = Field(default=None, description="Peering identity (the pod's name).")
    namespace: str | None = Field(default=None, description="The operator's own namespace.")
    service_account: str | None = None
