"""executor=job: one Kubernetes Job per account shard (AWS: a region), awaited and merged from the store."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from croniter import croniter

from cloudios.api import GROUP, VERSION, CloudAccount, ScanPolicy
from cloudios.api.names import (
    LABEL_ACCOUNT,
    LABEL_COMPONENT,
    LABEL_MANAGED_BY,
    LABEL_POLICY,
    LABEL_SCAN_ID,
    LABEL_SHARD,
    LABEL_TENANT,
    MANAGED_BY,
    label_value,
)
from cloudios.domain import ScanRecord
from cloudios.pipeline.scan import ScanOutcome, covered_regions
from cloudios.providers import registry
from cloudios.services import schedule
from cloudios.services.context import PolicyRuns
from cloudios.services.settings import OperatorSettings, check_job_variable
from cloudios.sinks.kube import ApiError

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
TTL_SECONDS_AFTER_FINISHED = 3600
BACKOFF_LIMIT = 1
PROXIES = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY")


def inherited_environment(settings: OperatorSettings, environ: Mapping[str, str]) -> dict[str, str]:
    """What scan Jobs inherit from the operator: the store, logging, request timeout, proxies, and the
    variables every provider's SDK reads (endpoints, CA bundles). Never credentials: a Job reads the
    account's referenced Secret through the API, like the operator.

    With executor=job, a proxy or endpoint that carries credentials raises SettingsError naming it.
    """
    values = {
        "CLOUDIOS_DATABASE_URL": settings.store.database_url,
        "CLOUDIOS_DATA_DIR": str(settings.store.data_dir) if settings.store.data_dir else None,
        "CLOUDIOS_LOG_FORMAT": settings.log.format,
        "CLOUDIOS_LOG_LEVEL": settings.log.level,
        "CLOUDIOS_REQUEST_TIMEOUT_SECONDS": str(settings.request_timeout_seconds),
    }
    names = [n for p in registry.supported() for n in registry.get(p).job_environment] + list(PROXIES)
    passed = {name: environ[name] for name in dict.fromkeys(names) if environ.get(name)}
    if settings.scan.executor == "job":
        for name, value in passed.items():
            check_job_variable(name, value)
    values.update(passed)
    return {name: value for name, value in values.items() if value}


def job_env(values: Mapping[str, str], password_secret: str | None) -> list[dict[str, Any]]:
    """The Job container's env: plain values, plus the database password as a reference to its
    Secret (``<secret>/<key>``), which the kubelet resolves: the Job spec never holds the password."""
    env: list[dict[str, Any]] = [{"name": k, "value": v} for k, v in values.items()]
    if password_secret:
        name, _, key = password_secret.partition("/")
        env.append(
            {
                "name": "CLOUDIOS_DATABASE_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": name, "key": key or "password"}},
            }
        )
    return env


class ShardFailedError(Exception):
    """A shard Job failed or vanished; reason is CamelCase (the Job's own reason when it has one)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _digest(*parts: str, length: int) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def scan_id(policy: ScanPolicy, account: str, now: datetime) -> str:
    """Deterministic per run: the run-now value, else the cron slot the run belongs to, so an
    operator restarted mid-run finds its Jobs again instead of starting new ones."""
    trigger = schedule.run_now_request(policy.metadata.annotations)
    if trigger is None:
        slot: datetime = croniter(policy.spec.schedule, now.astimezone(UTC)).get_prev(datetime)
        trigger = f"slot:{slot.isoformat()}"
    else:
        trigger = f"run-now:{trigger}"
    return _digest(str(policy.metadata.uid), policy.metadata.name, account, trigger, length=20)


def shard_record_id(scan: str, shard: str) -> str:
    """The store's scan id of one shard (36 characters at most)."""
    return f"{scan}-{_digest(shard, length=15)}"


def job_name(tenant: str, policy: str, account: str, shard: str, scan: str) -> str:
    return f"scan-{_digest(tenant, policy, account, shard, scan, length=16)}"


def job_namespace(svc: PolicyRuns, tenant: str) -> str:
    """The operator's own namespace (CLOUDIOS_NAMESPACE, set by the chart); the tenant's outside a pod."""
    return svc.pod.namespace or tenant


def job_manifest(
    svc: PolicyRuns, policy: ScanPolicy, account: CloudAccount, shard: str, scan: str
) -> dict[str, Any]:
    """The Job of one shard: the operator's image and store, restricted pod security, no secret values."""
    tenant, name = policy.metadata.namespace, account.metadata.name
    # Jobs run beside the operator, under its ServiceAccount (which may read the tenant's Secret and
    # objects); a tenant namespace has neither that ServiceAccount nor the right to create one.
    namespace = job_namespace(svc, tenant)
    labels = {
        LABEL_TENANT: label_value(tenant),
        LABEL_POLICY: label_value(policy.metadata.name),
        LABEL_ACCOUNT: label_value(name),
        LABEL_SHARD: label_value(shard),
        LABEL_SCAN_ID: scan,
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: "scan",
    }
    command = ["python", "-m", "cloudios.services.job", "--namespace", tenant, "--account", name]
    command += ["--policy", policy.metadata.name, "--shard", shard, "--scan-id", scan]
    pod: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": True,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": 65532,
            "runAsGroup": 65532,
            "fsGroup": 65532,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": "scan",
                "image": svc.settings.job.image,
                "command": command,
                "env": job_env(svc.job_environment, svc.settings.job.database_password_secret),
                "resources": {
                    "requests": {"cpu": "100m", "memory": "256Mi"},
                    "limits": {"cpu": "1", "memory": "512Mi"},
                },
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],  # noqa: S108 - an emptyDir
            }
        ],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    if svc.settings.job.service_account:
        pod["serviceAccountName"] = svc.settings.job.service_account
    metadata: dict[str, Any] = {
        "name": job_name(tenant, policy.metadata.name, name, shard, scan),
        "namespace": namespace,
        "labels": labels,
    }
    if namespace == tenant:
        # Owner references cannot cross namespaces; elsewhere ttlSecondsAfterFinished cleans up.
        metadata["ownerReferences"] = [
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "ScanPolicy",
                "name": policy.metadata.name,
                "uid": policy.metadata.uid,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "activeDeadlineSeconds": int(svc.settings.timeout_seconds),
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def ensure_job(svc: PolicyRuns, manifest: dict[str, Any]) -> None:
    """Create the Job; an existing one of that name belongs to this run (same scan id): reuse it."""
    meta = manifest["metadata"]
    if not svc.kube.create_job(meta["namespace"], manifest):
        log.info("scan job %s/%s exists; reusing it", meta["namespace"], meta["name"])


def job_state(svc: PolicyRuns, namespace: str, name: str) -> tuple[str, str, str]:
    """('Running'|'Complete'|'Failed', reason, message) of one Job."""
    found = svc.kube.job_conditions(namespace, name)
    if found is None:
        return "Failed", "ScanJobGone", f"scan job {name} was deleted before it finished"
    for kind, status, reason, message in found:
        if status != "True":
            continue
        if kind == "Complete":
            return "Complete", "", ""
        if kind == "Failed":
            return "Failed", reason or "ScanJobFailed", message or "the scan job failed"
    return "Running", "", ""


def grant_name(scan: str) -> str:
    return f"cloudios-scan-{scan[:40]}"


def grant_secret(svc: PolicyRuns, account: CloudAccount, scan: str) -> str | None:
    """Let the scan Jobs' ServiceAccount `get` the account's one Secret for this run (a Role with
    resourceNames in the tenant's namespace), after revoking grants left by runs that died.

    None when there is nothing to grant (no Secret reference, or no Job ServiceAccount outside a
    cluster). The caller revokes the grant when the run ends.
    """
    found = account.spec.secret_ref()
    job_account = svc.settings.job.service_account
    tenant, name = account.metadata.namespace, account.metadata.name
    selector = f"{LABEL_COMPONENT}=scan-grant,{LABEL_ACCOUNT}={label_value(name)}"
    current = grant_name(scan)
    for stale in svc.kube.grants(tenant, selector):
        if stale != current:
            svc.kube.revoke_grant(tenant, stale)
    if found is None or not job_account:
        return None
    labels = {
        LABEL_MANAGED_BY: MANAGED_BY,
        LABEL_COMPONENT: "scan-grant",
        LABEL_ACCOUNT: label_value(name),
        LABEL_SCAN_ID: scan,
    }
    subject = (job_namespace(svc, tenant), job_account)
    svc.kube.grant_secret_read(tenant, current, secret=found[1].name, subject=subject, labels=labels)
    return current


def delete_jobs(svc: PolicyRuns, namespace: str, names: list[str]) -> None:
    for name in names:
        try:
            svc.kube.delete_job(namespace, name)
        except ApiError as exc:
            log.warning("could not delete scan job %s/%s: %s", namespace, name, exc.reason)


def merge(
    svc: PolicyRuns,
    policy: ScanPolicy,
    *,
    account: CloudAccount,
    scan: str,
    shards: list[str],
    started: datetime,
) -> ScanOutcome:
    """The shards' results, read back from the store, as one outcome of the account's scan."""
    tenant, name = account.metadata.namespace, account.metadata.name
    shard_ids = {shard_record_id(scan, r) for r in shards}
    records = [s for s in svc.store.scans(tenant, account_name=name) if s.id in shard_ids]
    if len(records) != len(shard_ids):
        raise ShardFailedError(
            "ShardResultMissing",
            f"{len(shard_ids) - len(records)} scan job(s) finished but their results are not in the "
            "operator's store: the Jobs and the operator must share it (CLOUDIOS_DATABASE_URL).",
        )
    found = [f.finding for f in svc.store.findings(tenant, account_name=name) if f.last_scan_id in shard_ids]
    api_calls: Counter[str] = Counter()
    for record in records:
        api_calls.update(record.api_calls)
    record = ScanRecord(
        id=scan,
        tenant=tenant,
        account_name=name,
        policy_name=policy.metadata.name,
        provider=account.spec.provider.value,
        account_id=account.spec.account_id,
        started_at=started,
        finished_at=max((r.finished_at for r in records), default=datetime.now(UTC)),
        modules=tuple(sorted({m for r in records for m in r.modules})),
        api_calls=dict(api_calls),
        resources=sum(r.resources for r in records),
    )
    ordered = sorted(
        found,
        key=lambda f: (
            f.monthly_savings is None,
            -(f.monthly_savings.amount if f.monthly_savings else 0),
            f.id,
        ),
    )
    unpriced = [f for f in ordered if f.monthly_savings is None]
    # The shards are the account's (run): together they cover its regions.
    return ScanOutcome(
        record=record, findings=ordered, unpriced=unpriced, regions=covered_regions(account.spec, None)
    )


async def run(svc: PolicyRuns, policy: ScanPolicy, account: CloudAccount, started: datetime) -> ScanOutcome:
    """Create the shard Jobs (idempotent), wait for them all, merge; a failed shard raises ShardFailedError.

    The caller bounds the wait (CLOUDIOS_SCAN_TIMEOUT_SECONDS); Jobs of a run that timed out are deleted.
    """
    shards = [shard.name for shard in registry.get(account.spec.provider).shards(account.spec)]
    if not shards:
        raise ShardFailedError("NoShards", "the account has nothing to scan (no regions or shards listed)")
    name = account.metadata.name
    namespace = job_namespace(svc, account.metadata.namespace)
    scan = scan_id(policy, name, started)
    manifests = [job_manifest(svc, policy, account, r, scan) for r in shards]
    grant = await asyncio.to_thread(grant_secret, svc, account, scan)
    names = [m["metadata"]["name"] for m in manifests]
    for manifest in manifests:
        await asyncio.to_thread(ensure_job, svc, manifest)
    log.info(
        "scan %s of %s/%s: %d job(s) in %s for shards %s",
        scan,
        account.metadata.namespace,
        name,
        len(names),
        namespace,
        ", ".join(shards),
    )
    try:
        pending = dict(zip(names, shards, strict=True))
        while pending:
            for job, shard in list(pending.items()):
                state, reason, message = await asyncio.to_thread(job_state, svc, namespace, job)
                if state == "Failed":
                    raise ShardFailedError(reason, f"scan job {job} (shard {shard}) failed: {message}")
                if state == "Complete":
                    del pending[job]
            if pending:
                await asyncio.sleep(POLL_SECONDS)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(delete_jobs, svc, namespace, names))
        raise
    finally:
        if grant is not None:
            await asyncio.shield(asyncio.to_thread(svc.kube.revoke_grant, account.metadata.namespace, grant))
    return await asyncio.to_thread(
        merge, svc, policy, account=account, scan=scan, shards=shards, started=started
    )
