"""The AI verifier: a second opinion on a policy's large Recommendations, after they are published.

For each published Recommendation at or above ``spec.verifier.minMonthlySavings`` it asks once per
evidence hash (sinks.verifier_summary), largest savings first, at most ``maxRecommendations`` per
run and within the operator's time budget. Answers go to the store and to the Recommendation's
``status.verifier`` only: savings, state and spec are never touched. An unusable answer is kept as
``unsure`` with what was wrong; a request that failed (down, timeout, HTTP error) is asked again next
run. Nothing here raises into the scan: the outcome is the VerifierReady condition.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

from cloudios.api import ScanPolicy
from cloudios.api.names import LABEL_POLICY, RECOMMENDATION, label_value
from cloudios.api.verifier import VerifierVerdict
from cloudios.domain import StoredFinding
from cloudios.services import verifier_setup
from cloudios.services.settings_verifier import VerifierSettings
from cloudios.services.verifier_setup import VERIFIER_READY, Ready
from cloudios.sinks import verifier_summary, verifier_wire
from cloudios.sinks.conditions import Observation
from cloudios.sinks.kube import Kube
from cloudios.sinks.recommendation_objects import object_name, savings, top_findings
from cloudios.sinks.verifier_http import VerifierClient
from cloudios.sinks.verifier_metrics import VerifierMetrics
from cloudios.store.verdicts import StoredVerdict

log = logging.getLogger(__name__)


class VerdictsPort(verifier_setup.SecretsPort, Protocol):
    """The store: encrypted secrets and the verdicts (store/verdicts.py)."""

    def verdicts(self, tenant: str, finding_ids: Sequence[str]) -> dict[str, StoredVerdict]: ...
    def record_verdict(self, verdict: StoredVerdict) -> None: ...


@dataclass
class Verifier:
    """The verifier's collaborators: the HTTPS client, settings, a clock and a monotonic timer."""

    client: VerifierClient
    store: VerdictsPort
    settings: VerifierSettings
    clock: Callable[[], datetime]
    timer: Callable[[], float] = field(default=time.monotonic)
    metrics: VerifierMetrics | None = None


@dataclass
class Tally:
    """What one run did, for the condition's message."""

    verdicts: Counter[str] = field(default_factory=Counter)
    kept: int = 0
    invalid: int = 0
    failed: int = 0
    waiting: int = 0
    dismissed: int = 0
    errors: list[str] = field(default_factory=list)


def _candidates(policy: ScanPolicy, found: Sequence[StoredFinding]) -> list[StoredFinding]:
    """The policy's published Recommendations (the same top as sync) the verifier's floor admits."""
    spec = policy.spec.verifier
    assert spec is not None
    top = top_findings(
        found, cap=policy.spec.max_recommendations, floor=Decimal(policy.spec.min_monthly_savings)
    )
    floor = Decimal(spec.min_monthly_savings)
    return [f for f in top if f.finding.monthly_savings is not None and savings(f) >= floor]


def _verdict(stored: StoredVerdict) -> dict[str, Any]:
    model = VerifierVerdict(
        verdict=stored.verdict,
        reason=stored.reason,
        model=stored.model,
        asked_at=stored.asked_at.replace(microsecond=0),
    )
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _show(
    kube: Kube, namespace: str, name: str, existing: Mapping[str, Any] | None, stored: StoredVerdict
) -> None:
    """Patch status.verifier alone (a merge patch: state and the rest stay as they are)."""
    want = _verdict(stored)
    if existing is None or ((existing.get("status") or {}).get("verifier")) == want:
        return
    kube.patch_status(RECOMMENDATION, namespace, name, {"verifier": want})


@dataclass(frozen=True)
class Asked:
    """An answer to keep: the model's, or ``unsure`` with why the model's was dropped (``invalid``)."""

    verdict: str
    reason: str
    invalid: bool = False


def _ask(verifier: Verifier, ready: Ready, stored: StoredFinding, deadline: float) -> Asked | str:
    """The answer to keep, or (a string) why no answer came: asked again next run."""
    summary = verifier_summary.summarize(stored.finding, ready.pseudonym_key)
    question = verifier_wire.request(ready.spec.provider, ready.spec.model, ready.api_key, summary)
    remaining = deadline - verifier.timer()
    reply = verifier.client.post(
        ready.spec.endpoint,
        question.body,
        question.headers,
        allow_private=ready.allow_private,
        timeout_seconds=max(1.0, min(float(ready.spec.timeout_seconds), remaining)),
    )
    if reply.body is None:
        return reply.error
    try:
        answer = verifier_wire.parse(ready.spec.provider, reply.body)
    except verifier_wire.InvalidAnswerError as exc:
        return Asked("unsure", f"The verifier's answer was dropped: {exc}.", invalid=True)
    return Asked(answer.verdict, verifier_wire.clean_reason(answer.reason))


