"""One finding per resource: removal beats change, then the larger saving; totals never double-count."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from cloudios.domain import CONFIDENCE_RANK, Action, Finding

# Removing a resource (stop, delete, release) makes every change to it moot: an idle instance is not
# also rightsized, an unattached gp2 volume is deleted rather than converted to gp3.
_REMOVALS = frozenset({Action.DELETE, Action.STOP, Action.RELEASE})


def _rank(finding: Finding) -> tuple[int, int, Decimal, int, str]:
    savings = finding.monthly_savings.amount if finding.monthly_savings else Decimal(-1)
    return (
        1 if finding.action in _REMOVALS else 0,
        1 if finding.monthly_savings is not None else 0,  # a known saving beats an unknown one
        savings,
        CONFIDENCE_RANK[finding.confidence],
        finding.module,  # deterministic tie-break
    )


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Keep the best finding per resource; the winner lists the modules it superseded in evidence.

    Actions on one resource are not independent (stop vs resize; resize vs a newer generation both
    change the instance type), so savings could only be added up by counting the same dollars twice.
    """
    by_resource: dict[tuple[str, str, str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        by_resource[(f.provider.value, f.account_id, f.region, f.resource_id)].append(f)
    kept: list[Finding] = []
    for group in by_resource.values():
        group.sort(key=_rank, reverse=True)
        winner, losers = group[0], group[1:]
        if losers:
            evidence = dict(winner.evidence)
            evidence["supersedes"] = sorted(f.module for f in losers)
            winner = winner.model_copy(update={"evidence": evidence})
        kept.append(winner)
    # Priced findings by saving, then the unpriced ones (their saving is unknown, not zero).
    kept.sort(
        key=lambda f: (
            f.monthly_savings is None,
            -(f.monthly_savings.amount if f.monthly_savings else 0),
            f.id,
        )
    )
    return kept
