"""executor=job: one Kubernetes Job per (account, region) shard, awaited and merged from the store."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from croniter import croniter
from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from cloudios.api import GROUP, VERSION, CloudAccount, ScanPolicy
from cloudios.controller import schedule
from cloudios.controller.kube import CONFLICT, NOT_FOUND
from cloudios.controller.recommendation_objects import label_value
from cloudios.controller.services import Services
from cloudios.pipeline.scan import ScanOutcome

log = logging.getLogger(__name__)

LABEL_POLICY = "cloudios.io/policy"
LABEL_ACCOUNT = "cloudios.io/account"
LABEL_REGION = "cloudios.io/region"
LABEL_SCAN_ID = "cloudios.io/scan-id"
LABEL_TENANT = "cloudios.io/namespace"
POLL_SECONDS = 1.0
TTL_SECONDS_AFTER_FINISHED = 3600
BACKOFF_LIMIT = 1
# Environment the Jobs inherit from the operator: the store, the AWS endpoint and proxies, logging.
# Never credentials: the job reads the account's referenced Secret through the API, like the operator.
INHERITED_ENV = (
    "CLOUDIOS_DATABASE_URL",
    "CLOUDIOS_DATA_DIR",
    "CLOUDIOS_LOG_FORMAT",
    "CLOUDIOS_LOG_LEVEL",
    "CLOUDIOS_REQUEST_TIMEOUT_SECONDS",
    "AWS_ENDPOINT_URL",
    "AWS_CA_BUNDLE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_STS_REGIONAL_ENDPOINTS",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "NO_PROXY",
)


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


def shard_record_id(scan: str, region: str) -> str:
    """The store's scan id of one shard (36 characters at most)."""
    return f"{scan}-{_digest(region, length=15)}"


def job_name(tenant: str, policy: str, account: str, region: str, scan: str) -> str:
    return f"scan-{_digest(tenant, policy, account, region, scan, length=16)}"


def job_namespace(services: Services, tenant: str) -> str:
    """The operator's own namespace (CLOUDIOS_NAMESPACE, set by the chart); the tenant's outside a pod."""
    return services.settings.pod_namespace or tenant


def _env() -> list[dict[str, Any]]:
    """What the Job inherits from the operator; the job reads the account's Secret itself."""
    return [{"name": name, "value": os.environ[name]} for name in INHERITED_ENV if os.environ.get(name)]


def job_manifest(
    services: Services, policy: ScanPolicy, account: CloudAccount, region: str, scan: str
) -> dict[str, Any]:
    """The Job of one shard: the operator's image and store, restricted pod security, no secret values."""
    settings = services.settings
    tenant, name = policy.metadata.namespace, account.metadata.name
    # Jobs run beside the operator, under its ServiceAccount (which may read the tenant's Secret and
    # objects); a tenant namespace has neither that ServiceAccount nor the right to create one.
    namespace = job_namespace(services, tenant)
    labels = {
        LABEL_TENANT: label_value(tenant),
        LABEL_POLICY: label_value(policy.metadata.name),
        LABEL_ACCOUNT: label_value(name),
        LABEL_REGION: label_value(region),
        LABEL_SCAN_ID: scan,
        "app.kubernetes.io/managed-by": "cloudios",
        "app.kubernetes.io/component": "scan",
    }
    command = ["python", "-m", "cloudios.controller.job", "--namespace", tenant, "--account", name]
    command += ["--policy", policy.metadata.name, "--region", region, "--scan-id", scan]
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
                "image": settings.job_image,
                "command": command,
                "env": _env(),
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
    if settings.service_account:
        pod["serviceAccountName"] = settings.service_account
    metadata: dict[str, Any] = {
        "name": job_name(tenant, policy.metadata.name, name, region, scan),
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
            "activeDeadlineSeconds": int(settings.scan_timeout_seconds),
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }


def _batch(services: Services) -> k8s.BatchV1Api:
    return k8s.BatchV1Api(services.kube.api)


def ensure_job(services: Services, manifest: dict[str, Any]) -> None:
    """Create the Job; 409 means this run (same scan id) created it already: reuse it."""
    meta = manifest["metadata"]
    try:
        _batch(services).create_namespaced_job(
            meta["namespace"],
            manifest,  # type: ignore[arg-type]  # the client sends a plain dict as it is
            _request_timeout=services.kube.timeout,
        )
    except ApiException as exc:
        if exc.status != CONFLICT:
            raise
        log.info("scan job %s/%s exists; reusing it", meta["namespace"], meta["name"])


