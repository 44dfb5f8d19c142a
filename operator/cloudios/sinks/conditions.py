"""metav1.Conditions: merge new observations, keep lastTransitionTime unless the status changes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from cloudios.api import Condition
from cloudios.domain.text import printable
from cloudios.security.redaction import redact

Status = Literal["True", "False", "Unknown"]
MESSAGE_MAX = 32768  # metav1.Condition.message limit


@dataclass(frozen=True)
class Observation:
    """What a reconcile concluded about one condition type."""

    type: str
    status: Status
    reason: str
    message: str = ""


@dataclass(frozen=True)
class Transition:
    """A condition whose (status, reason) changed: the moment to post an Event."""

    type: str
    old_status: str | None
    old_reason: str | None
    new: Condition


def parse(raw: Iterable[Mapping[str, Any]] | None) -> list[Condition]:
    """Conditions from an object's status; malformed entries (edited by hand) are dropped."""
    parsed: list[Condition] = []
    for item in raw or ():
        try:
            parsed.append(Condition.model_validate(item))
        except ValidationError:
            continue
    return parsed


def merge(
    existing: Sequence[Condition],
    observations: Iterable[Observation],
    *,
    generation: int | None,
    now: datetime | None = None,
) -> tuple[list[Condition], list[Transition]]:
    """The full new condition list (merge patches replace lists whole) and its transitions.

    lastTransitionTime moves only when the status changes; reason, message and
    observedGeneration always reflect the latest observation. Types not observed are kept.
    """
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    by_type = {c.type: c for c in existing}
    order = [c.type for c in existing]
    transitions: list[Transition] = []
    for obs in observations:
        old = by_type.get(obs.type)
        changed_status = old is None or old.status != obs.status
        new = Condition(
            type=obs.type,
            status=obs.status,
            reason=obs.reason,
            message=printable(redact(obs.message))[:MESSAGE_MAX],
            last_transition_time=moment if changed_status or old is None else old.last_transition_time,
            observed_generation=generation,
        )
        if old is None or (old.status, old.reason) != (new.status, new.reason):
            transitions.append(
                Transition(obs.type, old.status if old else None, old.reason if old else None, new)
            )
        if obs.type not in by_type:
            order.append(obs.type)
        by_type[obs.type] = new
    return [by_type[t] for t in order], transitions


def dump(conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    """Conditions as the API expects them (camelCase, RFC 3339 times)."""
    return [c.model_dump(mode="json", by_alias=True, exclude_none=True) for c in conditions]


def find(conditions: Sequence[Condition], type_: str) -> Condition | None:
    return next((c for c in conditions if c.type == type_), None)


def is_true(raw_status: Mapping[str, Any] | None, type_: str) -> bool:
    """Whether an object's raw status has condition ``type_`` with status True."""
    found = find(parse((raw_status or {}).get("conditions")), type_)
    return found is not None and found.status == "True"
