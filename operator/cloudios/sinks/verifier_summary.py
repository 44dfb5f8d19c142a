"""What the AI verifier may see of a finding: an allow-listed, pseudonymized, redacted summary.

Nothing is copied unless its key is named here and its value has the expected shape: numbers and
booleans, or short type-like tokens (instance types, volume types, engines, states) under keys that
only ever hold such tokens. Free text (titles, notes, tag values, names, descriptions, commands) is
never sent. Identifiers the judgement needs to relate (the resource, its account, what a volume is
attached to) become pseudonyms: HMAC-SHA256 under a per-tenant key kept in the keyring, so the same
resource gets the same pseudonym in every question and nobody without that key can tell which it is
(a plain hash of an instance id or account number could be reversed by trying candidates). Regions
are not sent: the price already reflects the region, and a rare region narrows down who is asking.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from cloudios.domain import Finding
from cloudios.security.redaction import redact

SCHEMA = "cloudios.io/verifier-question/v1"
# Keys of current/proposed copied when their value is a number, a boolean or a type-like token.
CONFIGURATION_KEYS = frozenset(
    {
        "instanceType", "dbInstanceClass", "machineType", "vmSize", "sku", "tier", "vcpu", "memoryGib",
        "memoryGb", "engine", "multiAz", "licenseModel", "storageType", "volumeType", "diskType", "sizeGb",
        "iops", "throughputMiBps", "architecture", "state", "status", "powerState", "activationPolicy",
        "snapshotFirst", "associated", "registeredTargets", "type", "connectivityType", "ageDays",
        "replicas", "os",
    }
)  # fmt: skip
# Evidence keys copied under the same rule (metrics and thresholds have their own).
EVIDENCE_KEYS = frozenset(
    {
        "daysOfData", "ageDays", "idleDays", "quietDays", "instanceStoppedDays", "unmountedDays",
        "unreadyDays", "maxDailyOpsObserved", "meanDailyOps", "memoryMeasured", "memoryPeakPercent",
        "memoryUsedGib", "neededMemoryGib", "neededVcpu", "cpuNeedPercent", "projectedPeakCpuPercent",
        "projectedCpuPercent", "recurringDailyPeakPercent", "projectedRecurringPeakPercent",
        "peakConnections", "maxConnections", "maxDailyAverageCpu", "peakCpu", "spikeDays",
        "maxBytesPerDay", "daysWithDatapoints", "missingDaysCountAsZero", "registeredTargets",
        "targetGroups", "runningShare", "upperBound", "sourceExists", "sourceVolumeExists",
        "storageStillBilled", "allocatedStorageGb", "highestDailyCpuMillicores", "daemonSetPods",
        "family", "generation", "architecture", "targetChosenBy", "snapshotKind", "state",
        "equivalents", "successors", "utilization",
    }
)  # fmt: skip
# Evidence keys whose value names another resource: sent as that resource's pseudonym.
RELATED_KEYS = frozenset({"attachedTo", "instanceId", "volumeId", "sourceId", "vpcId", "allocationId"})
METRIC_FIELDS = frozenset(
    {"daysWithData", "lookbackDays", "average", "maximum", "p95OfDailyP95", "p95OfDailyHigh", "samples"}
)
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._()+-]{0,63}$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
_LIST_MAX = 8
SIGNIFICANT = 4
"""Significant digits of numbers sent: enough to judge, too few to fingerprint a resource by."""
HASH_SIGNIFICANT = 2
"""Significant digits in the evidence hash: a day's drift in a 14-day average asks no new question."""


def pseudonym(key: bytes, kind: str, *parts: str) -> str:
    """``<kind>-<16 hex>``: HMAC-SHA256 under the tenant's key, stable for the same identifier."""
    digest = hmac.new(key, "\x1f".join((kind, *parts)).encode(), hashlib.sha256).hexdigest()
    return f"{kind}-{digest[:16]}"


