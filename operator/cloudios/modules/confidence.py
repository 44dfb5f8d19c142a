"""The one confidence scheme every module uses: days of evidence decide how sure a finding is.

- fewer days than the module's ``minDays`` -> no finding at all;
- fewer than ``THIN_DAYS`` (7) days -> at most ``LOW`` (only reachable when a user lowers ``minDays``);
- ``THIN_DAYS`` to ``HIGH_DAYS - 1`` (7-13) days -> ``MEDIUM``;
- ``HIGH_DAYS`` (14) days or more -> ``HIGH``.

Modules may then lower a level for a named reason (``cap``), never raise it. Findings that rest on
inventory alone (an unassociated address, a gp2 volume) do not depend on days of data; each such
module documents its fixed level.
"""

from __future__ import annotations

from cloudios.domain import CONFIDENCE_RANK, Confidence

THIN_DAYS = 7
HIGH_DAYS = 14


def for_days(days: int, min_days: int) -> Confidence | None:
    """Confidence earned by ``days`` days of evidence, or None when below the module's minimum."""
    if days <= 0 or days < min_days:
        return None
    if days >= HIGH_DAYS:
        return Confidence.HIGH
    if days >= THIN_DAYS:
        return Confidence.MEDIUM
    return Confidence.LOW


def cap(confidence: Confidence, ceiling: Confidence) -> Confidence:
    """The lower of the two levels."""
    return confidence if CONFIDENCE_RANK[confidence] <= CONFIDENCE_RANK[ceiling] else ceiling


def describe() -> str:
    """The scheme in one sentence, for evidence and generated docs."""
    return (
        f"no finding below minDays; fewer than {THIN_DAYS} days of data: low; "
        f"{THIN_DAYS}-{HIGH_DAYS - 1} days: medium; {HIGH_DAYS} days or more: high; "
        "modules may lower a level for a stated reason"
    )
