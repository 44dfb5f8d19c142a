"""Operator logic without a cluster: settings, conditions, schedules, Recommendations, Secrets, retention."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from cloudios.api import CloudAccountSpec, SecretKeyRef
from cloudios.domain import Action, Category, Confidence, Finding, Money, Provider, ScanRecord, StoredFinding
from cloudios.providers.aws.credentials import AwsBaseCredentials
from cloudios.providers.base import ProviderError
from cloudios.services import account_identity, credentials, retention, schedule
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.sinks import conditions, recommendation_objects
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import SecretUnreadableError
from cloudios.sinks.recommendation_objects import PolicyRef, label_value, object_name, plan
from cloudios.store import SqlRepository
from cloudios.store.health import HealthCheckRecord

T0 = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)
POLICY = PolicyRef("team-a", "daily", "uid-1")


# -- settings ----------------------------------------------------------------------------------


def test_settings_defaults_and_chart_names() -> None:
    s = OperatorSettings.from_env({})
    assert s.clusterwide
    assert s.probe.interval_seconds == 900
    assert s.scan.scheduler_interval_seconds == 30
    assert s.webhook.managed is None
    chart = OperatorSettings.from_env(
        {
            "CLOUDIOS_NAMESPACES": "team-a, team-b",
            "CLOUDIOS_SCAN_EXECUTOR": "inProcess",
            "CLOUDIOS_PEERING": "",
            "CLOUDIOS_PEERING_PRIORITY": "",
            "CLOUDIOS_LOG_LEVEL": "info",
            "CLOUDIOS_WEBHOOK_CERT_DIR": "/etc/tls",
        }
    )
    assert chart.namespaces == ("team-a", "team-b")
    assert chart.peering.name is None
    assert chart.log.level == "INFO"
    assert chart.webhook.files() == (
        Path("/etc/tls/tls.crt"),
        Path("/etc/tls/tls.key"),
        Path("/etc/tls/tls.crt"),
    )


def test_settings_priorities_are_random_unless_set() -> None:
    priorities = {OperatorSettings.from_env({}).peering.priority for _ in range(20)}
    assert len(priorities) == 20
    assert OperatorSettings.from_env({"CLOUDIOS_PEERING_PRIORITY": "7"}).peering.priority == 7


@pytest.mark.parametrize(
    ("env", "named"),
    [
        ({"CLOUDIOS_EXECUTOR": "job"}, "CLOUDIOS_EXECUTOR"),
        ({"CLOUDIOS_HEALTH_INTERVAL_SECONDS": "-1"}, "CLOUDIOS_HEALTH_INTERVAL_SECONDS"),
        ({"CLOUDIOS_LOG_FORMAT": "xml"}, "CLOUDIOS_LOG_FORMAT"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        OperatorSettings.from_env(env)


# -- conditions --------------------------------------------------------------------------------


def test_transition_time_moves_only_when_status_changes() -> None:
    first, moved = conditions.merge(
        [], [Observation("Ready", "False", "SecretNotFound", "x")], generation=1, now=T0
    )
    assert [t.new.reason for t in moved] == ["SecretNotFound"]
    later = T0 + timedelta(hours=1)
    same, moved = conditions.merge(
        first, [Observation("Ready", "False", "SecretNotFound", "y")], generation=2, now=later
    )
    assert same[0].last_transition_time == T0
    assert same[0].message == "y"
    assert same[0].observed_generation == 2
    assert moved == []
    other, moved = conditions.merge(
        same, [Observation("Ready", "False", "AccountMismatch", "z")], generation=2, now=later
    )
    assert other[0].last_transition_time == T0  # reason changed, status did not
    assert [t.new.reason for t in moved] == ["AccountMismatch"]
    fixed, _ = conditions.merge(
        other, [Observation("Ready", "True", "CredentialsVerified")], generation=2, now=later
    )
    assert fixed[0].last_transition_time == later


def test_condition_messages_are_redacted() -> None:
    merged, _ = conditions.merge(
        [], [Observation("Ready", "False", "X", "key AKIAABCDEFGHIJKLMNOP leaked")], generation=1, now=T0
    )
    assert "AKIAABCDEFGHIJKLMNOP" not in merged[0].message
    dumped = conditions.dump(merged)[0]
    assert set(dumped) == {"type", "status", "reason", "message", "lastTransitionTime", "observedGeneration"}


# -- schedules ---------------------------------------------------------------------------------


def test_first_run_at_once_then_by_cron() -> None:
    assert schedule.is_due("0 6 * * *", None, T0)
    assert not schedule.is_due("0 6 * * *", T0, T0 + timedelta(hours=23))
    assert schedule.is_due("0 6 * * *", T0, T0 + timedelta(days=1))
    assert schedule.run_now_request({schedule.RUN_NOW: "1"}) == "1"
    assert schedule.run_now_request({schedule.RUN_NOW: "1", schedule.RUN_NOW_HANDLED: "1"}) is None
    assert schedule.parse_time("2026-11-01T06:00:00Z") == T0


# -- Recommendation objects --------------------------------------------------------------------


def stored(
    resource: str, savings: str, *, module: str = "aws.ec2.idle", resolved: datetime | None = None
) -> StoredFinding:
    finding = Finding(
        id=Finding.make_id(Provider.AWS, "111111111111", "us-east-1", resource, module),
        provider=Provider.AWS,
        account_id="111111111111",
        region="us-east-1",
        resource_type="ec2.instance",
        resource_id=resource,
        module=module,
        category=Category.IDLE,
        action=Action.STOP,
        title=f"stop {resource}",
        confidence=Confidence.HIGH,
        evidence={"days": 14},
        monthly_savings=Money(amount=Decimal(savings)),
        price_basis="list",
    )
    return StoredFinding("team-a", "prod", finding, T0, T0, resolved, "scan-1")


def applied(result: recommendation_objects.Plan, existing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the cluster holds after a plan is carried out (enough for the planner's inputs)."""
    by_name = {o["metadata"]["name"]: o for o in existing}
    for body, status in result.create:
        by_name[body["metadata"]["name"]] = {**body, "status": status}
    for name, _ops, status_patch in result.patch:
        if status_patch:
            merged = {**by_name[name].get("status", {}), **status_patch}
            by_name[name]["status"] = {k: v for k, v in merged.items() if v is not None}
    for name in result.delete:
        by_name.pop(name)
    return list(by_name.values())


