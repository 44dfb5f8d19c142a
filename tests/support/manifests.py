"""The CloudAccount and ScanPolicy of one AWS account in team-x, as the CLI tests scan them."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

ACCOUNT = "210987654321"
NAMESPACE = "team-x"


def aws_manifests(
    tmp_path: Path,
    *,
    regions: Sequence[str],
    name: str = "unseen",
    external_id: str = "team-x-ext",
    lookback: int = 30,
    min_savings: str = "0",
) -> Path:
    """``tmp_path/estate.yaml``: CloudAccount ``name`` (role in ACCOUNT) and ScanPolicy ``all``."""
    path = tmp_path / "estate.yaml"
    path.write_text(
        f"""\
apiVersion: cloudios.io/v1alpha1
kind: CloudAccount
metadata: {{name: {name}, namespace: {NAMESPACE}, labels: {{env: test}}}}
spec:
  provider: aws
  aws:
    accountId: "{ACCOUNT}"
    roleArn: arn:aws:iam::{ACCOUNT}:role/cloudios-readonly
    externalId: {external_id}
    regions: [{", ".join(regions)}]
---
apiVersion: cloudios.io/v1alpha1
kind: ScanPolicy
metadata: {{name: all, namespace: {NAMESPACE}}}
spec:
  lookbackDays: {lookback}
  minMonthlySavings: "{min_savings}"
"""
    )
    return path
