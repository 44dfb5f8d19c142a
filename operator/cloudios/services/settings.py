"""Operator configuration: nested pydantic-settings groups, read once from CLOUDIOS_* variables."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Annotated, Any

import pydantic_settings
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    NoDecode,
    SettingsConfigDict,
)

from cloudios.security import keyset as master_keyset
from cloudios.security.urls import credentials_in
from cloudios.services.settings_groups import (
    _ENVIRON,
    AuditSettings,
    BackupSettings,
    JobSettings,
    KeyringSettings,
    LogSettings,
    MetricsSettings,
    PeeringSettings,
    PodSettings,
    ProbeSettings,
    RetentionSettings,
    ScanSettings,
    SettingsError,
    StoreSettings,
    WatchSettings,
    WebhookSettings,
    _Group,
)
from cloudios.services.settings_ingest import AgentSettings, IngestSettings
from cloudios.services.settings_notify import NotifySettings
from cloudios.services.settings_verifier import VerifierSettings

__all__ = [
    "AgentSettings",
    "AuditSettings",
    "BackupSettings",
    "IngestSettings",
    "JobSettings",
    "KeyringSettings",
    "LogSettings",
    "MetricsSettings",
    "NotifySettings",
    "OperatorSettings",
    "PeeringSettings",
    "PodSettings",
    "ProbeSettings",
    "RetentionSettings",
    "ScanSettings",
    "SettingsError",
    "StoreSettings",
    "VerifierSettings",
    "WatchSettings",
    "WebhookSettings",
    "check_job_variable",
]


class OperatorSettings(_Group):
    """Everything the operator process is configured with (see docs/operator.md, Settings)."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_")

    namespaces: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Namespaces to watch (comma-separated); empty watches the whole cluster."
    )
    worker_threads: int = Field(default=16, ge=2, le=256, description="Threads for blocking I/O.")
    request_timeout_seconds: float = Field(default=60, gt=0)
    store: StoreSettings = Field(default_factory=StoreSettings)
    keyring: KeyringSettings = Field(default_factory=KeyringSettings)
    probe: ProbeSettings = Field(default_factory=ProbeSettings)
    scan: ScanSettings = Field(default_factory=ScanSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    peering: PeeringSettings = Field(default_factory=PeeringSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    backup: BackupSettings = Field(default_factory=BackupSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    verifier: VerifierSettings = Field(default_factory=VerifierSettings)
    pod: PodSettings = Field(default_factory=PodSettings)

    @field_validator("namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(n.strip() for n in value.split(",") if n.strip())
        return value

    @property
    def clusterwide(self) -> bool:
        return not self.namespaces

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> OperatorSettings:
        """Read the CLOUDIOS_* variables; a bad value raises SettingsError naming the variable."""
        with _reading(environ):
            try:
                settings = cls()
            except ValidationError as exc:
                raise SettingsError(_describe(exc)) from None
            except pydantic_settings.SettingsError as exc:
                raise SettingsError(str(exc)) from None
        try:
            _ = settings.keyring.keyset
        except master_keyset.KeysetError as exc:
            raise SettingsError(str(exc)) from None
        settings.store.password()
        settings.store.admin_password()
        if settings.scan.executor == "job":
            _check_job_executor(settings, in_cluster=bool(environ.get("KUBERNETES_SERVICE_HOST")))
        return settings


@contextmanager
def _reading(environ: Mapping[str, str]) -> Iterator[None]:
    token = _ENVIRON.set(dict(environ))
    try:
        yield
    finally:
        _ENVIRON.reset(token)


def _describe(exc: ValidationError) -> str:
    """pydantic's errors with the variable to fix (the settings group's prefix plus the field)."""
    prefix = str(exc.title) if exc.title else ""
    lines = []
    for error in exc.errors():
        loc = [str(p) for p in error["loc"]]
        name = loc[-1] if loc else "?"
        variable = (
            name if name.startswith("CLOUDIOS_") else f"{_PREFIXES.get(prefix, 'CLOUDIOS_')}{name}".upper()
        )
        lines.append(f"{variable}: {error['msg']}")
    return "; ".join(lines)


_PREFIXES: dict[str, str] = {
    group.__name__: str(group.model_config.get("env_prefix", "CLOUDIOS_"))
    for group in (
        StoreSettings, KeyringSettings, ProbeSettings, JobSettings, ScanSettings, RetentionSettings,
        AuditSettings, PeeringSettings, LogSettings, WatchSettings, WebhookSettings, MetricsSettings,
        PodSettings, OperatorSettings, IngestSettings, AgentSettings, BackupSettings, NotifySettings,
        VerifierSettings,
    )
}  # fmt: skip


def _check_job_executor(settings: OperatorSettings, *, in_cluster: bool) -> None:
    """Scan Jobs write to the operator's store, so it must be one they reach too."""
    if not settings.scan.job.image:
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job needs CLOUDIOS_JOB_IMAGE, the image scan Jobs run (the operator's "
            "own; the Helm chart sets it)"
        )
    job = settings.scan.job
    if in_cluster and (not job.service_account or job.service_account == settings.pod.service_account):
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job needs CLOUDIOS_JOB_SERVICE_ACCOUNT, a ServiceAccount for the scan Jobs "
            "that is not the operator's own (the Helm chart creates one): Jobs must not run with the "
            "operator's rights"
        )
    url = settings.store.database_url
    if url is None and in_cluster and not settings.scan.job.allow_local_store:
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job needs CLOUDIOS_DATABASE_URL pointing at a database the scan Jobs "
            "share with the operator (PostgreSQL): the local SQLite store is private to this pod. "
            "For a single node or development set CLOUDIOS_JOB_ALLOW_LOCAL_STORE=true"
        )
    found = credentials_in(url or "", user_is_secret=False)
    if found:
        raise SettingsError(
            "CLOUDIOS_EXECUTOR=job copies CLOUDIOS_DATABASE_URL into the scan Jobs' spec, so it must not "
            f"carry credentials, but it has {' and '.join(found)}; authenticate the database another "
            "way (a client certificate, or a password file the database driver reads)"
        )


def check_job_variable(name: str, value: str) -> None:
    """A variable copied into scan Jobs' spec (proxies, endpoints) carries no credentials; the error
    names the variable and what is wrong, never the value."""
    if "://" not in value and not name.upper().endswith("_PROXY"):
        return
    found = credentials_in(value, user_is_secret=True)
    if found:
        raise SettingsError(
            f"CLOUDIOS_EXECUTOR=job copies {name} into the scan Jobs' spec, so it must not carry "
            f"credentials, but it has {' and '.join(found)}; use a proxy or endpoint that needs none, "
            "or run scans in process (CLOUDIOS_EXECUTOR=inProcess)"
        )
