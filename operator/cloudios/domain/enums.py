"""Fixed vocabularies: providers, finding categories, actions and confidence levels."""

from __future__ import annotations

from enum import StrEnum


class Provider(StrEnum):
    """Where an account's resources live."""

    AWS = "aws"
    GCP = "gcp"
    AZURE = "azure"
    KUBERNETES = "kubernetes"


class Category(StrEnum):
    """Finding categories (DESIGN.md section 4); the set is fixed."""

    IDLE = "idle"
    RIGHTSIZE = "rightsize"
    ORPHANED = "orphaned"
    MODERNIZE = "modernize"
    SCHEDULE = "schedule"
    COMMITMENT = "commitment"


class Action(StrEnum):
    """What a finding proposes to do to its resource; dedupe keeps one finding per resource action.

    Actions on the same resource compete: removing a resource (``DELETE``/``STOP``/``RELEASE``)
    supersedes changing it (``RESIZE``/``MODIFY``).
    """

    DELETE = "delete"
    STOP = "stop"
    RELEASE = "release"
    RESIZE = "resize"
    MODIFY = "modify"


class Confidence(StrEnum):
    """How sure a finding is; thin data never yields ``HIGH``."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}
