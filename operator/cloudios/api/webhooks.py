"""Webhook payloads, version 1: one envelope per event type; the JSON Schemas in docs/webhooks/."""

# Receivers dispatch on "type" and "version". A field is never removed or changed in meaning within a
# version; additions are allowed (receivers ignore unknown fields), anything else is version 2.
# The models are the single source of docs/webhooks/*.schema.json (tools/gen_webhook_schemas.py).

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

EventType = Literal[
    "scan.completed",
    "scan.failed",
    "recommendation.created",
    "recommendation.decided",
    "account.credentials_invalid",
    "recommendation.regressed",
]
EVENT_TYPES: tuple[EventType, ...] = (
    "scan.completed",
    "scan.failed",
    "recommendation.created",
    "recommendation.decided",
    "account.credentials_invalid",
    "recommendation.regressed",
)
VERSION = 1


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Amount(_Model):
    """Money: a decimal string and an ISO 4217 currency."""

    amount: str = Field(pattern=r"^-?\d+(\.\d+)?$", description="Decimal string, e.g. '12.34'.")
    currency: str = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code.")


class PolicyRef(_Model):
    namespace: str = Field(description="The ScanPolicy's namespace (the tenant).")
    name: str = Field(description="The ScanPolicy's name.")


class AccountOutcome(_Model):
    name: str = Field(description="The CloudAccount's name.")
    outcome: Literal["Succeeded", "Failed", "Skipped"]
    reason: str = Field(default="", description="CamelCase reason of a failure or skip.")
    findings: int = Field(default=0, ge=0)


class ScanCompletedData(_Model):
    policy: PolicyRef
    run_time: datetime = Field(description="When the run started (status.lastRunTime).")
    accounts: list[AccountOutcome]
    open_findings: int = Field(ge=0)
    potential_monthly_savings: Amount | None = None
    counts: dict[str, int] = Field(default_factory=dict, description="Open findings by category.")
    recommendations_created: int = Field(ge=0)


class ScanFailedData(_Model):
    policy: PolicyRef
    run_time: datetime
    accounts: list[AccountOutcome] = Field(description="The accounts that failed, with their reasons.")
    message: str = Field(description="Redacted summary of what failed and what to do next.")


class RecommendationData(_Model):
    policy: PolicyRef
    recommendation: str = Field(description="Name of the Recommendation object.")
    account: str = Field(description="The CloudAccount's name.")
    provider: str
    region: str
    resource_type: str
    resource_id: str
    module: str
    category: str
    confidence: str
    monthly_savings: Amount | None = None
    tags: dict[str, str] = Field(
        default_factory=dict,
        description="Only tags whose keys are on the operator's allow-list (CLOUDIOS_NOTIFY_TAG_ALLOW_LIST).",
    )


class DecisionData(_Model):
    policy: PolicyRef
    recommendation: str
    decision: Literal["Approved", "Dismissed"]
    state: str = Field(description="The Recommendation's status.state after the decision.")


class CredentialsInvalidData(_Model):
    policy: PolicyRef = Field(
        description="The policy whose notifications announce it (one event per policy)."
    )
    account: str
    provider: str
    reason: str = Field(description="CamelCase reason of the failed credential check.")
    message: str = Field(description="Redacted message saying what to fix.")


class RegressionSignal(_Model):
    """One post-change signal of harm."""

    signal: str = Field(description="CpuSaturated, MemoryPressure, OOMKilled or CpuAboveRequest.")
    resource: str = Field(description="The resource (or container) it was seen on.")
    day: str | None = Field(default=None, description="The latest day it was seen (UTC date).")
    first_day: str | None = Field(default=None, description="The first day it was seen after the change.")
    days: int | None = Field(default=None, ge=1, description="Days it was seen on.")
    value: str | None = Field(default=None, description="The worst value, as a decimal string.")
    threshold: str | None = Field(default=None, description="The threshold it crossed, as a decimal string.")
    unit: str | None = None
    at: datetime | None = Field(default=None, description="When it happened (OOM kills).")


class RegressedData(_Model):
    policy: PolicyRef
    recommendation: str = Field(description="Name of the Recommendation object.")
    account: str = Field(description="The CloudAccount's name.")
    module: str
    resource_id: str
    state: str = Field(description="The Recommendation's status.state (Applied or Verified).")
    applied_at: datetime | None = Field(default=None, description="When the change was first seen.")
    signals: list[RegressionSignal] = Field(description="The evidence, as in status.outcome.regressions.")
    evidence_hash: str = Field(description="sha256 of the canonical evidence, as in the audit log.")


class _Envelope(_Model):
    version: Literal[1] = Field(default=1, description="Payload version; see docs/webhooks.md.")
    timestamp: datetime = Field(description="When the event happened (not when it was delivered).")


class ScanCompleted(_Envelope):
    type: Literal["scan.completed"] = "scan.completed"
    data: ScanCompletedData


class ScanFailed(_Envelope):
    type: Literal["scan.failed"] = "scan.failed"
    data: ScanFailedData


class RecommendationCreated(_Envelope):
    type: Literal["recommendation.created"] = "recommendation.created"
    data: RecommendationData


class RecommendationDecided(_Envelope):
    type: Literal["recommendation.decided"] = "recommendation.decided"
    data: DecisionData


class CredentialsInvalid(_Envelope):
    type: Literal["account.credentials_invalid"] = "account.credentials_invalid"
    data: CredentialsInvalidData


class RecommendationRegressed(_Envelope):
    type: Literal["recommendation.regressed"] = "recommendation.regressed"
    data: RegressedData


Event = (
    ScanCompleted
    | ScanFailed
    | RecommendationCreated
    | RecommendationDecided
    | CredentialsInvalid
    | RecommendationRegressed
)
MODELS: dict[EventType, type[Event]] = {
    "scan.completed": ScanCompleted,
    "scan.failed": ScanFailed,
    "recommendation.created": RecommendationCreated,
    "recommendation.decided": RecommendationDecided,
    "account.credentials_invalid": CredentialsInvalid,
    "recommendation.regressed": RecommendationRegressed,
}


def schema(event: EventType) -> dict[str, object]:
    """The JSON Schema (2020-12) of one event's payload, as docs/webhooks/<event>.schema.json."""
    found = MODELS[event].model_json_schema(by_alias=True, mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://cloudios.io/schemas/webhooks/v{VERSION}/{event}.schema.json",
        **found,
    }
