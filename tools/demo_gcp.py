"""`make demo`, the GCP part of the operator demo: the GCP emulator and a gcp CloudAccount."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cloudios.emulators.gcp import sample, server
from cloudios.emulators.gcp.server import GcpEmulator

ACCOUNT, SECRET, PROJECT = "demo-gcp", "demo-gcp-key", "demo-project-7"
SEED, SCALE = 7, 0.5


@dataclass
class GcpDemo:
    """The running emulator, the operator's environment for it, and what to apply."""

    emulator: GcpEmulator
    environment: dict[str, str]
    account: dict[str, Any]
    secret: dict[str, str] = field(repr=False)


def start(namespace: str, labels: dict[str, str]) -> GcpDemo:
    """Start the emulator with the sample estate; a CloudAccount whose key is in a Secret."""
    estate = sample.generate(seed=SEED, project=PROJECT, scale=SCALE)
    emulator = server.start([estate])
    key = emulator.service_account_key(estate.account)
    account = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": ACCOUNT, "namespace": namespace, "labels": labels},
        "spec": {
            "provider": "gcp",
            "gcp": {"projectId": estate.account, "serviceAccountKeySecretRef": {"name": SECRET}},
        },
    }
    return GcpDemo(emulator, dict(emulator.environment()), account, {"key.json": json.dumps(key)})
