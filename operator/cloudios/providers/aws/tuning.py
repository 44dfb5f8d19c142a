"""Knobs of the AWS provider with production defaults; tests lower them to stay fast."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AwsTuning:
    """Retry, timeout, paging and batching settings for one collection."""

    max_attempts: int = 10
    """Total attempts per API call (botocore adaptive mode: backoff with jitter plus a
    client-side rate limiter that slows down after throttling)."""
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    page_size: int | None = None
    """Items per page for every paginated describe call; None uses each API's maximum.
    Real APIs have minimums (5 for EC2, 20 for RDS); moto does not check them."""
    max_queries_per_call: int = 500
    """CloudWatch GetMetricData: at most 500 MetricDataQueries per call."""
    max_datapoints_per_call: int = 100_800
    """CloudWatch GetMetricData: at most 100,800 datapoints per call."""
    session_duration_seconds: int = 3600
    """DurationSeconds of the assumed-role session (the role's maximum may be lower)."""
