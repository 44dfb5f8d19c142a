"""What the closed loop knows of one finding: its baseline, what later scans saw, and what it saved."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from cloudios.domain.finding import Finding
from cloudios.domain.money import Money

LoopState = Literal["Applied", "Verified", "Expired"]
"""The states only the loop sets (domain.lifecycle); None leaves the state to scans and decisions."""


class Baseline(BaseModel):
    """The resource before the change, as the last scan that still proposed it saw it.

    ``finding`` keeps the proposal (current, proposed, usage lines, evidence) even after a later scan
    reports a new finding under the same id; ``run_rate`` is its current usage at list price, with the
    book that priced it (``run_rate_basis``) or why it is unknown.
    """

    model_config = ConfigDict(frozen=True)

    finding: Finding
    recorded_at: datetime
    run_rate: Money | None = None
    run_rate_basis: str = ""
    unpriced_reason: str | None = None


class Realized(BaseModel):
    """The realized monthly saving: before minus after run rate at one book's list prices."""

    model_config = ConfigDict(frozen=True)

    monthly_savings: Money | None
    basis: str
    reason: str | None = Field(default=None, description="Why the saving is unknown (None when known).")
    post_change_days: int = 0


class LoopRecord(BaseModel):
    """One finding's row in the loop (store table recommendation_outcomes)."""

    model_config = ConfigDict(frozen=True)

    tenant: str
    account_name: str
    finding_id: str
    module: str
    state: LoopState | None = None
    outcome: str | None = Field(default=None, description="The last observation (modules.outcomes.Outcome).")
    observed: dict[str, Any] = Field(default_factory=dict)
    observed_at: datetime | None = None
    detail: str = ""
    baseline: Baseline
    applied_at: datetime | None = None
    verified_at: datetime | None = None
    expired_at: datetime | None = None
    realized: Realized | None = None
    regressions: list[dict[str, Any]] = Field(default_factory=list)
    regressed_at: datetime | None = None
    missing_scans: int = Field(
        default=0, description="Consecutive runs that did not fully scan the finding's scope (lifecycle)."
    )
    unseen_run: datetime | None = Field(default=None, description="The run the count last counted.")
    unseen_reason: str = Field(default="", description="Why the last unseen run did not cover the scope.")
    evidence_hash: str = ""


@dataclass(frozen=True)
class Coverage:
    """What one run scanned of one account (domain.lifecycle, unseen scans).

    ``reason``: why the account was not scanned at all (skipped, failed); else the ``modules`` that ran
    to completion (``failed``: those that raised) in ``regions`` (None: all the account's scope).
    """

    modules: frozenset[str] = frozenset()
    regions: frozenset[str] | None = None
    failed: frozenset[str] = frozenset()
    reason: str | None = None

    def gap(self, finding: Finding) -> str | None:
        """Why this run did not fully cover ``finding``'s scope; None when it did."""
        if self.reason is not None:
            return self.reason
        if finding.module in self.failed:
            return f"module {finding.module} failed"
        if finding.module not in self.modules:
            return f"module {finding.module} did not run (not selected by the policy)"
        if self.regions is not None and finding.region not in self.regions:
            return f"region {finding.region} was not scanned"
        return None
