"""Kinds, plurals and label keys of the cloudios.io API, defined once for every layer."""

from __future__ import annotations

import hashlib
import re

CLOUD_ACCOUNT = "CloudAccount"
SCAN_POLICY = "ScanPolicy"
RECOMMENDATION = "Recommendation"
PLURALS: dict[str, str] = {
    CLOUD_ACCOUNT: "cloudaccounts",
    SCAN_POLICY: "scanpolicies",
    RECOMMENDATION: "recommendations",
}

LABEL_ACCOUNT = "cloudios.io/account"
LABEL_POLICY = "cloudios.io/policy"
LABEL_MODULE = "cloudios.io/module"
LABEL_CATEGORY = "cloudios.io/category"
LABEL_SHARD = "cloudios.io/region"
"""A scan Job's shard (the AWS region for AWS; the key keeps its name for existing selectors)."""
LABEL_SCAN_ID = "cloudios.io/scan-id"
LABEL_TENANT = "cloudios.io/namespace"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_COMPONENT = "app.kubernetes.io/component"
MANAGED_BY = "cloudios"

_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_LABEL_MAX = 63


def label_value(text: str) -> str:
    """``text`` as a valid label value: as is when it fits, else a readable prefix plus a hash."""
    if len(text) <= _LABEL_MAX and _LABEL_VALUE.match(text):
        return text
    prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", text)[: _LABEL_MAX - 11].strip("-_.")
    digest = hashlib.sha256(text.encode()).hexdigest()[:10]
    return f"{prefix}-{digest}" if prefix else digest