def test_names_are_stable_dns_labels() -> None:
    s = stored("i-1", "10", module="aws.ec2.previous_generation")
    name = object_name(s.finding.module, s.finding.id)
    assert name == f"aws-ec2-previous-generation-{s.finding.id[:12]}"
    assert len(name) <= 63
    long = "a" * 100
    assert len(label_value(long)) <= 63
    assert label_value(long) != label_value(long + "b")
    assert label_value("prod") == "prod"


def test_plan_publishes_top_findings_then_is_a_no_op() -> None:
    found = [stored(f"i-{n}", str(n)) for n in range(1, 8)]
    first = plan(POLICY, found, [], cap=3, floor=Decimal(2))
    created = [b["spec"]["resourceId"] for b, _ in first.create]
    assert created == ["i-7", "i-6", "i-5"]
    body, status = first.create[0]
    assert body["metadata"]["labels"]["cloudios.io/policy"] == "daily"
    assert body["metadata"]["ownerReferences"][0]["uid"] == "uid-1"
    assert body["spec"]["monthlySavings"] == {"amount": "7", "currency": "USD"}
    assert "decision" not in body["spec"]
    assert status["state"] == "Proposed"
    again = plan(POLICY, found, applied(first, []), cap=3, floor=Decimal(2))
    assert again.empty


def test_plan_resolves_keeps_decisions_and_prunes() -> None:
    found = [stored("i-1", "30"), stored("i-2", "20"), stored("i-3", "10")]
    cluster = applied(plan(POLICY, found, [], cap=3, floor=Decimal(0)), [])
    decided = next(o for o in cluster if o["spec"]["resourceId"] == "i-3")
    decided["spec"]["decision"] = {"type": "Dismissed", "decidedBy": "alice"}
    decided["status"]["state"] = "Dismissed"
    # i-1 went away; i-4 is new and bigger than i-2 and i-3, so with cap 2 they drop out of the top.
    later = [stored("i-1", "30", resolved=T0 + timedelta(days=1)), stored("i-2", "20"), stored("i-3", "10"),
             stored("i-4", "50"), stored("i-5", "40")]  # fmt: skip
    result = plan(POLICY, later, cluster, cap=2, floor=Decimal(0))
    names = {o["spec"]["resourceId"]: o["metadata"]["name"] for o in cluster}
    assert [b["spec"]["resourceId"] for b, _ in result.create] == ["i-4", "i-5"]
    assert result.delete == [names["i-2"]]  # still open, out of the top, nobody decided: removed
    patches = {name: status for name, _ops, status in result.patch}
    assert patches[names["i-1"]]["state"] == "Resolved"
    assert patches[names["i-1"]]["resolvedAt"]
    assert names["i-3"] not in patches or "state" not in (patches[names["i-3"]] or {})  # decision kept


