"""Recommendation: one top finding published by the operator, which users approve or dismiss."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from cloudios.api.closed_loop import Outcome, RealizedSavings
from cloudios.api.common import ApiModel, Condition, ObjectMeta
from cloudios.api.verifier import VerifierVerdict
from cloudios.domain.enums import Action, Category, Confidence, Provider
from cloudios.domain.money import Money

MODULE_NAME_PATTERN = r"^[a-z0-9]+(\.[a-z0-9_]+)+$"

RecommendationState = Literal[
    "Proposed", "Approved", "Applied", "Verified", "Dismissed", "Expired", "Resolved"
]
DecisionType = Literal["Approved", "Dismissed"]
PriceBasis = Literal["list", "effective"]


class LocalObjectReference(ApiModel):
    """A reference to another Cloudios object in the same namespace."""

    name: str = Field(min_length=1, max_length=253, description="Name of the object in this namespace.")


class Decision(ApiModel):
    """A user's verdict on a recommendation; the only part of a Recommendation users write."""

    type: DecisionType = Field(
        description="Approved (the change will be made, then verified) or Dismissed (hide it; "
        "later scans keep it dismissed)."
    )
    reason: str | None = Field(
        default=None, max_length=1024, description="Why; shown in the audit log and to other reviewers."
    )
    decided_by: str | None = Field(
        default=None,
        max_length=512,
        description="Who decided. Set by the admission webhook from the authenticated request; "
        "a value sent by a user is replaced, so it cannot be forged.",
    )
    decided_at: datetime | None = Field(
        default=None,
        description="When the decision was made. Set by the admission webhook; a value sent by a user "
        "is replaced, so it cannot be forged.",
    )


class RecommendationSpec(ApiModel):
    """The finding as the operator published it, plus the user's decision."""

    account_ref: LocalObjectReference = Field(description="The CloudAccount the resource belongs to.")
    policy_ref: LocalObjectReference = Field(description="The ScanPolicy whose scan produced this finding.")
    finding_id: str = Field(
        min_length=1,
        max_length=64,
        description="Stable finding ID: the same resource and module give the same ID across scans.",
    )
    provider: Provider = Field(description="aws, gcp, azure or kubernetes.")
    account_id: str = Field(
        min_length=1,
        max_length=128,
        description="The provider's account identifier: AWS account, GCP project, Azure subscription "
        "or cluster name.",
    )
    region: str = Field(max_length=64, description="Region or location of the resource, e.g. us-east-1.")
    resource_type: str = Field(
        min_length=1, max_length=128, description="Kind of resource, e.g. ec2.instance or ebs.volume."
    )
    resource_id: str = Field(
        min_length=1, max_length=2048, description="Provider ID of the resource, e.g. i-0abc123 or an ARN."
    )
    resource_name: str | None = Field(
        default=None, max_length=512, description="Human name of the resource (e.g. its Name tag), if any."
    )
    module: str = Field(
        pattern=MODULE_NAME_PATTERN,
        max_length=128,
        description="Module that produced the finding, e.g. aws.ec2.idle.",
    )
    category: Category = Field(
        description="Finding category: idle, rightsize, orphaned, modernize, schedule or commitment."
    )
    action: Action = Field(description="What to do to the resource: delete, stop, release, resize or modify.")
    title: str = Field(min_length=1, max_length=512, description="One-line summary of the recommendation.")
    confidence: Confidence = Field(
        description="high, medium or low; thin or noisy metric data never yields high."
    )
    current: dict[str, Any] = Field(
        default_factory=dict,
        description="The resource's current configuration, e.g. {instanceType: m5.xlarge}.",
    )
    proposed: dict[str, Any] = Field(
        default_factory=dict,
        description="The proposed configuration, e.g. {instanceType: m5.large}; empty when removing.",
    )
    evidence: dict[str, Any] = Field(
        default_factory=dict,
        description="Why: metric summaries (daily average, maximum, p95), days of data and thresholds used.",
    )
    monthly_savings: Money | None = Field(
        default=None,
        description="Estimated saving per month if the recommendation is applied; absent when no list "
        "price is known (unpricedReason says why).",
    )
    unpriced_reason: str | None = Field(
        default=None,
        description="Why the saving is unknown, e.g. 'no list price for RHEL m5.xlarge in eu-west-3'.",
    )
    price_basis: PriceBasis = Field(
        description="list (public on-demand prices) or effective (after the account's discounts)."
    )
    decision: Decision | None = Field(
        default=None,
        description="Set by users to approve or dismiss (kubectl cloudios approve|dismiss); decidedBy and "
        "decidedAt are filled in by the admission webhook.",
    )


class RecommendationStatus(ApiModel):
    """Where the recommendation is in its life cycle."""

    state: RecommendationState = Field(
        default="Proposed",
        description="Proposed, then Approved, Applied and Verified; or Dismissed, Expired (not seen by "
        "recent scans) or Resolved (the waste went away without Cloudios).",
    )
    conditions: list[Condition] = Field(
        default_factory=list, description="Latest observations; Ready summarises the others."
    )
    first_seen: datetime | None = Field(default=None, description="When a scan first found this.")
    last_seen: datetime | None = Field(default=None, description="When a scan last found this.")
    resolved_at: datetime | None = Field(
        default=None, description="When the recommendation reached Verified, Resolved or Expired."
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status was computed from."
    )
    verifier: VerifierVerdict | None = Field(
        default=None,
        description="The AI verifier's second opinion (ScanPolicy spec.verifier); it never changes the "
        "savings, state or spec.",
    )
    # The closed loop (domain.lifecycle, pipeline.closed_loop): applied, verified, regressed.
    applied_at: datetime | None = Field(
        default=None, description="When a scan first saw the resource as proposed (state Applied)."
    )
    approved: bool | None = Field(
        default=None,
        description="Applied only: true when an approval preceded the change, false when it was changed "
        "without one.",
    )
    verified_at: datetime | None = Field(default=None, description="When the change was Verified.")
    realized_monthly_savings: Money | None = Field(
        default=None,
        description="Verified only: the saving the change really made per month (list-price run rate before "
        "minus after); realized.basis names the prices, realized.reason why it is unknown.",
    )
    realized: RealizedSavings | None = Field(
        default=None, description="How realizedMonthlySavings was measured."
    )
    outcome: Outcome | None = Field(
        default=None, description="What later scans saw of the resource, with the baseline and regressions."
    )


class Recommendation(ApiModel):
    """The Recommendation custom resource."""

    api_version: Literal["cloudios.io/v1alpha1"] = "cloudios.io/v1alpha1"
    kind: Literal["Recommendation"] = "Recommendation"
    metadata: ObjectMeta
    spec: RecommendationSpec
    status: RecommendationStatus | None = None
