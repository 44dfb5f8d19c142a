"""Settings of the AI verifier (ScanPolicy spec.verifier): its time budget, size caps, SSRF allowances."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from cloudios.services.settings_groups import _Group

ALL_NAMESPACES = "*"


class VerifierSettings(_Group):
    """How far the verifier may go: per run, per request, and where it may connect."""

    model_config = SettingsConfigDict(env_prefix="CLOUDIOS_VERIFIER_")
    budget_seconds: float = Field(
        default=120, gt=0, le=3600, description="Time one policy run's questions may take in total; "
        "questions left when it runs out wait for the next run.",
    )  # fmt: skip
    max_request_bytes: int = Field(
        default=16384, ge=1024, le=1048576, description="Largest question sent (bytes of the request body)."
    )
    max_response_bytes: int = Field(
        default=65536, ge=1024, le=1048576, description="Largest answer read; a longer one is dropped."
    )
    allow_private_namespaces: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="Namespaces whose verifier endpoint may be a private address (RFC 1918, "
        "unique-local, CGNAT; e.g. a model served inside the cluster), comma-separated; '*' for all. "
        "Loopback, link-local and metadata addresses are refused regardless.",
    )  # fmt: skip
    ca_file: Path | None = Field(
        default=None, description="CA bundle for the endpoints' certificates; default: the system's."
    )

    @field_validator("allow_private_namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(n.strip() for n in value.split(",") if n.strip())
        return value

    def allows_private(self, namespace: str) -> bool:
        return ALL_NAMESPACES in self.allow_private_namespaces or namespace in self.allow_private_namespaces
