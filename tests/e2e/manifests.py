"""CloudAccount, ScanPolicy and Secret bodies for the e2e tests."""

from __future__ import annotations

from typing import Any

ESTATE_ACCOUNT = "111111111111"  # the account the sample estate is seeded into
BASE_KEY_ID = "AKIAE2EBASEKEY000001"
BASE_SECRET = "e2e/base/secret/do-not-log/0123456789abcdefgh"
SECRET_NAME = "aws-base"
EXTERNAL_ID = "cloudios-e2e-external-id"


def base_secret() -> dict[str, str]:
    return {"aws_access_key_id": BASE_KEY_ID, "aws_secret_access_key": BASE_SECRET}


def account(
    name: str,
    *,
    account_id: str = ESTATE_ACCOUNT,
    role_account: str | None = None,
    secret: str = SECRET_NAME,
    suspend: bool = False,
    labels: dict[str, str] | None = None,
) -> dict[str, Any]:
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {
            "provider": "aws",
            "suspend": suspend,
            "aws": {
                "accountId": account_id,
                "roleArn": f"arn:aws:iam::{role_account or account_id}:role/cloudios-readonly",
                "externalId": EXTERNAL_ID,
                "regions": ["us-east-1"],
                "credentialsSecretRef": {"name": secret},
            },
        },
    }


def policy(
    name: str,
    *,
    schedule: str = "0 6 * * *",
    modules: list[dict[str, Any]] | None = None,
    max_recommendations: int = 5,
    selector: dict[str, Any] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "schedule": schedule,
        "lookbackDays": 14,
        "maxRecommendations": max_recommendations,
        "accountSelector": selector or {},
    }
    if modules is not None:
        spec["modules"] = modules
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "ScanPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }
