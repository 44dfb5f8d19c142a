"""Webhook payloads: valid against the committed JSON Schemas, allow-listed tags, redacted secrets."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import jsonschema
import pytest

from cloudios.api import webhooks
from cloudios.api.webhooks import PolicyRef
from cloudios.domain import Finding, SavingsSummary, StoredFinding
from cloudios.domain.closed_loop import Baseline, LoopRecord
from cloudios.domain.enums import Action, Category, Confidence, Provider
from cloudios.domain.money import Money
from cloudios.services import notification_events
from tests.support import tools

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
REF = PolicyRef(namespace="team-a", name="nightly")
TAG_CANARY = "canary-tag-value-7f3a9c"
AWS_KEY_CANARY = "AKIAIOSFODNN7CANARY1"
JWT_CANARY = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnkifQ.c2lnbmF0dXJlY2FuYXJ5MTIzNDU2Nzg"


def stored(**overrides: object) -> StoredFinding:
    values: dict[str, object] = {
        "id": Finding.make_id(Provider.AWS, "111111111111", "us-east-1", "i-0abc", "aws.ec2.idle"),
        "provider": Provider.AWS,
        "account_id": "111111111111",
        "region": "us-east-1",
        "resource_type": "ec2.instance",
        "resource_id": "i-0abc",
        "resource_name": "billing-db",
        "module": "aws.ec2.idle",
        "category": Category.IDLE,
        "action": Action.STOP,
        "title": "stop",
        "confidence": Confidence.HIGH,
        "monthly_savings": Money(amount=Decimal("12.50"), currency="USD"),
        "price_basis": "list",
        "evidence": {
            "tags": {
                "team": "payments",
                "secret-project": TAG_CANARY,
                "environment": f"prod {AWS_KEY_CANARY}",
            },
            "note": f"token={JWT_CANARY}",
        },
    }
    values.update(overrides)
    return StoredFinding("team-a", "prod", Finding.model_validate(values), T0, T0, None, "scan-1")


def events() -> list[notification_events.PendingEvent]:
    found = notification_events.scan_events(
        ref=REF,
        run_time=T0,
        runs=[("prod", "Succeeded", "", 1), ("dev", "Failed", "CredentialsInvalid", 0)],
        savings=SavingsSummary.of([stored().finding]),
        recommendations_created=1,
        failure_message=f"dev: AccessDenied with key {AWS_KEY_CANARY} and Bearer {JWT_CANARY}",
    )
    found.append(
        notification_events.recommendation_created(
            ref=REF, name="aws-ec2-idle-abc", stored=stored(), allow_list=("team", "environment"), now=T0
        )
    )
    found.append(
        notification_events.recommendation_decided(
            ref=REF,
            name="aws-ec2-idle-abc",
            decision="Approved",
            state="Approved",
            decided_key="uid/Approved",
            now=T0,
        )
    )
    found.append(
        notification_events.credentials_invalid(
            ref=REF,
            account="dev",
            provider="aws",
            reason="AccessDenied",
            message=f"AssumeRole failed for {AWS_KEY_CANARY}",
            now=T0,
            key="uid/never",
        )
    )
    found.append(notification_events.recommendation_regressed(
        ref=REF, name="aws-ec2-rightsize-abc", state="Applied", record=regressed_record(), now=T0
    ))  # fmt: skip
    return found


def regressed_record() -> LoopRecord:
    finding = stored(resource_id=f"i-0abc {AWS_KEY_CANARY}").finding
    return LoopRecord(
        tenant="team-a",
        account_name="prod",
        finding_id=finding.id,
        module="aws.ec2.rightsize",
        state="Applied",
        baseline=Baseline(finding=finding, recorded_at=T0),
        applied_at=T0,
        regressions=[
            {
                "signal": "CpuSaturated",
                "resource": "i-0abc",
                "day": "2026-12-03",
                "value": 97.0,
                "threshold": 90.0,
                "unit": "percent",
                "firstDay": "2026-12-01",
                "days": 3,
            },
            {"signal": "OOMKilled", "resource": "shop/Deployment/web/app", "at": "2026-12-02T03:00:00+00:00"},
        ],
        regressed_at=T0,
        evidence_hash="0" * 64,
    )


def test_every_event_type_is_built_and_valid_against_its_committed_schema() -> None:
    built = events()
    assert {e.type for e in built} == set(webhooks.EVENT_TYPES)
    for event in built:
        schema = json.loads((ROOT / "docs" / "webhooks" / f"{event.type}.schema.json").read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        document = json.loads(event.body())
        jsonschema.validate(document, schema)
        assert (document["type"], document["version"]) == (event.type, webhooks.VERSION)


def test_committed_schemas_are_generated_from_the_models() -> None:
    for path, text in tools.load_tool("gen_docs").webhook_schemas().items():
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run python tools/gen_docs.py"


def test_canaries_never_leave_tags_off_the_allow_list_and_secrets_are_redacted() -> None:
    bodies = "\n".join(e.body() for e in events())
    assert TAG_CANARY not in bodies
    assert AWS_KEY_CANARY not in bodies
    assert JWT_CANARY not in bodies
    assert "billing-db" not in bodies  # the resource name is its Name tag: not on the allow-list
    created = next(json.loads(e.body()) for e in events() if e.type == "recommendation.created")
    assert created["data"]["tags"]["team"] == "payments"
    assert set(created["data"]["tags"]) == {"team", "environment"}
    assert "evidence" not in created["data"]


def test_the_name_tag_leaves_only_when_allowed() -> None:
    event = notification_events.recommendation_created(
        ref=REF, name="x", stored=stored(), allow_list=("Name",), now=T0
    )
    assert json.loads(event.body())["data"]["tags"] == {"Name": "billing-db"}


@pytest.mark.parametrize("event", webhooks.EVENT_TYPES)
def test_same_event_same_key_and_body(event: str) -> None:
    first = {e.type: (e.key, e.body()) for e in events()}
    second = {e.type: (e.key, e.body()) for e in events()}
    assert first[event] == second[event]
