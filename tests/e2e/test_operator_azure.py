"""The operator end to end on Azure: real API server, the HTTPS Azure emulator, the operator process.

An azure CloudAccount (service principal secret in a Secret) and a ScanPolicy give priced, evidenced
Recommendations; a wrong secret gives CredentialsValid=False with the reason, and no crash loop.
"""

# Named to run after test_decisions: operators leave the e2e webhook configuration (fail closed)
# pointing at their stopped listener until the e2e package ends.

from __future__ import annotations

import re
import uuid

import pytest

from cloudios.emulators.azure import demo, sample
from cloudios.emulators.azure.server import AzureEmulator
from tests.e2e.harness import Cluster, OperatorFactory, eventually
from tests.support.azure import new_identity, serve

pytestmark = [pytest.mark.cluster, pytest.mark.azure]

ACCOUNTS, POLICIES, RECOMMENDATIONS = "cloudaccounts", "scanpolicies", "recommendations"
DECIMAL = re.compile(r"^[0-9]+\.[0-9]{2}$")


def azure_account(name: str, subscription: str, tenant: str, client: str, secret: str) -> dict[str, object]:
    return {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": name},
        "spec": {
            "provider": "azure",
            "azure": {
                "subscriptionId": subscription,
                "tenantId": tenant,
                "clientId": client,
                "clientSecretSecretRef": {"name": secret},
            },
        },
    }


def test_azure_account_gives_priced_recommendations_and_bad_secrets_a_reason(
    operators: OperatorFactory, cluster: Cluster, azure_emulator: AzureEmulator
) -> None:
    sub = str(uuid.uuid4())
    serve(azure_emulator, sample.generate(seed=404, scale=0.4, subscription=sub))
    identity = new_identity(azure_emulator, sub)
    cluster.secret("azure-sp", {"clientSecret": identity.secret})
    cluster.secret("azure-wrong", {"clientSecret": "not-the-right-secret"})
    cluster.create(
        ACCOUNTS, azure_account("az-prod", sub, identity.tenant_id, identity.client_id, "azure-sp")
    )
    cluster.create(
        # Another subscription: a second object for the same one would wait as DuplicateAccount.
        ACCOUNTS,
        azure_account("az-bad", str(uuid.uuid4()), identity.tenant_id, identity.client_id, "azure-wrong"),
    )
    cluster.create(
        POLICIES,
        {
            "apiVersion": "cloudios.io/v1alpha1",
            "kind": "ScanPolicy",
            "metadata": {"name": "azure-daily"},
            "spec": {
                "schedule": "0 6 * * *",
                "lookbackDays": 30,
                "maxRecommendations": 6,
                "accountSelector": {},
            },
        },
    )
    operator = operators(cluster.namespace, **demo.environment(azure_emulator))

    ready = cluster.wait_condition(ACCOUNTS, "az-prod", "CredentialsValid", "True")
    assert sub in ready["message"]
    bad = cluster.wait_condition(ACCOUNTS, "az-bad", "CredentialsValid", "False", reason="CredentialsInvalid")
    assert "AADSTS7000215" in bad["message"]
    assert "not-the-right-secret" not in bad["message"]

    def published() -> list[dict[str, object]] | None:
        recs = cluster.items(RECOMMENDATIONS, "cloudios.io/account=az-prod")
        return recs if len(recs) == 6 else None

    recs = eventually(published, timeout=120, what="6 Azure recommendations")
    for rec in recs:
        spec = rec["spec"]
        assert isinstance(spec, dict)
        assert spec["module"].startswith("azure.")
        assert spec["resourceId"].startswith(f"/subscriptions/{sub}/")
        assert DECIMAL.match(spec["monthlySavings"]["amount"]), spec["monthlySavings"]
        assert float(spec["monthlySavings"]["amount"]) > 0
        assert spec["monthlySavings"]["currency"] == "USD"
        assert spec["evidence"]["thresholds"] is not None
    assert {r["spec"]["category"] for r in recs} <= {"idle", "rightsize", "orphaned"}
    assert identity.secret not in operator.text()
    assert operator.alive()
