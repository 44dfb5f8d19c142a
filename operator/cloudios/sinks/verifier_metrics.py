"""Prometheus series of the AI verifier, on the operator's registry (sinks.metrics.Metrics.registry).

Labels are bounded: the namespace, a fixed outcome (answered, invalid, failed) and the three verdicts.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

OUTCOMES = ("answered", "invalid", "failed")


class VerifierMetrics:
    """Questions by namespace and outcome, recorded verdicts by namespace and verdict."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.questions = Counter(
            "cloudios_verifier_questions",
            "Questions the AI verifier sent, by outcome: answered, invalid (answer dropped, kept as unsure) "
            "or failed (no answer: asked again next run).",
            ["namespace", "outcome"],
            registry=registry,
        )
        self.verdicts = Counter(
            "cloudios_verifier_verdicts",
            "Verdicts the AI verifier recorded (agree, disagree, unsure).",
            ["namespace", "verdict"],
            registry=registry,
        )

    def asked(self, namespace: str, outcome: str, verdict: str | None = None) -> None:
        self.questions.labels(namespace, outcome).inc()
        if verdict is not None:
            self.verdicts.labels(namespace, verdict).inc()
