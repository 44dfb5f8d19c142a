"""`python -m cloudios.services.job`: one scan Job, one shard of one account, into the shared store."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import ValidationError

from cloudios.api import CloudAccount, ScanPolicy
from cloudios.api.names import CLOUD_ACCOUNT, SCAN_POLICY
from cloudios.api.objects import parse
from cloudios.pipeline.scan import scan
from cloudios.pipeline.selection import PolicyError
from cloudios.providers import registry
from cloudios.providers.base import ProviderError, Shard
from cloudios.security import logs
from cloudios.security.redaction import redact
from cloudios.services import credentials, scan_jobs
from cloudios.services.context import agent_reports_of, open_store
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.sinks.kube import Kube

TERMINATION_LOG = "/dev/termination-log"
EXIT_UNUSABLE = 2
EXIT_FAILED = 3
EXIT_CRASHED = 1

log = logging.getLogger("cloudios.job")


def shard_of(account: CloudAccount, name: str) -> Shard:
    """The account's shard called ``name`` (AWS: a region of spec.aws.regions)."""
    for shard in registry.get(account.spec.provider).shards(account.spec):
        if shard.name == name:
            return shard
    raise ValueError(f"shard {name} is not one of CloudAccount {account.metadata.name}'s (its regions)")


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    settings = OperatorSettings.from_env({k: v for k, v in environ.items() if k != "CLOUDIOS_EXECUTOR"})
    kube = Kube.connect(pool_size=2, timeout=settings.request_timeout_seconds)
    store = open_store(settings.store)
    try:
        account_body = kube.get(CLOUD_ACCOUNT, args.namespace, args.account)
        policy_body = kube.get(SCAN_POLICY, args.namespace, args.policy)
        if account_body is None or policy_body is None:
            log.error(
                "CloudAccount %s or ScanPolicy %s is gone from %s", args.account, args.policy, args.namespace
            )
            return EXIT_UNUSABLE
        account = parse(account_body, CloudAccount)
        policy = parse(policy_body, ScanPolicy)
        shard = shard_of(account, args.shard)
        # The referenced Secret is read through the API exactly as the operator reads it: the Job
        # spec never carries credentials or references to them.
        found = credentials.resolve(
            kube, args.namespace, account.spec, timeout=settings.probe.timeout_seconds
        )
        outcome = scan(
            account,
            policy,
            now=datetime.now(UTC),
            credentials=found,
            store=store,
            agent_reports=agent_reports_of(store),
            scope=shard,
            record_id=scan_jobs.shard_record_id(args.scan_id, args.shard),
        )
    finally:
        store.close()
        kube.close()
    log.info(
        "scan %s of %s/%s, shard %s: %d finding(s), %d resource(s)",
        args.scan_id, args.namespace, args.account, args.shard, len(outcome.findings), outcome.resources,
    )  # fmt: skip
    return 0


def _terminate(message: str) -> None:
    """Tell the kubelet why (the pod's termination message); harmless outside a pod."""
    try:
        with open(TERMINATION_LOG, "w", encoding="utf-8") as out:  # noqa: PTH123
            out.write(redact(message)[:4000])
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cloudios.services.job", description=__doc__)
    for name in ("namespace", "account", "policy", "shard", "scan-id"):
        parser.add_argument(f"--{name}", required=True)
    args = parser.parse_args(argv)
    # The operator's level and nothing more: SDK wire logs (credentials on the wire) stay off at DEBUG.
    logs.configure(os.environ.get("CLOUDIOS_LOG_LEVEL", "INFO").upper(), fmt=logging.BASIC_FORMAT)
    try:
        return run(args, os.environ)
    except (ProviderError, PolicyError, SettingsError, ValidationError, ValueError) as exc:
        reason = getattr(exc, "reason", type(exc).__name__)
        message = f"{reason}: {getattr(exc, 'message', str(exc))}"
        log.error("scan job failed: %s", redact(message))  # noqa: TRY400 - the reason is the story
        _terminate(message)
        return EXIT_FAILED
    except Exception as exc:
        # Through the redacting log filter, never Python's own (unredacted) traceback printer.
        log.exception("scan job crashed")
        _terminate(f"ScanJobCrashed: {type(exc).__name__}: {exc}")
        return EXIT_CRASHED


if __name__ == "__main__":
    sys.exit(main())