def test_spec_patch_never_touches_the_decision() -> None:
    s = stored("i-1", "10")
    want = recommendation_objects.desired_object(s, POLICY)
    have = {**want, "spec": {**want["spec"], "title": "old", "decision": {"type": "Approved"}, "stale": 1}}
    ops = recommendation_objects.spec_patch(have, want)
    paths = {op["path"] for op in ops}
    assert paths == {"/spec/title", "/spec/stale"}
    assert not any("decision" in p for p in paths)


# -- Secrets -----------------------------------------------------------------------------------


class FakeKube:
    """A stand-in for the Kube client's Secret read (the real one is exercised in the e2e tests)."""

    def __init__(self, secrets_: dict[str, dict[str, str]]) -> None:
        self.secrets = secrets_

    def secret_data(self, namespace: str, name: str, **_: Any) -> dict[str, bytes]:
        if name == "forbidden":
            raise SecretUnreadableError(name, missing=False)
        if name not in self.secrets:
            raise SecretUnreadableError(name, missing=True)
        return {k: v.encode() for k, v in self.secrets[name].items()}


def _aws(ref: SecretKeyRef | None) -> CloudAccountSpec:
    aws = {"accountId": "123456789012", "roleArn": "arn:aws:iam::123456789012:role/r", "externalId": "ext-1"}
    aws |= {"regions": ["us-east-1"]}
    if ref is not None:
        aws["credentialsSecretRef"] = ref.model_dump(by_alias=True, exclude_none=True)
    return CloudAccountSpec.model_validate({"provider": "aws", "aws": aws})


def test_secret_resolution_and_errors_never_show_values() -> None:
    kube: Any = FakeKube(
        {
            "keys": {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "s3cr3t-value"},
            "half": {"aws_access_key_id": "AKIAEXAMPLE"},
            "ini": {
                "credentials": "[default]\naws_access_key_id = AKIAINI\naws_secret_access_key = ini-secret\n"
            },
        }
    )
    creds = credentials.resolve(kube, "team-a", _aws(SecretKeyRef(name="keys")), timeout=5)
    assert isinstance(creds, AwsBaseCredentials)
    assert creds.secret_access_key == "s3cr3t-value"
    assert "s3cr3t-value" not in repr(creds)
    ini = credentials.resolve(kube, "team-a", _aws(SecretKeyRef(name="ini", key="credentials")), timeout=5)
    assert isinstance(ini, AwsBaseCredentials)
    assert ini.access_key_id == "AKIAINI"
    with pytest.raises(ProviderError) as missing:
        credentials.resolve(kube, "team-a", _aws(SecretKeyRef(name="nope")), timeout=5)
    assert missing.value.reason == "SecretNotFound"
    assert "'nope'" in missing.value.message
    assert "spec.aws.credentialsSecretRef" in missing.value.message
    with pytest.raises(ProviderError) as forbidden:
        credentials.resolve(kube, "team-a", _aws(SecretKeyRef(name="forbidden")), timeout=5)
    assert forbidden.value.reason == "SecretForbidden"
    with pytest.raises(ProviderError) as half:
        credentials.resolve(kube, "team-a", _aws(SecretKeyRef(name="half")), timeout=5)
    assert half.value.reason == "SecretKeyMissing"
    assert "AKIAEXAMPLE" not in half.value.message
    assert credentials.resolve(kube, "team-a", _aws(None), timeout=5) is None
    spec = CloudAccountSpec.model_validate({"provider": "kubernetes", "kubernetes": {"clusterName": "c"}})
    assert credentials.resolve(kube, "team-a", spec, timeout=5) is None


# -- retention ---------------------------------------------------------------------------------


def test_retention_purges_old_checks_and_deleted_accounts(tmp_path: Path) -> None:
    repo = SqlRepository.sqlite(tmp_path)
    for name in ("kept", "gone"):
        repo.upsert_account(tenant="team-a", name=name, provider="aws", account_id="111111111111", now=T0)
        repo.record_scan(
            ScanRecord(
                f"s-{name}", "team-a", name, "daily", "aws", "111111111111", T0, T0, ("aws.ec2.idle",), {}, 1
            ),
            [stored(f"i-{name}", "5").finding],
        )
        for days in (0, 40):
            repo.record_health_check(
                HealthCheckRecord("team-a", name, T0 + timedelta(days=days), ok=True, reason="Ok", message="")
            )
    repo.mark_account_deleted(tenant="team-a", name="gone", now=T0 + timedelta(days=1))

    # Just past day 30: the day-0 checks expire; "gone" was deleted on day 1, so its data stays.
    early = retention.purge_once(repo, now=T0 + timedelta(days=30, hours=1), retention_days=30)
    assert early.health_checks == 2
    assert early.accounts == 0
    assert [a.name for a in repo.accounts("team-a", include_deleted=True)] == ["gone", "kept"]
    # A day later "gone" was deleted more than 30 days ago: all its data goes, "kept" stays whole.
    late = retention.purge_once(repo, now=T0 + timedelta(days=31, hours=1), retention_days=30)
    assert (late.accounts, late.scans, late.findings) == (1, 1, 1)
    assert late.health_checks == 1  # gone's day-40 check, with its account
    assert [a.name for a in repo.accounts("team-a", include_deleted=True)] == ["kept"]
    assert {f.account_name for f in repo.findings("team-a")} == {"kept"}
    assert [h.account_name for h in repo.health_checks("team-a")] == ["kept"]
    assert retention.purge_once(repo, now=T0 + timedelta(days=31, hours=1), retention_days=30).accounts == 0


