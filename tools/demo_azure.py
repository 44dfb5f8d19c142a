"""`make demo`, the Azure part of the operator demo: the HTTPS Azure emulator and an azure CloudAccount."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cloudios.emulators.azure import demo, sample
from cloudios.emulators.azure.server import AzureEmulator, Principal
from cloudios.emulators.azure.tls import make_certificates

ACCOUNT, SECRET = "demo-azure", "demo-azure-sp"
SEED, SCALE = 7, 0.5


@dataclass
class AzureDemo:
    """The running emulator, the operator's environment for it, and what to apply."""

    emulator: AzureEmulator
    environment: dict[str, str]
    account: dict[str, Any]
    secret: dict[str, str] = field(repr=False)


def start(workdir: Path, namespace: str, labels: dict[str, str]) -> AzureDemo:
    """Start the emulator with the sample estate; a CloudAccount that references a Secret for it."""
    estate = sample.generate(seed=SEED, scale=SCALE)
    tls = make_certificates(Path(tempfile.mkdtemp(prefix="tls-", dir=workdir)))
    emulator = AzureEmulator([estate], [Principal(demo.TENANT, demo.CLIENT, secret=demo.SECRET)], tls).start()
    account = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": ACCOUNT, "namespace": namespace, "labels": labels},
        "spec": {
            "provider": "azure",
            "azure": {
                "subscriptionId": estate.account,
                "tenantId": demo.TENANT,
                "clientId": demo.CLIENT,
                "clientSecretSecretRef": {"name": SECRET},
            },
        },
    }
    return AzureDemo(emulator, demo.environment(emulator), account, {"clientSecret": demo.SECRET})
