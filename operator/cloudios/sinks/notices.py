"""Events to post, as plain data: services decide what happened, handlers post it through kopf."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from cloudios.domain.text import printable
from cloudios.security.redaction import redact
from cloudios.sinks.conditions import Transition

EventType = Literal["Normal", "Warning"]
# Reasons that are good news, or a user's own choice, even when a condition turns False.
_NORMAL_WHEN_FALSE = frozenset({"Suspended", "AccountsReady"})
# Reasons of conditions whose True is bad news (Degraded).
_WARNING_WHEN_TRUE = frozenset({"AccountsSkipped"})


@dataclass(frozen=True)
class Notice:
    """One Kubernetes Event about ``obj`` (needs apiVersion, kind and metadata name/namespace/uid)."""

    obj: Mapping[str, Any]
    type: EventType
    reason: str
    message: str


def reference(body: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an object an Event refers to."""
    meta = body.get("metadata", {})
    return {
        "apiVersion": body.get("apiVersion"),
        "kind": body.get("kind"),
        "metadata": {"name": meta.get("name"), "namespace": meta.get("namespace"), "uid": meta.get("uid")},
    }


def from_transitions(body: Mapping[str, Any], transitions: Iterable[Transition]) -> list[Notice]:
    """One Event per new (status, reason); Unknown is not news, and a repeated reason is posted once."""
    notices: list[Notice] = []
    seen: set[str] = set()
    for t in transitions:
        if t.new.status == "Unknown" or t.new.reason in seen:
            continue
        seen.add(t.new.reason)
        normal = (t.new.status == "True" and t.new.reason not in _WARNING_WHEN_TRUE) or (
            t.new.reason in _NORMAL_WHEN_FALSE
        )
        notices.append(
            Notice(
                obj=reference(body),
                type="Normal" if normal else "Warning",
                reason=t.new.reason,
                # kubectl prints one line per event; keep the message on one line.
                message=printable(redact(" ".join(t.new.message.split())))[:1024],
            )
        )
    return notices