def _dismissed(existing: Mapping[str, Any] | None) -> bool:
    return (((existing or {}).get("spec") or {}).get("decision") or {}).get("type") == "Dismissed"


def _count(verifier: Verifier, namespace: str, outcome: str, verdict: str | None = None) -> None:
    if verifier.metrics is not None:
        verifier.metrics.asked(namespace, outcome, verdict)


def verify(verifier: Verifier, kube: Kube, policy: ScanPolicy, found: Sequence[StoredFinding]) -> Observation:
    """Ask about what needs asking and show every known verdict; the VerifierReady observation."""
    setup = verifier_setup.check(verifier.settings, kube, verifier.store, policy)
    if isinstance(setup, Observation):
        return setup
    namespace, name = policy.metadata.namespace, policy.metadata.name
    deadline = verifier.timer() + verifier.settings.budget_seconds
    candidates = _candidates(policy, found)
    known = verifier.store.verdicts(namespace, [f.finding.id for f in candidates])
    objects = {
        str(o["metadata"]["name"]): o
        for o in kube.items(RECOMMENDATION, namespace, label_selector=f"{LABEL_POLICY}={label_value(name)}")
    }
    tally = Tally()
    asked = 0
    for stored in candidates:
        f = stored.finding
        obj_name = object_name(f.module, f.id)
        digest = verifier_summary.evidence_hash(
            f, setup.pseudonym_key, model=setup.spec.model, provider=setup.spec.provider
        )
        previous = known.get(f.id)
        if _dismissed(objects.get(obj_name)):  # hidden by its users: no question is worth paying for
            tally.dismissed += 1
            continue
        if previous is not None and previous.evidence_hash == digest:
            tally.kept += 1
            _show(kube, namespace, obj_name, objects.get(obj_name), previous)
            continue
        if asked >= setup.spec.max_recommendations or verifier.timer() >= deadline:
            tally.waiting += 1
            continue
        asked += 1
        outcome = _ask(verifier, setup, stored, deadline)
        if isinstance(outcome, str):
            tally.failed += 1
            tally.errors.append(outcome)
            _count(verifier, namespace, "failed")
            continue
        _count(verifier, namespace, "invalid" if outcome.invalid else "answered", outcome.verdict)
        tally.invalid += int(outcome.invalid)
        tally.verdicts[outcome.verdict] += 1
        record = StoredVerdict(
            tenant=namespace, finding_id=f.id, policy=name, evidence_hash=digest, verdict=outcome.verdict,
            reason=outcome.reason, model=setup.spec.model, asked_at=verifier.clock(),
        )  # fmt: skip
        verifier.store.record_verdict(record)
        _show(kube, namespace, obj_name, objects.get(obj_name), record)
    log.info(
        "policy %s/%s: verifier asked %d, kept %d answer(s), %d failed, %d waiting",
        namespace, name, asked, tally.kept, tally.failed, tally.waiting,
    )  # fmt: skip
    return _observation(tally, len(candidates))


def _observation(tally: Tally, candidates: int) -> Observation:
    counts = ", ".join(f"{n} {v}" for v, n in sorted(tally.verdicts.items())) or "none new"
    message = (
        f"{candidates} Recommendation(s) above the verifier's floor: answers this run: {counts}; "
        f"{tally.kept} unchanged since their answer"
        + (f"; {tally.dismissed} dismissed, not asked" if tally.dismissed else "")
        + (f"; {tally.waiting} wait for the next run (per-run cap or time budget)" if tally.waiting else "")
    )
    if tally.failed:
        first = tally.errors[0]
        return Observation(
            VERIFIER_READY, "False", "RequestFailed",
            f"{tally.failed} question(s) got no answer (asked again next run), first: {first}. {message}.",
        )  # fmt: skip
    if tally.invalid:
        return Observation(
            VERIFIER_READY, "False", "InvalidAnswer",
            f"{tally.invalid} answer(s) did not match the schema and were kept as unsure. {message}.",
        )  # fmt: skip
    return Observation(VERIFIER_READY, "True", "Verified", message + ".")
