"""`cloudios scan`: the same manifests users apply to the cluster, scanned from the command line."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal, InvalidOperation

from rich.console import Console
from rich.progress import Progress

from cloudios import pricing
from cloudios.api import CloudAccount, ObjectMeta, ScanPolicy
from cloudios.cli import hints
from cloudios.cli import manifests as manifest_io
from cloudios.cli.commands import EXIT_GATE, EXIT_INPUT, EXIT_OK
from cloudios.cli.output import render
from cloudios.cli.report import AccountError, Report
from cloudios.cli.terminal import say
from cloudios.pipeline.scan import ScanOutcome, scan
from cloudios.pipeline.selection import PolicyError, select, selects
from cloudios.pricing import PriceBook
from cloudios.providers import registry as providers
from cloudios.providers.base import Credentials, ProviderError
from cloudios.security import files
from cloudios.services.context import agent_reports_of
from cloudios.store import Repository, SqlRepository

log = logging.getLogger(__name__)


def plan(found: manifest_io.Manifests) -> tuple[list[tuple[CloudAccount, ScanPolicy]], list[str]]:
    """Pair every policy with the accounts it selects (same namespace); no policy means defaults."""
    if not found.accounts:
        raise manifest_io.ManifestError(
            ", ".join(sorted(set(found.origin.values()))) or "<input>",
            None,
            None,
            "no CloudAccount found; pass at least one CloudAccount manifest with -f",
        )
    policies = found.policies or [
        ScanPolicy(metadata=ObjectMeta(name="default", namespace=ns))
        for ns in sorted({a.metadata.namespace for a in found.accounts})
    ]
    pairs = [
        (account, policy)
        for policy in policies
        for account in found.accounts
        if selects(policy, account.metadata.namespace, account.metadata.labels)
    ]
    paired = {(a.metadata.namespace, a.metadata.name) for a, _ in pairs}
    notes = [
        f"CloudAccount/{a.metadata.name} in namespace '{a.metadata.namespace}' "
        "is selected by no ScanPolicy; not scanned"
        for a in found.accounts
        if (a.metadata.namespace, a.metadata.name) not in paired
    ]
    notes += [
        f"CloudAccount/{a.metadata.name} is suspended (spec.suspend); not scanned"
        for a, _ in pairs
        if a.spec.suspend
    ]
    return [(a, p) for a, p in pairs if not a.spec.suspend], notes


def run_scans(
    found: manifest_io.Manifests,
    *,
    store: Repository | None,
    concurrency: int = 4,
    credentials: Credentials | None = None,
    progress: bool = False,
    price_book: PriceBook | None = None,
) -> tuple[Report, list[str]]:
    """Validate every pair, then scan them concurrently; account failures are reported, not raised."""
    pairs, notes = plan(found)
    for account, policy in pairs:
        try:
            select(policy.spec, account.spec.provider)
        except PolicyError as exc:
            raise manifest_io.ManifestError(
                found.file_of(policy), f"ScanPolicy/{policy.metadata.name}", exc.field, exc.message
            ) from None
        if account.spec.secret_ref() is not None and account.spec.provider in providers.supported():
            hint = providers.get(account.spec.provider).credentials_hint()
            notes.append(f"CloudAccount/{account.metadata.name}: {hint}")
    report = Report()

    def one(pair: tuple[CloudAccount, ScanPolicy]) -> ScanOutcome | AccountError:
        account, policy = pair
        try:
            return scan(
                account,
                policy,
                store=store,
                credentials=credentials,
                price_book=price_book,
                agent_reports=agent_reports_of(store),
            )
        except ProviderError as exc:
            message = hints.message(account.spec.provider, exc.reason, exc.message)
            return AccountError(
                found.file_of(account), f"CloudAccount/{account.metadata.name}", exc.reason, message
            )

    console = Console(file=sys.stderr)
    with (
        ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool,
        Progress(console=console, transient=True, disable=not progress) as bar,
    ):
        task = bar.add_task("scanning accounts", total=len(pairs))
        for result in pool.map(one, pairs):
            bar.advance(task)
            if isinstance(result, AccountError):
                report.errors.append(result)
            else:
                report.outcomes.append(result)
    if store is not None:  # what earlier scans saw carried out (the closed loop), for the HTML report
        report.loop = [
            r
            for o in report.outcomes
            for r in store.outcomes(o.tenant, account_name=o.account_name)
            if r.state in ("Applied", "Verified")
        ]
    return report, notes


def load_prices(path: str | None) -> PriceBook | None:
    """A price snapshot file of any cloud, or None for the bundled one; a bad file is an input error."""
    if not path:
        return None
    try:
        return pricing.load_book(path)
    except (OSError, ValueError) as exc:
        raise manifest_io.ManifestError(path, None, None, f"cannot use this price snapshot: {exc}") from None


def _gate(report: Report, args: argparse.Namespace, fail_above: Decimal | None) -> int:
    if report.errors:
        return hints.exit_code({e.reason for e in report.errors})
    if args.fail_on_findings and report.findings:
        return EXIT_GATE
    if fail_above is not None and report.total.amount > fail_above:
        return EXIT_GATE
    return EXIT_OK


def run(args: argparse.Namespace) -> int:
    # soft_wrap: error lines stay whole, so scripts and tests can match them.
    err = Console(file=sys.stderr, highlight=False, soft_wrap=True)
    fail_above: Decimal | None = None
    if args.fail_above is not None:
        try:
            fail_above = Decimal(args.fail_above)
        except InvalidOperation:
            say(err, f"error: --fail-above: '{args.fail_above}' is not a number (e.g. 100 or 99.50)")
            return EXIT_INPUT
    if args.profile:
        # The standard chain reads it like `aws --profile`: base credentials for every AWS account.
        os.environ["AWS_PROFILE"] = args.profile
    try:
        book = load_prices(args.prices)
        found = manifest_io.load(args.filename)
        store = None if args.no_store else SqlRepository.sqlite(args.data_dir)
        try:
            report, notes = run_scans(
                found,
                store=store,
                concurrency=args.concurrency,
                progress=sys.stderr.isatty() and not args.quiet,
                price_book=book,
            )
        finally:
            if store is not None:
                store.close()
    except manifest_io.ManifestError as exc:
        say(err, f"error: {exc}")
        return EXIT_INPUT
    for note in [] if args.quiet else notes:
        say(err, f"note: {note}")
    _write(report, args, err)
    for error in report.errors:
        say(err, f"error: {error.file}: {error.obj}: {error.reason}: {error.message}")
    return _gate(report, args, fail_above)


def _write(report: Report, args: argparse.Namespace, err: Console) -> None:
    """The report to --output-file (owner-only) or stdout; -q prints none to stdout."""
    if args.output_file:
        # Reports name accounts and resources: owner-only, like everything else Cloudios writes.
        with os.fdopen(files.open_private(args.output_file), "w", encoding="utf-8") as fh:
            render(report, args.output, fh)
        if not args.quiet:
            say(err, f"report written to {args.output_file}")
    elif not args.quiet:
        render(report, args.output, sys.stdout)
