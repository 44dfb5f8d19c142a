"""ScanPolicy: which modules run against which accounts, how often and over what window."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator

from cloudios.api import schedules
from cloudios.api.closed_loop import ClosedLoop, ClosedLoopSummary
from cloudios.api.common import ApiModel, Condition, ObjectMeta, SecretKeyRef
from cloudios.api.verifier import VerifierSpec
from cloudios.api.webhooks import EventType
from cloudios.domain.money import DecimalStr, Money


class LabelSelectorRequirement(ApiModel):
    """metav1.LabelSelectorRequirement."""

    key: str = Field(description="Label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="Set operator.")
    values: list[str] = Field(default_factory=list, description="Values for In and NotIn.")


class LabelSelector(ApiModel):
    """metav1.LabelSelector; empty selects every account in the namespace."""

    match_labels: dict[str, str] = Field(default_factory=dict, description="Exact label matches.")
    match_expressions: list[LabelSelectorRequirement] = Field(
        default_factory=list, description="Set-based requirements."
    )

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            has = req.key in labels
            ok = {
                "In": has and labels[req.key] in req.values,
                "NotIn": not has or labels[req.key] not in req.values,
                "Exists": has,
                "DoesNotExist": not has,
            }[req.operator]
            if not ok:
                return False
        return True


class ModuleSelection(ApiModel):
    """One module to run, with its settings (see docs/modules.md for each module's settings)."""

    name: str = Field(pattern=r"^[a-z0-9]+(\.[a-z0-9_]+)+$", description="Module name, e.g. aws.ec2.idle.")
    enabled: bool = Field(default=True, strict=True, description="Set false to switch a module off.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Module settings; unknown keys are refused."
    )


class Notification(ApiModel):
    """A signed webhook (Standard Webhooks, docs/webhooks.md) announcing scans and recommendations."""

    url: str = Field(
        pattern=r"^https://",
        max_length=2048,
        description="HTTPS endpoint that receives the webhooks; loopback, link-local, metadata and (unless "
        "the operator allows them for the namespace) private addresses are refused.",
    )
    secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="Secret with the signing secret, 'whsec_' + base64 (key 'secret' unless set); "
        "required: nothing is sent unsigned.",
    )
    events: list[EventType] = Field(
        default_factory=lambda: list[EventType](["scan.completed", "scan.failed"]),
        description="Which events to send: scan.completed, scan.failed, recommendation.created, "
        "recommendation.decided, account.credentials_invalid, recommendation.regressed.",
    )


class ScanPolicySpec(ApiModel):
    """What to scan and when."""

    account_selector: LabelSelector = Field(
        default_factory=LabelSelector,
        description="Label selector over CloudAccounts in the namespace; empty selects all.",
    )
    schedule: str = Field(default="0 6 * * *", description="Cron schedule (UTC) of scans, e.g. '0 6 * * *'.")
    lookback_days: int = Field(
        default=14, ge=1, le=90, strict=True, description="Days of metrics to consider, 1 to 90."
    )
    modules: list[ModuleSelection] = Field(
        default_factory=list,
        description="Modules to run; empty runs every module of the account's provider with defaults.",
    )
    min_monthly_savings: DecimalStr = Field(
        default=Decimal(0),
        ge=0,
        description="Findings saving less than this per month (in USD) are not published.",
    )
    notifications: list[Notification] = Field(default_factory=list, description="Webhooks.")
    max_recommendations: int = Field(
        default=50,
        ge=1,
        le=500,
        strict=True,
        description="Cap on Recommendation objects per policy (top by savings).",
    )
    verifier: VerifierSpec | None = Field(
        default=None, description="An AI second opinion on large Recommendations; off unless set."
    )
    closed_loop: ClosedLoop = Field(
        default_factory=ClosedLoop,
        description="Following recommendations after publication: verification window, regression "
        "thresholds, expiry.",
    )

    @field_validator("schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        from croniter import croniter  # noqa: PLC0415

        if not croniter.is_valid(value):
            raise ValueError(f"'{value}' is not a valid cron expression (e.g. '0 6 * * *')")
        problem = schedules.never_fires(value, datetime.now(UTC))
        if problem is not None:
            raise ValueError(problem)
        return value


class ScannedAccount(ApiModel):
    """How the last run went for one selected CloudAccount."""

    name: str = Field(description="Name of the CloudAccount.")
    outcome: Literal["Succeeded", "Failed", "Skipped"] = Field(
        description="Succeeded, Failed (see message) or Skipped (account suspended or not Ready)."
    )
    last_run_time: datetime | None = Field(default=None, description="When this account was last scanned.")
    findings: int = Field(default=0, ge=0, description="Findings the last scan of this account produced.")
    message: str = Field(default="", description="Human-readable detail saying what to do next.")


class NotificationCounts(ApiModel):
    """The policy's webhook deliveries in the outbox (docs/webhooks.md)."""

    pending: int = Field(default=0, ge=0, description="Waiting to be sent or retried.")
    delivered: int = Field(
        default=0, ge=0, description="Accepted by the receiver (kept for the retention period)."
    )
    dead_letters: int = Field(
        default=0,
        ge=0,
        description="Gave up after the retry period (CLOUDIOS_NOTIFY_RETRY_HOURS) or refused.",
    )
    last_dead_letter: str = Field(default="", description="The newest dead letter's event and last error.")


class ScanPolicyStatus(ApiModel):
    """What the last runs of the policy did."""

    conditions: list[Condition] = Field(
        default_factory=list,
        description="Ready: the schedule and modules are valid and the last run succeeded; "
        "Degraded: selected accounts are skipped because they are not Ready; NotificationsReady: every "
        "webhook's URL and signing secret are usable; NotificationsDelivered: no recent dead letter; "
        "VerifierReady: the last run's questions to spec.verifier were sent and answered.",
    )
    last_run_time: datetime | None = Field(default=None, description="When the last run started.")
    next_run_time: datetime | None = Field(default=None, description="When the next run is due.")
    counts: dict[str, int] = Field(
        default_factory=dict, description="Findings of the last run by category (idle, rightsize, ...)."
    )
    savings_by_category: dict[str, Money] = Field(
        default_factory=dict, description="Monthly savings of the last run's findings by category."
    )
    potential_monthly_savings: Money | None = Field(
        default=None, description="Total monthly savings of the last run's findings."
    )
    accounts: list[ScannedAccount] = Field(
        default_factory=list, description="The CloudAccounts the last run selected, one entry each."
    )
    notifications: NotificationCounts | None = Field(
        default=None, description="Webhook deliveries of the policy by outcome."
    )
    closed_loop: ClosedLoopSummary | None = Field(
        default=None,
        description="Applied, Verified and Regressed Recommendations; estimated vs realized savings.",
    )
    observed_generation: int | None = Field(
        default=None, description="metadata.generation this status was computed from."
    )


class ScanPolicy(ApiModel):
    """The ScanPolicy custom resource."""

    api_version: Literal["cloudios.io/v1alpha1"] = "cloudios.io/v1alpha1"
    kind: Literal["ScanPolicy"] = "ScanPolicy"
    metadata: ObjectMeta
    spec: ScanPolicySpec = Field(default_factory=ScanPolicySpec)
    status: ScanPolicyStatus | None = None