def job_state(services: Services, namespace: str, name: str) -> tuple[str, str, str]:
    """('Running'|'Complete'|'Failed', reason, message) of one Job."""
    try:
        job = _batch(services).read_namespaced_job_status(
            name, namespace, _request_timeout=services.kube.timeout
        )
    except ApiException as exc:
        if exc.status == NOT_FOUND:
            return "Failed", "ScanJobGone", f"scan job {name} was deleted before it finished"
        raise
    for condition in (job.status.conditions if job.status is not None else None) or []:
        if condition.status != "True":
            continue
        if condition.type == "Complete":
            return "Complete", "", ""
        if condition.type == "Failed":
            return "Failed", condition.reason or "ScanJobFailed", condition.message or "the scan job failed"
    return "Running", "", ""


def delete_jobs(services: Services, namespace: str, names: list[str]) -> None:
    for name in names:
        try:
            _batch(services).delete_namespaced_job(
                name, namespace, propagation_policy="Background", _request_timeout=services.kube.timeout
            )
        except ApiException as exc:
            if exc.status != NOT_FOUND:
                log.warning("could not delete scan job %s/%s: %s", namespace, name, exc.reason)


def merge(
    services: Services,
    policy: ScanPolicy,
    *,
    account: CloudAccount,
    scan: str,
    regions: list[str],
    started: datetime,
) -> ScanOutcome:
    """The shards' results, read back from the store, as one outcome of the account's scan."""
    tenant, name = account.metadata.namespace, account.metadata.name
    shard_ids = {shard_record_id(scan, r) for r in regions}
    records = [s for s in services.store.scans(tenant, account_name=name) if s.id in shard_ids]
    if len(records) != len(shard_ids):
        raise ShardFailedError(
            "ShardResultMissing",
            f"{len(shard_ids) - len(records)} scan job(s) finished but their results are not in the "
            "operator's store: the Jobs and the operator must share it (CLOUDIOS_DATABASE_URL).",
        )
    found = [
        f.finding for f in services.store.findings(tenant, account_name=name) if f.last_scan_id in shard_ids
    ]
    api_calls: Counter[str] = Counter()
    for record in records:
        api_calls.update(record.api_calls)
    return ScanOutcome(
        scan_id=scan,
        tenant=tenant,
        account_name=name,
        policy_name=policy.metadata.name,
        provider=account.spec.provider.value,
        account_id=account.spec.account_id,
        started_at=started,
        finished_at=max((r.finished_at for r in records), default=datetime.now(UTC)),
        modules=sorted({m for r in records for m in r.modules}),
        findings=sorted(found, key=lambda f: (-(f.monthly_savings.amount if f.monthly_savings else 0), f.id)),
        resources=sum(r.resources for r in records),
        api_calls=api_calls,
    )


def regions_of(account: CloudAccount) -> list[str]:
    return list(account.spec.aws.regions) if account.spec.aws is not None else []


async def run(
    services: Services, policy: ScanPolicy, account: CloudAccount, started: datetime
) -> ScanOutcome:
    """Create the shard Jobs (idempotent), wait for them all, merge; a failed shard raises ShardFailedError.

    The caller bounds the wait (CLOUDIOS_SCAN_TIMEOUT_SECONDS); Jobs of a run that timed out are deleted.
    """
    regions = regions_of(account)
    if not regions:
        raise ShardFailedError(
            "NoRegions", "executor=job scans AWS accounts region by region; none are listed"
        )
    name = account.metadata.name
    namespace = job_namespace(services, account.metadata.namespace)
    scan = scan_id(policy, name, started)
    manifests = [job_manifest(services, policy, account, r, scan) for r in regions]
    names = [m["metadata"]["name"] for m in manifests]
    for manifest in manifests:
        await asyncio.to_thread(ensure_job, services, manifest)
    log.info(
        "scan %s of %s/%s: %d job(s) in %s for regions %s",
        scan,
        account.metadata.namespace,
        name,
        len(names),
        namespace,
        ", ".join(regions),
    )
    try:
        pending = dict(zip(names, regions, strict=True))
        while pending:
            for job, region in list(pending.items()):
                state, reason, message = await asyncio.to_thread(job_state, services, namespace, job)
                if state == "Failed":
                    raise ShardFailedError(reason, f"scan job {job} (region {region}) failed: {message}")
                if state == "Complete":
                    del pending[job]
            if pending:
                await asyncio.sleep(POLL_SECONDS)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(delete_jobs, services, namespace, names))
        raise
    return await asyncio.to_thread(
        merge, services, policy, account=account, scan=scan, regions=regions, started=started
    )
