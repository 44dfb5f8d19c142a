"""One CloudAccount per cloud account and namespace: the oldest object claims it, later ones wait."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cloudios.api import CloudAccountSpec
from cloudios.sinks.conditions import Observation

READY = "Ready"
DUPLICATE = "DuplicateAccount"


@dataclass(frozen=True)
class Claim:
    """What one CloudAccount object claims: (provider, the provider's account id), and when."""

    name: str
    created: str  # RFC 3339 UTC of one API server: sorts as text
    deleting: bool
    identity: tuple[str, str] | None  # None for an invalid spec, which claims nothing

    def key(self) -> tuple[str, str]:
        return self.created or "~", self.name


def claim_of(body: Mapping[str, Any]) -> Claim:
    meta = body.get("metadata") or {}
    try:
        spec = CloudAccountSpec.model_validate(body.get("spec") or {})
    except ValidationError:
        identity = None
    else:
        identity = (spec.provider.value, spec.account_id)
    return Claim(
        name=str(meta.get("name") or ""),
        created=str(meta.get("creationTimestamp") or ""),
        deleting=bool(meta.get("deletionTimestamp")),
        identity=identity,
    )


def claimed_by(body: Mapping[str, Any], others: Iterable[Claim]) -> str | None:
    """The name of an older CloudAccount in the namespace for the same cloud account, if any.

    Objects being deleted do not count, so a renamed account (old object deleted, new one
    created) takes over as soon as the old one's finalizer runs.
    """
    mine = claim_of(body)
    if mine.identity is None:
        return None
    older = [
        other
        for other in others
        if other.name != mine.name
        and not other.deleting
        and other.identity == mine.identity
        and other.key() < mine.key()
    ]
    return min(older, key=Claim.key).name if older else None


def duplicate(owner: str, body: Mapping[str, Any]) -> Observation:
    provider, account_id = claim_of(body).identity or ("?", "?")
    return Observation(
        READY,
        "False",
        DUPLICATE,
        f"CloudAccount {owner} (created earlier) already watches {provider} account {account_id} in "
        "this namespace; this one is neither checked nor scanned while it exists, so nothing is "
        f"scanned or counted twice. Delete one of them (renaming an account: delete {owner} and "
        "this one takes over).",
    )
