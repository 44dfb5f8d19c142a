"""The operator's audit trail: appends decisions and signs checkpoints into stores outside the database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cloudios.security.audit import AuditEntry, AuditEvent, AuditKeyError, load_chain_key
from cloudios.security.checkpoints import Checkpoint, load_signing_key
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.sinks.audit_checkpoints import ConfigMapCheckpoints
from cloudios.sinks.kube import Kube, describe
from cloudios.sinks.operations_metrics import OperationsMetrics
from cloudios.store.audit import CheckpointStore, SqlAuditLog
from cloudios.store.checkpoint_files import CheckpointDirectory, CheckpointLocationError, checkpoint_dir

# A quiet log still gets a fresh checkpoint this often, so a verifier can tell "nothing happened"
# from "the newest checkpoints were deleted" by the latest one's age.
HEARTBEAT = timedelta(hours=1)

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class AuditTrail:
    """What the decision webhook appends through and the timer checkpoints; holds the signing key."""

    log: SqlAuditLog
    stores: tuple[CheckpointStore, ...]
    signing_key: Ed25519PrivateKey = field(repr=False)
    clock: Callable[[], datetime] = _utcnow
    latest_signed_at: datetime | None = None
    """When the newest checkpoint (signed now or found current) was signed; None before the first pass."""

    def append(self, event: AuditEvent, *, skip_repeat: bool = False) -> AuditEntry:
        """Append, then checkpoint at once, so no entry waits for the timer to be covered."""
        entry = self.log.append(event, skip_repeat=skip_repeat)
        try:
            self.checkpoint(heartbeat=False)
        except Exception as exc:  # noqa: BLE001 - the entry is stored; the timer checkpoints it later
            log.error("audit checkpoint after seq %d failed, the timer retries: %s", entry.seq, describe(exc))  # noqa: TRY400
        return entry

    def checkpoint(self, *, heartbeat: bool = True) -> Checkpoint | None:
        """Sign the head if it moved (or, with ``heartbeat``, if the latest is older than an hour)."""
        now = self.clock()

        def due(latest: Checkpoint | None, head_seq: int) -> bool:
            if latest is None or head_seq != latest.last_seq:
                return True
            signed_at = _signed_at(latest)
            self.latest_signed_at = signed_at
            return heartbeat and now - signed_at >= HEARTBEAT

        signed = self.log.checkpoint(self.signing_key, self.stores, due=due)
        if signed is not None:
            self.latest_signed_at = _signed_at(signed)
        return signed

    def close(self) -> None:
        self.log.close()


def _signed_at(checkpoint: Checkpoint) -> datetime:
    return datetime.strptime(checkpoint.time, "%Y-%m-%dT%H:%M:%S.%f%z")


def open_trail(settings: OperatorSettings, kube: Kube) -> AuditTrail:
    """The trail from settings; SettingsError (naming the variable and the fix) when it cannot work."""
    audit = settings.audit
    missing = [
        name
        for name, value in (
            ("CLOUDIOS_AUDIT_CHAIN_KEY_FILE", audit.chain_key_file),
            ("CLOUDIOS_AUDIT_SIGNING_KEY_FILE", audit.signing_key_file),
        )
        if value is None
    ]
    if missing or audit.chain_key_file is None or audit.signing_key_file is None:
        raise SettingsError(
            f"{' and '.join(missing)} must be set: decisions are recorded in the audit log, whose chain "
            "and checkpoints need keys the database never holds; create them with `cloudios audit keygen "
            "--out-dir DIR` (the Helm chart mounts them from a Secret)"
        )
    try:
        chain_key = load_chain_key(audit.chain_key_file)
        signing_key = load_signing_key(audit.signing_key_file)
    except AuditKeyError as exc:
        raise SettingsError(str(exc)) from None
    stores: list[CheckpointStore] = []
    namespace = audit.checkpoint_namespace or settings.pod.namespace
    if namespace:
        stores.append(ConfigMapCheckpoints(kube, namespace, audit.checkpoint_configmap))
    if audit.checkpoint_dir is not None:
        try:
            directory = checkpoint_dir(audit.checkpoint_dir, data=settings.store.data_dir)
        except CheckpointLocationError as exc:
            raise SettingsError(f"CLOUDIOS_AUDIT_CHECKPOINT_DIR: {exc}") from None
        stores.append(CheckpointDirectory(directory))
    if not stores:
        raise SettingsError(
            "audit checkpoints need a place outside the database: set CLOUDIOS_AUDIT_CHECKPOINT_NAMESPACE "
            "(a ConfigMap; in a cluster the operator's own namespace) or CLOUDIOS_AUDIT_CHECKPOINT_DIR"
        )
    store = settings.store
    if store.database_admin_url:
        # One chain across tenants: the migration role sees every row (docs/operations.md, Storage).
        audit_log = SqlAuditLog(
            store.database_admin_url, chain_key=chain_key, password=store.admin_password()
        )
    elif store.database_url:
        audit_log = SqlAuditLog(store.database_url, chain_key=chain_key, password=store.password())
    else:
        audit_log = SqlAuditLog.sqlite(settings.store.data_dir, chain_key=chain_key)
    return AuditTrail(log=audit_log, stores=tuple(stores), signing_key=signing_key)


def checkpoint_once(trail: AuditTrail, metrics: OperationsMetrics | None = None) -> Checkpoint | None:
    """One timer pass; a refusal (store and database disagree) is logged as an error, not raised.
    ``metrics`` learns when the newest checkpoint was signed (this pass's, or the current one's)."""
    try:
        signed = trail.checkpoint()
    except Exception as exc:  # noqa: BLE001 - logged in one line; the next pass tries again
        log.error("audit checkpoint failed: %s", describe(exc))  # noqa: TRY400
        if metrics is not None:
            metrics.checkpoint_failed()
        return None
    if metrics is not None and trail.latest_signed_at is not None:
        metrics.checkpointed(trail.latest_signed_at)
    if signed is not None:
        log.info(
            "audit checkpoint %d signed through seq %d (%s)",
            signed.index,
            signed.last_seq,
            ", ".join(store.describe() for store in trail.stores),
        )
    return signed


async def run_forever(
    trail: AuditTrail, *, interval: float, metrics: OperationsMetrics | None = None
) -> None:
    """Checkpoint now and then every ``interval`` seconds until cancelled."""
    if metrics is not None:
        metrics.checkpoint_max_age.set(HEARTBEAT.total_seconds() + interval)
    while True:
        await asyncio.to_thread(checkpoint_once, trail, metrics)
        await asyncio.sleep(interval)
