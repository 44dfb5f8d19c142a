"""`python -m cloudios.controller.job`: one scan Job, one region of one account, into the shared store."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from cloudios.api import CloudAccount, ScanPolicy
from cloudios.controller import scan_jobs, secrets
from cloudios.controller.account_health import parse
from cloudios.controller.kube import Kube
from cloudios.controller.services import open_store
from cloudios.controller.settings import ControllerSettings, SettingsError
from cloudios.pipeline.scan import scan
from cloudios.pipeline.selection import PolicyError
from cloudios.providers.base import ProviderError
from cloudios.security.redaction import install_log_redaction

TERMINATION_LOG = "/dev/termination-log"
EXIT_UNUSABLE = 2
EXIT_FAILED = 3

log = logging.getLogger("cloudios.job")


def restricted(account: CloudAccount, region: str) -> CloudAccount:
    """A copy of the account whose spec lists only ``region`` (the pipeline scans what the spec lists)."""
    aws = account.spec.aws
    if aws is None or region not in aws.regions:
        raise ValueError(
            f"region {region} is not in spec.aws.regions of CloudAccount {account.metadata.name}"
        )
    spec = account.spec.model_copy(update={"aws": aws.model_copy(update={"regions": [region]})})
    return account.model_copy(update={"spec": spec})


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = ControllerSettings.from_env({k: v for k, v in environ.items() if k != "CLOUDIOS_EXECUTOR"})
    kube = Kube.connect(pool_size=2, timeout=settings.request_timeout_seconds)
    store = open_store(settings)
    try:
        account_body = kube.get("CloudAccount", args.namespace, args.account)
        policy_body = kube.get("ScanPolicy", args.namespace, args.policy)
        if account_body is None or policy_body is None:
            log.error(
                "CloudAccount %s or ScanPolicy %s is gone from %s", args.account, args.policy, args.namespace
            )
            return EXIT_UNUSABLE
        account = restricted(parse(account_body, CloudAccount), args.region)
        policy: ScanPolicy = parse(policy_body, ScanPolicy)
        # The referenced Secret is read through the API with the operator's ServiceAccount, exactly
        # as the operator reads it: the Job spec never carries credentials or references to them.
        credentials = secrets.base_credentials(
            kube.core, args.namespace, account.spec, timeout=settings.probe_timeout_seconds
        )
        outcome = scan(account, policy, now=datetime.now(UTC), base_credentials=credentials)
        store.record_scan(
            outcome.record(scan_jobs.shard_record_id(args.scan_id, args.region)),
            outcome.findings,
            regions=[args.region],
        )
    finally:
        store.close()
        kube.close()
    log.info(
        "scan %s of %s/%s in %s: %d finding(s), %d resource(s)",
        args.scan_id, args.namespace, args.account, args.region, len(outcome.findings), outcome.resources,
    )  # fmt: skip
    return 0


def _terminate(message: str) -> None:
    """Tell the kubelet why (the pod's termination message); harmless outside a pod."""
    try:
        with open(TERMINATION_LOG, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write(message[:4000])
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudios.controller.job", description=__doc__)
    for name in ("namespace", "account", "policy", "region", "scan-id"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("CLOUDIOS_LOG_LEVEL", "INFO").upper(), stream=sys.stderr)
    install_log_redaction()
    try:
        return run(args, os.environ)
    except (ProviderError, PolicyError, SettingsError, secrets.SecretError, ValueError) as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        message = f"{reason}: {getattr(exc, 'message', str(exc))}"
        log.error("scan job failed: %s", message)  # noqa: TRY400 - the reason is the story
        _terminate(message)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
