"""The AWS entry of the emulator table: moto started, the sample estate seeded, the manifests to scan."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from cloudios.emulators.aws import sample_estate, server
from cloudios.emulators.base import EstateOptions, Progress, RunningEmulator
from cloudios.providers.aws.credentials import AwsBaseCredentials

# What examples/demo/cloudaccount.yaml declares: the estate is seeded where the manifests look.
ACCOUNT = "123456789012"
REGIONS = ("us-east-1", "eu-west-1")
MANIFESTS = ("cloudaccount.yaml", "scanpolicy.yaml")


def manifests() -> tuple[str, ...]:
    """The demo manifests of examples/demo (the same files a user applies to a cluster)."""
    root = Path(__file__).resolve().parents[4] / "examples" / "demo"
    if root.is_dir():
        return tuple(str(root / name) for name in MANIFESTS)
    # Installed from a wheel: examples/demo is packaged as cloudios/emulators/aws/demo_manifests.
    packaged = resources.files("cloudios.emulators.aws").joinpath("demo_manifests")
    return tuple(str(packaged.joinpath(name)) for name in MANIFESTS)


def start(options: EstateOptions, progress: Progress) -> RunningEmulator:
    """Start moto on 127.0.0.1 and seed the sample estate into the demo account."""
    progress("starting a local AWS emulator (moto server) on 127.0.0.1 ...")
    url, stop = server.start_moto_server()
    try:
        progress(f"seeding a sample estate in account {ACCOUNT}, regions {', '.join(REGIONS)} ...")
        truth = sample_estate.seed_estate(
            url,
            seed=options.seed,
            regions=REGIONS,
            scale=options.scale,
            lookback_days=options.lookback_days,
            account_id=ACCOUNT,
        )
    except BaseException:
        stop()
        raise
    progress(f"seeded {len(truth.labels)} resources with {options.lookback_days} days of CloudWatch metrics")
    return RunningEmulator(
        provider="aws",
        # The scan reaches moto through boto3's own AWS_ENDPOINT_URL setting, as users reach VPC
        # endpoints; credentials are passed explicitly, never through the environment.
        environment={"AWS_ENDPOINT_URL": url},
        manifests=manifests(),
        credentials=AwsBaseCredentials(access_key_id="demo", secret_access_key="demo"),  # noqa: S106
        stop=stop,
    )
