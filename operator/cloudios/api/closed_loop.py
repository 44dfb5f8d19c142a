"""The closed loop's API: ScanPolicy spec.closedLoop, and what a Recommendation status says of its outcome."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import Field, field_validator

from cloudios.api.common import ApiModel
from cloudios.domain.money import Money

MODULE_KEY = r"^[a-z0-9]+(\.[a-z0-9_]+)+$"
MODULE_NAME_MAX = 128


class ClosedLoop(ApiModel):
    """How Cloudios follows a recommendation after it is published: applied, verified, regressed, expired."""

    verification_days: int = Field(
        default=7,
        ge=1,
        le=60,
        strict=True,
        description="Days of post-change data before an Applied recommendation is Verified and its realized "
        "saving recorded (removals: days since the change).",
    )
    verification_days_by_module: dict[str, Annotated[int, Field(ge=1, le=60)]] = Field(
        default_factory=dict,
        description="Per-module verification window in days, e.g. {aws.ec2.rightsize: 14}; others use "
        "verificationDays.",
    )

    @field_validator("verification_days_by_module")
    @classmethod
    def _module_names(cls, value: dict[str, int]) -> dict[str, int]:
        bad = sorted(k for k in value if not re.fullmatch(MODULE_KEY, k) or len(k) > MODULE_NAME_MAX)
        if bad:
            raise ValueError(f"not module names: {', '.join(bad)} (e.g. aws.ec2.rightsize)")
        return value

    cpu_saturation_percent: float = Field(
        default=90,
        ge=50,
        le=100,
        description="After a change, a day whose CPU high percentile (p99, else p95, else maximum) is at or "
        "above this raises the Regressed condition.",
    )
    memory_pressure_percent: float = Field(
        default=95,
        ge=50,
        le=100,
        description="After a change, memory used at or above this percent (CloudWatch agent), or free memory "
        "under the rest of the new class's memory (RDS), raises the Regressed condition.",
    )
    lb_error_percent: float = Field(
        default=1,
        ge=0,
        le=100,
        description="After an EC2 resize, an application load balancer with the instance among its targets "
        "whose 5xx ratio ((target 5xx + load-balancer 5xx) / requests) over the post-change days is above "
        "this percent, and at least lbErrorGrowth times the ratio of the days before the change, raises "
        "the Regressed condition (LoadBalancerErrors). No requests after the change: no signal.",
    )
    lb_error_growth: float = Field(
        default=2,
        ge=1,
        le=100,
        description="How many times the pre-change 5xx ratio the post-change ratio must reach (see "
        "lbErrorPercent).",
    )
    expire_after_days: int | None = Field(
        default=None,
        ge=1,
        le=365,
        description="A Proposed recommendation whose finding no scan has confirmed for this many days "
        "(its evidence is stale) becomes Expired; default: the policy's lookbackDays.",
    )
    expire_after_unseen_scans: int = Field(
        default=3,
        ge=1,
        le=100,
        strict=True,
        description="A Proposed or Approved recommendation whose scope (its account, region and module) this "
        "many consecutive runs did not fully scan (account skipped or failed, region not scanned, module "
        "failed or not selected) becomes Expired; a run that scans its scope fully resets the count.",
    )


class RealizedSavings(ApiModel):
    """What a verified change really saved: list-price run rate before minus after, from one price book."""

    monthly_savings: Money | None = Field(
        default=None,
        description="Realized saving per month; absent when a price is unknown (reason says why).",
    )
    basis: str = Field(description="The price book both run rates come from: basis, provider and date.")
    reason: str | None = Field(default=None, description="Why the realized saving is unknown.")
    post_change_days: int = Field(default=0, ge=0, description="Days of post-change data it rests on.")


class Outcome(ApiModel):
    """The closed loop's view of a recommendation: what later scans saw of its resource.

    result: Applied (the resource matches the proposal), ChangedDifferently (changed, not as
    proposed: never Applied), Unchanged, ResourceGone (a change proposal whose resource vanished), or
    Unseen (Expired after expireAfterUnseenScans runs that did not scan its scope).
    """

    result: str = Field(
        description="Applied, ChangedDifferently, Unchanged, ResourceGone, or Unseen (expired: runs that did "
        "not scan its scope; observed has unseenScans and reason)."
    )
    observed: dict[str, Any] = Field(
        default_factory=dict, description="What the scan saw, e.g. {instanceType: m5.large}."
    )
    detail: str = Field(default="", description="The observation in words.")
    observed_at: datetime | None = Field(default=None, description="When a scan first saw this outcome.")
    baseline_monthly_cost: Money | None = Field(
        default=None, description="The resource's list-price run rate before the change (the baseline)."
    )
    baseline_basis: str = Field(default="", description="The price book of the baseline run rate.")
    regressions: list[dict[str, Any]] = Field(
        default_factory=list,
        description="Post-change signals of harm (CpuSaturated, MemoryPressure, OOMKilled, CpuAboveRequest) "
        "with the day, value and threshold; LoadBalancerErrors with the load balancer, the 5xx ratio before "
        "and after the change, the requests and days after it.",
    )
    evidence_hash: str = Field(
        default="",
        description="sha256 of the canonical evidence of the latest transition (in the audit log).",
    )


class ClosedLoopSummary(ApiModel):
    """The policy's Recommendations after publication: how many were applied, verified, regressed, and
    what the verified ones estimated vs really saved."""

    applied: int = Field(default=0, ge=0, description="Recommendations in state Applied (not verified yet).")
    verified: int = Field(default=0, ge=0, description="Recommendations in state Verified.")
    regressed: int = Field(default=0, ge=0, description="Applied or Verified ones with Regressed=True.")
    estimated_monthly_savings: Money | None = Field(
        default=None, description="What the Verified ones with a known realized saving estimated per month."
    )
    realized_monthly_savings: Money | None = Field(
        default=None, description="What the same Verified ones realized per month (list-price run rates)."
    )
    unknown_realized: int = Field(
        default=0, ge=0, description="Verified ones whose realized saving is unknown (a price is missing)."
    )
