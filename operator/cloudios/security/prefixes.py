"""Prefixes that make Cloudios secrets recognisable to redaction, secret scanners and people."""

from __future__ import annotations

CLUSTER_TOKEN_PREFIX = "cld_"  # noqa: S105 - a prefix, not a secret
"""Every per-cluster agent token starts with this (DESIGN section 5); redaction masks any such token."""
