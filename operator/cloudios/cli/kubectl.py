"""`kubectl cloudios`: decide on and explain Recommendations; export and erase a namespace's data."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table

from cloudios.api import GROUP, VERSION
from cloudios.cli import kubectl_data, loop_summary
from cloudios.cli.terminal import cell
from cloudios.domain.text import printable

PLURAL = "recommendations"
OPEN_STATES = {"Proposed", "Approved", "Applied"}
MANAGED_BY = ("app.kubernetes.io/managed-by", "cloudios")
NOT_FOUND, FORBIDDEN = 404, 403


class PluginError(Exception):
    """A failure to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class _Impersonating:
    """Wraps the client's urllib3 pool so every request carries kubectl's impersonation headers.

    The client's default headers hold one value per name, but the API server reads each group
    from its own ``Impersonate-Group`` header line, so the headers are added per request here.
    """

    def __init__(self, pool: Any, user: str, groups: Sequence[str]) -> None:
        self._pool = pool
        self._user = user
        self._groups = tuple(groups)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        from urllib3 import HTTPHeaderDict  # noqa: PLC0415 - a dependency of the kubernetes client

        headers = HTTPHeaderDict(kwargs.pop("headers", None) or {})
        headers["Impersonate-User"] = self._user
        for group in self._groups:
            headers.add("Impersonate-Group", group)
        return self._pool.request(method, url, *args, headers=headers, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


def _configuration(args: argparse.Namespace) -> Any:
    from kubernetes import client, config  # noqa: PLC0415

    configuration = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=args.kubeconfig, context=args.context, client_configuration=configuration
        )
    except Exception as exc:  # noqa: BLE001 - any kubeconfig problem is one clear message
        raise PluginError(f"cannot load kubeconfig: {exc}", 2) from None
    return configuration


def _api(args: argparse.Namespace) -> Any:
    from kubernetes import client  # noqa: PLC0415

    api = client.ApiClient(_configuration(args))
    if args.as_user:
        rest: Any = api.rest_client
        rest.pool_manager = _Impersonating(rest.pool_manager, args.as_user, args.as_group)
    return client.CustomObjectsApi(api)


