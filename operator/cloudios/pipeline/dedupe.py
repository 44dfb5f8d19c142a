"""One finding per resource: removal beats change, then declared precedence, then the larger saving."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal

from cloudios.domain import CONFIDENCE_RANK, Action, Finding
from cloudios.modules import registry

# Removing a resource (stop, delete, release) makes every change to it moot: an idle instance is not
# also rightsized, an unattached gp2 volume is deleted rather than converted to gp3.
_REMOVALS = frozenset({Action.DELETE, Action.STOP, Action.RELEASE})


def precedence() -> dict[str, frozenset[str]]:
    """Module -> the modules it yields to on the same resource (``ModuleSpec.yields_to``)."""
    return {m.name: frozenset(m.spec.yields_to) for m in registry.all_modules()}


def _rank(
    finding: Finding, present: Collection[str], yields: Mapping[str, frozenset[str]]
) -> tuple[int, int, int, Decimal, int, str]:
    savings = finding.monthly_savings.amount if finding.monthly_savings else Decimal(-1)
    return (
        1 if finding.action in _REMOVALS else 0,
        0 if yields.get(finding.module, frozenset()) & set(present) else 1,  # declared precedence
        1 if finding.monthly_savings is not None else 0,  # a known saving beats an unknown one
        savings,
        CONFIDENCE_RANK[finding.confidence],
        finding.module,  # deterministic tie-break
    )


def dedupe(findings: Iterable[Finding], yields: Mapping[str, frozenset[str]] | None = None) -> list[Finding]:
    """Keep the best finding per resource; the winner lists the modules it superseded in evidence.

    Actions on one resource are not independent (stop vs resize; resize vs a newer generation both
    change the instance type), so savings could only be added up by counting the same dollars twice.
    Order: removing the resource beats changing it; then a module that yields to another present
    module loses (``ModuleSpec.yields_to``: idle > rightsize > previous generation > Graviton);
    then a priced finding beats an unpriced one, then the larger saving, then the higher confidence.
    ``yields`` defaults to the registry's declarations.
    """
    order = precedence() if yields is None else yields
    by_resource: dict[tuple[str, str, str, str], list[Finding]] = defaultdict(list)
    for f in findings:
        by_resource[(f.provider.value, f.account_id, f.region, f.resource_id)].append(f)
    kept: list[Finding] = []
    for group in by_resource.values():
        present = {f.module for f in group}
        group.sort(key=lambda f: _rank(f, present, order), reverse=True)
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
