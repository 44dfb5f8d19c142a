"""The AI verifier: ScanPolicy.spec.verifier (where to ask) and the verdict kept on a Recommendation."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import Field

from cloudios.api.common import ApiModel, SecretKeyRef
from cloudios.domain.money import DecimalStr

VerdictValue = Literal["agree", "disagree", "unsure"]
VerifierProvider = Literal["openai", "anthropic"]
REASON_MAX = 300
"""Characters of a verifier's reason kept on a Recommendation (the answer may hold up to 500)."""


class VerifierSpec(ApiModel):
    """A second opinion on each large Recommendation from a language model (docs/verifier.md).

    Off unless set. Only an allow-listed, redacted summary leaves (module, category, action, metric
    summaries, instance types and sizes, prices, days of data); account ids, resource ids, names,
    tags, ARNs and IP addresses never do. The answer never changes savings, state or spec.
    """

    provider: VerifierProvider = Field(
        description="openai (an OpenAI-compatible Chat Completions endpoint) or anthropic (the "
        "Anthropic Messages API)."
    )
    endpoint: str = Field(
        pattern=r"^https://",
        max_length=2048,
        description="HTTPS URL requests are POSTed to, e.g. https://api.openai.com/v1/chat/completions "
        "or https://api.anthropic.com/v1/messages; loopback, link-local, metadata and (unless the "
        "operator allows them for the namespace) private addresses are refused.",
    )
    model: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@-]*$",
        description="Model name sent with each request, e.g. gpt-4.1-mini or claude-sonnet-4-5.",
    )
    secret_ref: SecretKeyRef = Field(
        description="Secret holding the API key (key 'apiKey' unless set); the operator keeps it only "
        "encrypted in its store."
    )
    min_monthly_savings: DecimalStr = Field(
        default=Decimal(100),
        ge=0,
        description="Only Recommendations saving at least this per month (USD) are sent for a second "
        "opinion.",
    )
    max_recommendations: int = Field(
        default=10,
        ge=1,
        le=100,
        strict=True,
        description="Most questions asked per scan (largest savings first); the rest wait for later scans.",
    )
    timeout_seconds: int = Field(
        default=30,
        ge=1,
        le=120,
        strict=True,
        description="Limit of one request; a whole run of the verifier is also bounded by the operator's "
        "CLOUDIOS_VERIFIER_BUDGET_SECONDS.",
    )


class VerifierVerdict(ApiModel):
    """The verifier's second opinion on this Recommendation; informative only, never acted upon."""

    verdict: VerdictValue = Field(
        description="agree, disagree or unsure (also when the answer was unusable; see reason)."
    )
    reason: str = Field(
        default="",
        max_length=REASON_MAX,
        description="The model's short reason, shown as untrusted plain text (control characters removed, "
        "redacted, cut to 300 characters).",
    )
    model: str = Field(default="", max_length=128, description="The model that answered.")
    asked_at: datetime | None = Field(default=None, description="When the question was asked.")