def _namespace(args: argparse.Namespace) -> str:
    if args.namespace:
        return str(args.namespace)
    from kubernetes import config  # noqa: PLC0415

    try:
        contexts, active = config.list_kube_config_contexts(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001
        return "default"
    if args.context:
        active = next((c for c in contexts or [] if c.get("name") == args.context), None)
    ns = ((active or {}).get("context") or {}).get("namespace")
    return str(ns or "default")


def _call(fn: Any, *a: Any, what: str, ns: str, **kw: Any) -> Any:
    from kubernetes.client.exceptions import ApiException  # noqa: PLC0415

    try:
        return fn(*a, **kw)
    except ApiException as exc:
        if exc.status == NOT_FOUND:
            raise PluginError(f"{what} not found in namespace {ns}") from None
        if exc.status == FORBIDDEN:
            raise PluginError(
                f"forbidden: you may not change {what} in namespace {ns}; "
                "deciding needs the cloudios-admin or cloudios-owner role there"
            ) from None
        message = exc.reason
        if exc.body:
            with contextlib.suppress(ValueError, AttributeError):
                message = json.loads(exc.body).get("message", message)
        raise PluginError(f"{what}: {message}") from None


def decide(args: argparse.Namespace, decision: str) -> int:
    api = _api(args)
    ns = _namespace(args)
    body: dict[str, Any] = {"spec": {"decision": {"type": decision}}}
    if args.reason:
        body["spec"]["decision"]["reason"] = args.reason
    obj = _call(
        api.patch_namespaced_custom_object,
        GROUP,
        VERSION,
        ns,
        PLURAL,
        args.name,
        body,
        what=f"recommendation/{args.name}",
        ns=ns,
    )
    decided_by = (obj.get("spec", {}).get("decision") or {}).get("decidedBy", "you")
    sys.stdout.write(f"recommendation.{GROUP}/{args.name} {decision.lower()} (recorded for {decided_by})\n")
    return 0


def _amount(obj: dict[str, Any]) -> Decimal:
    raw = ((obj.get("spec") or {}).get("monthlySavings") or {}).get("amount", "0")
    try:
        return Decimal(str(raw))
    except InvalidOperation:
        return Decimal(0)


def summary(args: argparse.Namespace) -> int:
    api = _api(args)
    if args.all_namespaces:
        items = _call(
            api.list_cluster_custom_object, GROUP, VERSION, PLURAL, what="recommendations", ns="all"
        )
    else:
        ns = _namespace(args)
        items = _call(
            api.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL, what="recommendations", ns=ns
        )
    groups: dict[str, dict[str, Decimal]] = {
        "namespace": defaultdict(Decimal),
        "account": defaultdict(Decimal),
        "category": defaultdict(Decimal),
    }
    total = Decimal(0)
    unconfirmed = 0
    for obj in items.get("items", []):
        if not _published(obj):
            unconfirmed += 1
            continue
        if (obj.get("status") or {}).get("state") not in OPEN_STATES:
            continue
        amount = _amount(obj)
        spec = obj.get("spec") or {}
        account = spec.get("accountRef") or {}
        account_name = account.get("name", "?") if isinstance(account, dict) else account
        total += amount
        groups["namespace"][obj["metadata"]["namespace"]] += amount
        groups["account"][f"{obj['metadata']['namespace']}/{account_name}"] += amount
        groups["category"][str(spec.get("category", "?"))] += amount
    console = Console()
    for title, rows in groups.items():
        heading = f"Monthly savings by {title}"
        table = Table(title=heading, title_justify="left", min_width=len(heading))
        table.add_column(title.capitalize())
        table.add_column("USD / month", justify="right")
        for key, value in sorted(rows.items(), key=lambda kv: -kv[1]):
            table.add_row(cell(key), f"{value:.2f}")  # keys come from objects' fields
        console.print(table)
    console.print(f"[bold]Total open savings: {total:.2f} USD per month[/]")
    loop_summary.print_loop(console, [o for o in items.get("items", []) if _published(o)])
    if unconfirmed:
        console.print(
            f"{unconfirmed} recommendation(s) not (yet) confirmed by the operator are not counted "
            "(no status written from its store); the operator deletes those it did not publish."
        )
    return 0


def _published(obj: dict[str, Any]) -> bool:
    """Counted only when the operator published it and wrote its status from its store (status is
    the operator's alone: the webhook refuses anyone else, and the operator replaces foreign states)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    status = obj.get("status") or {}
    confirmed = bool(status.get("state")) and bool(status.get("firstSeen"))
    return labels.get(MANAGED_BY[0]) == MANAGED_BY[1] and confirmed


def explain(args: argparse.Namespace) -> int:
    api = _api(args)
    ns = _namespace(args)
    obj = _call(
        api.get_namespaced_custom_object,
        GROUP,
        VERSION,
        ns,
        PLURAL,
        args.name,
        what=f"recommendation/{args.name}",
        ns=ns,
    )
    sys.stdout.write(describe(obj))
    return 0


def describe(obj: dict[str, Any]) -> str:
    """The evidence of a Recommendation in words."""
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    money = spec.get("monthlySavings") or {}
    lines = [
        f"{spec.get('title', obj['metadata']['name'])}",
        (
            f"  resource:   {spec.get('resourceType')} {spec.get('resourceName') or spec.get('resourceId')} "
            f"in {spec.get('region')} (account {spec.get('accountId')})"
        ),
        f"  module:     {spec.get('module')} ({spec.get('category')}), confidence {spec.get('confidence')}",
        f"  change:     {_pairs(spec.get('current'))} -> {_pairs(spec.get('proposed'))}",
        (
            f"  saves:      {money.get('amount', '?')} {money.get('currency', '')} per month "
            f"at {spec.get('priceBasis', 'list')} prices"
        ),
        f"  state:      {status.get('state', 'Proposed')}",
        *loop_summary.describe(status),
    ]
    evidence = spec.get("evidence") or {}
    # Metric summaries sit under evidence.metrics (one per metric); older objects had them on top.
    metrics = evidence.get("metrics")
    if not isinstance(metrics, dict):
        metrics = {}
    summaries = [m for m in [*metrics.values(), *evidence.values()] if isinstance(m, dict) and "metric" in m]
    lines.extend(
        f"  evidence:   {m['metric']}: average {m.get('average')}, peak {m.get('maximum')}, "
        f"p95 {m.get('p95OfDailyP95')} over {m.get('daysWithData')} of {m.get('lookbackDays')} days"
        for m in summaries
    )
    for key, value in evidence.items():
        if value is None or key == "metrics":
            continue
        if isinstance(value, list):
            if value:
                lines.append(f"  {key}: {'; '.join(map(str, value))}")
        elif isinstance(value, dict):
            if value and "metric" not in value:
                lines.append(f"  {key}: {_pairs(value)}")
        else:
            lines.append(f"  {key}: {value}")
    decision = spec.get("decision") or {}
    if decision:
        lines.append(
            f"  decision:   {decision.get('type')} by {decision.get('decidedBy', '?')} "
            f"at {decision.get('decidedAt', '?')}"
            + (f": {decision['reason']}" if decision.get("reason") else "")
        )
    # Every field is the object's (a decision's reason is typed by a user): no terminal controls.
    return "\n".join(printable(line) for line in lines) + "\n"


def _pairs(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value or "-")


def _connection_options(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """Options accepted before and after the command, as kubectl does (``approve r1 -n team-a``).

    After the command they default to SUPPRESS so they never overwrite a value given before it.
    """
    default: dict[str, Any] = {} if top else {"default": argparse.SUPPRESS}
    parser.add_argument("--kubeconfig", help="path to the kubeconfig file", **default)
    parser.add_argument("--context", help="kubeconfig context to use", **default)
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)", **default)
    parser.add_argument(
        "--as",
        dest="as_user",
        metavar="USER",
        help="act as this user (impersonation, like kubectl --as; needs the `impersonate` right)",
        **default,
    )
    parser.add_argument(
        "--as-group",
        dest="as_group" if top else "as_group_after",
        metavar="GROUP",
        action="append",
        default=[] if top else argparse.SUPPRESS,
        help="with --as: act as a member of this group (repeatable)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl cloudios", description="Work with Cloudios Recommendations."
    )
    _connection_options(parser, top=True)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("approve", "approve a recommendation"), ("dismiss", "dismiss a recommendation")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("name", help="Recommendation name")
        p.add_argument("--reason", help="why (recorded with your identity)")
        _connection_options(p, top=False)
    s = sub.add_parser("summary", help="open savings by namespace, account and category")
    s.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces you can read")
    _connection_options(s, top=False)
    e = sub.add_parser("explain", help="a recommendation's evidence in words")
    e.add_argument("name", help="Recommendation name")
    _connection_options(e, top=False)
    for p in kubectl_data.add_parsers(sub):
        _connection_options(p, top=False)
    return parser


def _kubeconfig_token(args: argparse.Namespace) -> str | None:
    """The bearer token of the kubeconfig's user, if it has one (client certificates have none)."""
    header = str(_configuration(args).api_key.get("authorization") or "")
    return header.removeprefix("Bearer ").strip() or None


def data_rights(args: argparse.Namespace) -> int:
    """export | erase through the operator's data-rights API, as the token's owner."""
    try:
        return kubectl_data.call(args, _namespace(args), args.token or _kubeconfig_token(args))
    except kubectl_data.DataRightsError as exc:
        raise PluginError(str(exc), exc.code) from None


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.as_group = [*args.as_group, *getattr(args, "as_group_after", [])]
    if args.as_group and not args.as_user:
        parser.error("--as-group needs --as (the user to impersonate)")
    try:
        if args.command in {"approve", "dismiss"}:
            return decide(args, "Approved" if args.command == "approve" else "Dismissed")
        if args.command == "summary":
            return summary(args)
        if args.command in {"export", "erase"}:
            return data_rights(args)
        return explain(args)
    except PluginError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.code


if __name__ == "__main__":
    raise SystemExit(main())
