"""Webhook payloads from what a run, a decision or a credential check produced: allow-listed, redacted.

Only the fields of the cloudios.api.webhooks models leave, each built here from named values (never
a finding's evidence, current or proposed maps); tags only when their key is on the operator's
allow-list; and the whole body passes ``redact()`` before it is stored in the outbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudios.api import webhooks
from cloudios.api.webhooks import (
    AccountOutcome,
    Amount,
    EventType,
    PolicyRef,
)
from cloudios.domain import SavingsSummary, StoredFinding
from cloudios.domain.closed_loop import LoopRecord
from cloudios.domain.money import Money
from cloudios.security.redaction import redact

MESSAGE_MAX = 1024
NAME_TAG = "Name"  # a resource's name usually is its Name tag: it leaves only when that key is allowed


@dataclass(frozen=True)
class PendingEvent:
    """An event before it is addressed to destinations; ``key`` makes its webhook-id deterministic."""

    type: EventType
    key: str
    payload: webhooks.Event

    def body(self) -> str:
        """The exact JSON that is stored, signed and sent: redacted, compact, keys in model order."""
        document = self.payload.model_dump(mode="json", by_alias=True, exclude_none=True)
        return json.dumps(redact(document), separators=(",", ":"), ensure_ascii=False)


def _amount(money: Money | None) -> Amount | None:
    return None if money is None else Amount(amount=str(money.amount), currency=money.currency)


def _text(value: str) -> str:
    return redact(value)[:MESSAGE_MAX]


def allowed_tags(tags: Any, allow_list: Iterable[str]) -> dict[str, str]:
    """The tags whose key is on the allow-list (exact, case-sensitive); every other value is dropped."""
    if not isinstance(tags, Mapping):
        return {}
    allowed = set(allow_list)
    return {str(k): _text(str(v)) for k, v in tags.items() if str(k) in allowed}


def scan_events(
    *,
    ref: PolicyRef,
    run_time: datetime,
    runs: Sequence[tuple[str, str, str, int]],
    savings: SavingsSummary,
    recommendations_created: int,
    failure_message: str,
) -> list[PendingEvent]:
    """scan.completed for every run; scan.failed too when accounts failed. ``runs``: (account,
    outcome, reason, findings) of the accounts the run selected."""
    stamp = run_time.isoformat()
    accounts = [AccountOutcome(name=n, outcome=o, reason=r, findings=f) for n, o, r, f in runs]
    completed = webhooks.ScanCompleted(
        timestamp=run_time,
        data=webhooks.ScanCompletedData(
            policy=ref,
            run_time=run_time,
            accounts=accounts,
            open_findings=savings.findings,
            potential_monthly_savings=_amount(savings.money),
            counts=dict(savings.counts),
            recommendations_created=recommendations_created,
        ),
    )
    events = [PendingEvent("scan.completed", stamp, completed)]
    failed = [a for a in accounts if a.outcome == "Failed"]
    if failed:
        payload = webhooks.ScanFailed(
            timestamp=run_time,
            data=webhooks.ScanFailedData(
                policy=ref, run_time=run_time, accounts=failed, message=_text(failure_message)
            ),
        )
        events.append(PendingEvent("scan.failed", stamp, payload))
    return events


def recommendation_created(
    *, ref: PolicyRef, name: str, stored: StoredFinding, allow_list: Iterable[str], now: datetime
) -> PendingEvent:
    """One new Recommendation object; keyed by its name and when the finding was first seen, so
    publishing again gives the same id and a finding that comes back gives a new one."""
    f = stored.finding
    tags = allowed_tags(f.evidence.get("tags") or f.current.get("tags"), allow_list)
    if NAME_TAG in set(allow_list) and f.resource_name:
        tags.setdefault(NAME_TAG, _text(str(f.resource_name)))
    payload = webhooks.RecommendationCreated(
        timestamp=now,
        data=webhooks.RecommendationData(
            policy=ref,
            recommendation=name,
            account=stored.account_name,
            provider=str(f.provider),
            region=f.region,
            resource_type=f.resource_type,
            resource_id=_text(f.resource_id),
            module=f.module,
            category=str(f.category),
            confidence=str(f.confidence),
            monthly_savings=_amount(f.monthly_savings),
            tags=tags,
        ),
    )
    return PendingEvent("recommendation.created", f"{name}/{stored.first_seen.isoformat()}", payload)


def recommendation_decided(
    *, ref: PolicyRef, name: str, decision: str, state: str, decided_key: str, now: datetime
) -> PendingEvent:
    """A decision the operator applied; ``decided_key`` (the object's uid and the decision) keeps
    one id per decision however often the object is reconciled."""
    payload = webhooks.RecommendationDecided(
        timestamp=now,
        data=webhooks.DecisionData(policy=ref, recommendation=name, decision=decision, state=state),
    )
    return PendingEvent("recommendation.decided", decided_key, payload)


def recommendation_regressed(
    *, ref: PolicyRef, name: str, state: str, record: LoopRecord, now: datetime
) -> PendingEvent:
    """A Regressed condition a publish raised on Recommendation ``name``; keyed by the object and when
    it regressed, so it is announced once however often the policy publishes."""
    signals = [
        webhooks.RegressionSignal(
            signal=str(r.get("signal")),
            resource=_text(str(r.get("resource", ""))),
            day=r.get("day"),
            first_day=r.get("firstDay"),
            days=r.get("days"),
            value=None if r.get("value") is None else str(r["value"]),
            threshold=None if r.get("threshold") is None else str(r["threshold"]),
            unit=r.get("unit"),
            at=r.get("at"),
        )
        for r in record.regressions
    ]
    finding = record.baseline.finding
    payload = webhooks.RecommendationRegressed(
        timestamp=record.regressed_at or now,
        data=webhooks.RegressedData(
            policy=ref,
            recommendation=name,
            account=record.account_name,
            module=record.module,
            resource_id=_text(finding.resource_id),
            state=state,
            applied_at=record.applied_at,
            signals=signals,
            evidence_hash=record.evidence_hash,
        ),
    )
    return PendingEvent("recommendation.regressed", f"{name}/{record.regressed_at}", payload)


def credentials_invalid(
    *, ref: PolicyRef, account: str, provider: str, reason: str, message: str, now: datetime, key: str
) -> PendingEvent:
    """A CloudAccount's credential check turned False; ``key`` names the valid period that ended
    (the account's uid and when CredentialsValid last changed), so one outage is one event."""
    payload = webhooks.CredentialsInvalid(
        timestamp=now,
        data=webhooks.CredentialsInvalidData(
            policy=ref, account=account, provider=provider, reason=reason, message=_text(message)
        ),
    )
    return PendingEvent("account.credentials_invalid", key, payload)