# -- logging -----------------------------------------------------------------------------------


def test_operator_logs_are_json_and_redacted(capsys: pytest.CaptureFixture[str]) -> None:
    from cloudios.controller import runner  # noqa: PLC0415 - imports kopf

    touched = [logging.getLogger(), logging.getLogger("asyncio")]
    saved = [(lg.handlers[:], lg.level, lg.propagate) for lg in touched]
    try:
        runner.configure_logging(OperatorSettings.from_env({"CLOUDIOS_LOG_FORMAT": "json"}))
        logging.getLogger("cloudios.test").warning("assumed the role with AKIAABCDEFGHIJKLMNOP")
    finally:
        for lg, (handlers, level, propagate) in zip(touched, saved, strict=True):
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate = propagate
    err = capsys.readouterr().err
    record = json.loads(err.strip().splitlines()[-1])
    assert record["severity"] == "warn"
    assert "AKIAABCDEFGHIJKLMNOP" not in err
    assert "[REDACTED]" in record["message"]


def test_job_mode_in_a_cluster_needs_its_own_service_account() -> None:
    base = {
        "CLOUDIOS_EXECUTOR": "job",
        "CLOUDIOS_JOB_IMAGE": "img",
        "CLOUDIOS_DATABASE_URL": "postgresql+psycopg://db/cloudios",
        "KUBERNETES_SERVICE_HOST": "10.0.0.1",
        "CLOUDIOS_SERVICE_ACCOUNT": "cloudios",
    }
    with pytest.raises(SettingsError, match="CLOUDIOS_JOB_SERVICE_ACCOUNT"):
        OperatorSettings.from_env(base)
    with pytest.raises(SettingsError, match="not the operator's own"):
        OperatorSettings.from_env({**base, "CLOUDIOS_JOB_SERVICE_ACCOUNT": "cloudios"})
    ok = OperatorSettings.from_env({**base, "CLOUDIOS_JOB_SERVICE_ACCOUNT": "cloudios-scan"})
    assert ok.scan.job.service_account == "cloudios-scan"


def test_the_oldest_object_claims_a_cloud_account() -> None:
    def body(name: str, created: str, account_id: str = "111111111111", **meta: Any) -> dict[str, Any]:
        aws = {"accountId": account_id, "roleArn": f"arn:aws:iam::{account_id}:role/r",
               "externalId": "ext-id", "regions": ["us-east-1"]}  # fmt: skip
        return {"metadata": {"name": name, "creationTimestamp": created, **meta},
                "spec": {"provider": "aws", "aws": aws}}  # fmt: skip

    a, b = body("a", "2026-11-01T00:00:00Z"), body("b", "2026-11-02T00:00:00Z")
    same_time = body("c", "2026-11-01T00:00:00Z")
    other = body("d", "2026-10-01T00:00:00Z", account_id="222222222222")
    claims = [account_identity.claim_of(x) for x in (a, b, same_time, other)]
    assert account_identity.claimed_by(a, claims) is None
    assert account_identity.claimed_by(b, claims) == "a"
    assert account_identity.claimed_by(same_time, claims) == "a"  # a tie goes by name
    assert account_identity.claimed_by(other, claims) is None
    leaving = body("a", "2026-11-01T00:00:00Z", deletionTimestamp="2026-11-29T00:00:00Z")
    renamed = [account_identity.claim_of(x) for x in (leaving, b)]
    assert account_identity.claimed_by(b, renamed) is None  # a rename: the old one is going
    invalid = account_identity.claim_of({"metadata": {"name": "x", "creationTimestamp": "2026"}, "spec": {}})
    assert invalid.identity is None
    assert account_identity.claimed_by(b, [invalid]) is None
    message = account_identity.duplicate("a", b).message
    assert "CloudAccount a (created earlier) already watches aws account 111111111111" in message
