"""The Azure entry of the emulator table: the HTTPS emulator started, an estate loaded, manifests to scan."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml

from cloudios.emulators.azure import estate as estates
from cloudios.emulators.azure import sample
from cloudios.emulators.azure.server import AzureEmulator, Principal
from cloudios.emulators.azure.tls import make_certificates
from cloudios.emulators.base import EstateOptions, Progress, RunningEmulator
from cloudios.emulators.registry import EmulatorError
from cloudios.providers.azure.credentials import AzureClientSecret

TENANT = "00000000-0000-0000-0000-0000000000e1"
CLIENT = "00000000-0000-0000-0000-0000000000c1"
SECRET = "demo-client-secret"  # noqa: S105 - the emulator's own dummy secret


def environment(emulator: AzureEmulator) -> dict[str, str]:
    """How the Azure SDK reaches ``emulator``: authority, ARM endpoint, and trust in its test CA."""
    return {
        "AZURE_AUTHORITY_HOST": emulator.url,
        "CLOUDIOS_AZURE_RESOURCE_MANAGER_URL": emulator.url,
        "REQUESTS_CA_BUNDLE": str(emulator.tls.ca_file),
    }


def manifests(subscription: str, directory: Path, lookback_days: int) -> tuple[str, ...]:
    """A CloudAccount and a ScanPolicy for ``subscription`` (the same shape as examples/azure)."""
    account = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": "azure-demo", "namespace": "demo"},
        "spec": {
            "provider": "azure",
            "azure": {
                "subscriptionId": subscription,
                "tenantId": TENANT,
                "clientId": CLIENT,
                "clientSecretSecretRef": {"name": "azure-demo-sp"},
            },
        },
    }
    policy = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "ScanPolicy",
        "metadata": {"name": "azure-demo", "namespace": "demo"},
        "spec": {"schedule": "0 6 * * *", "lookbackDays": min(lookback_days, 90)},
    }
    paths = (directory / "cloudaccount.yaml", directory / "scanpolicy.yaml")
    for path, body in zip(paths, (account, policy), strict=True):
        path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return tuple(str(p) for p in paths)


def start(options: EstateOptions, progress: Progress) -> RunningEmulator:
    """Start the emulator on 127.0.0.1 with the estate file given, or a seeded sample estate."""
    work = Path(tempfile.mkdtemp(prefix="cloudios-azure-emulator-"))
    try:
        if options.estate is not None:
            try:
                estate = estates.load(options.estate)
            except estates.EstateError as exc:
                raise EmulatorError(str(exc)) from None
            progress(f"loaded {len(estate.resources)} resources of {estate.account} from {options.estate}")
        else:
            estate = sample.generate(
                seed=options.seed, scale=options.scale, lookback_days=options.lookback_days
            )
            progress(f"generated a sample estate of {len(estate.resources)} resources (seed {options.seed})")
        principal = Principal(TENANT, CLIENT, secret=SECRET)
        emulator = AzureEmulator([estate], [principal], make_certificates(work / "tls")).start()
        progress(f"started a local Azure emulator (ARM, Resource Graph, metrics, Entra ID) at {emulator.url}")
        paths = manifests(estate.account, work, estate.lookback_days)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise

    def stop() -> None:
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)

    return RunningEmulator(
        provider="azure",
        environment=environment(emulator),
        manifests=paths,
        credentials=AzureClientSecret(value=SECRET),
        stop=stop,
    )