def _number(value: Any, digits: int) -> float | int | bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal) and math.isfinite(float(value)):
        number = float(value)
        if number == 0:
            return 0
        rounded = round(number, digits - 1 - math.floor(math.log10(abs(number))))
        return int(rounded) if rounded == int(rounded) else rounded
    return None


def _value(value: Any, digits: int) -> Any:
    """A number, a boolean, a type-like token, or a short list of tokens; None for anything else."""
    if value is None:
        return None
    number = _number(value, digits)
    if number is not None:
        return number
    if isinstance(value, str):
        return value if _TOKEN.match(value) else None
    if isinstance(value, list | tuple):
        tokens = [v for v in value[:_LIST_MAX] if isinstance(v, str) and _TOKEN.match(v)]
        return tokens or None
    if isinstance(value, Mapping):  # e.g. utilization {cpu, memory}: names to numbers only
        numbers = {k: _number(v, digits) for k, v in value.items() if isinstance(k, str) and _NAME.match(k)}
        kept = {k: v for k, v in numbers.items() if v is not None}
        return kept or None
    return None


def _pick(source: Mapping[str, Any], keys: frozenset[str], digits: int) -> dict[str, Any]:
    picked = {k: _value(source[k], digits) for k in sorted(keys & source.keys())}
    return {k: v for k, v in picked.items() if v is not None}


def _metrics(evidence: Mapping[str, Any], digits: int) -> dict[str, Any]:
    found = evidence.get("metrics")
    if not isinstance(found, Mapping):
        return {}
    out: dict[str, Any] = {}
    for name, summary in sorted(found.items()):
        if isinstance(name, str) and _NAME.match(name) and isinstance(summary, Mapping):
            fields = {k: _number(summary[k], digits) for k in sorted(METRIC_FIELDS & summary.keys())}
            out[name] = {k: v for k, v in fields.items() if v is not None}
    return out


def _thresholds(evidence: Mapping[str, Any], digits: int) -> dict[str, Any]:
    found = evidence.get("thresholds")
    if not isinstance(found, Mapping):
        return {}
    numbers = {
        k: _number(v, digits) for k, v in sorted(found.items()) if isinstance(k, str) and _NAME.match(k)
    }
    return {k: v for k, v in numbers.items() if v is not None}


def summarize(finding: Finding, key: bytes, *, digits: int = SIGNIFICANT) -> dict[str, Any]:
    """The question's facts about ``finding``; ``key`` is the tenant's pseudonym key."""
    account = (str(finding.provider), finding.account_id)
    evidence = finding.evidence
    related = {
        k: pseudonym(key, "r", *account, str(evidence[k]))
        for k in sorted(RELATED_KEYS & evidence.keys())
        if isinstance(evidence[k], str) and evidence[k]
    }
    money = finding.monthly_savings
    summary: dict[str, Any] = {
        "schema": SCHEMA,
        "provider": str(finding.provider),
        "account": pseudonym(key, "a", *account),
        "resource": pseudonym(key, "r", *account, finding.resource_id),
        "resourceType": finding.resource_type if _TOKEN.match(finding.resource_type) else "resource",
        "module": finding.module,
        "category": str(finding.category),
        "action": str(finding.action),
        "confidence": str(finding.confidence),
        "monthlySavings": None
        if money is None
        else {"amount": str(_number(money.amount, digits)), "currency": money.currency},
        "priceBasis": finding.price_basis or "list",
        "current": _pick(finding.current, CONFIGURATION_KEYS, digits),
        "proposed": _pick(finding.proposed, CONFIGURATION_KEYS, digits),
        "evidence": {
            **_pick(evidence, EVIDENCE_KEYS, digits),
            **related,
            "metrics": _metrics(evidence, digits),
            "thresholds": _thresholds(evidence, digits),
        },
    }
    cleaned: dict[str, Any] = redact(summary)
    return cleaned


def evidence_hash(finding: Finding, key: bytes, *, model: str, provider: str) -> str:
    """What makes a question new: the coarse summary, the model and the question's version."""
    coarse = summarize(finding, key, digits=HASH_SIGNIFICANT)
    text = json.dumps([SCHEMA, provider, model, coarse], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
