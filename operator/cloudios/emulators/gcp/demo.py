"""The GCP entry of the emulator table: the emulator started, an estate loaded, manifests to scan it."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import yaml

from cloudios.emulators.base import EstateOptions, Progress, RunningEmulator
from cloudios.emulators.gcp import estate as estate_file
from cloudios.emulators.gcp import sample, server
from cloudios.providers.gcp.credentials import GcpKeyCredentials

PROJECT = "cloudios-demo-123"


def manifests(project: str, lookback_days: int, folder: Path) -> tuple[str, ...]:
    """A CloudAccount for ``project`` (its key comes from the emulator) and a ScanPolicy of every module."""
    account = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "CloudAccount",
        "metadata": {"name": f"demo-{project}"[:63], "namespace": "team-demo", "labels": {"env": "demo"}},
        "spec": {"provider": "gcp", "gcp": {"projectId": project}},
    }
    policy = {
        "apiVersion": "cloudios.io/v1alpha1",
        "kind": "ScanPolicy",
        "metadata": {"name": "demo-gcp", "namespace": "team-demo"},
        "spec": {
            "accountSelector": {"matchLabels": {"env": "demo"}},
            "schedule": "0 6 * * 1",
            "lookbackDays": min(90, lookback_days),
            "minMonthlySavings": "1.00",
        },
    }
    paths = []
    for name, body in (("cloudaccount.yaml", account), ("scanpolicy.yaml", policy)):
        path = folder / name
        path.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
        paths.append(str(path))
    return tuple(paths)


def start(options: EstateOptions, progress: Progress) -> RunningEmulator:
    """Start the emulator on 127.0.0.1 and load the estate file, or the seeded sample."""
    if options.estate:
        try:
            estate = estate_file.load(options.estate)
        except estate_file.EstateError as exc:
            from cloudios.emulators.registry import EmulatorError  # noqa: PLC0415 - the table imports us

            raise EmulatorError(f"--estate {exc}") from None
        progress(
            f"loaded {len(estate.resources)} resources of project {estate.account} from {options.estate}"
        )
    else:
        estate = sample.generate(
            seed=options.seed, project=PROJECT, scale=options.scale, lookback_days=options.lookback_days
        )
    progress(
        "starting a local GCP emulator (Cloud Monitoring over gRPC/TLS, Compute over REST) on 127.0.0.1 ..."
    )
    emulator = server.start([estate])
    folder = Path(tempfile.mkdtemp(prefix="cloudios-gcp-demo-"))

    def stop() -> None:
        emulator.stop()
        shutil.rmtree(folder, ignore_errors=True)

    key = emulator.service_account_key(estate.account)
    progress(
        f"project {estate.account}: {len(estate.resources)} resources, {estate.lookback_days} days of metrics"
    )
    return RunningEmulator(
        provider="gcp",
        environment=emulator.environment(),
        manifests=manifests(estate.account, estate.lookback_days, folder),
        credentials=GcpKeyCredentials(client_email=key["client_email"], info=key),
        stop=stop,
    )
