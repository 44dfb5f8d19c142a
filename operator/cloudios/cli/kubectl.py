"""`kubectl cloudios`: approve, dismiss, summary and explain Recommendations in the cluster."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from typing import Any

from rich.console import Console
from rich.table import Table

from cloudios.api import GROUP, VERSION

PLURAL = "recommendations"
OPEN_STATES = {"Proposed", "Approved", "Applied", None}
NOT_FOUND, FORBIDDEN = 404, 403


class PluginError(Exception):
    """A failure to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _api(args: argparse.Namespace) -> Any:
    from kubernetes import client, config  # noqa: PLC0415

    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=args.kubeconfig, context=args.context
        )
    except Exception as exc:  # noqa: BLE001 - any kubeconfig problem is one clear message
        raise PluginError(f"cannot load kubeconfig: {exc}", 2) from None
    return client.CustomObjectsApi()


def _namespace(args: argparse.Namespace) -> str:
    if args.namespace:
        return str(args.namespace)
    from kubernetes import config  # noqa: PLC0415

    try:
        _, active = config.list_kube_config_contexts(config_file=args.kubeconfig)  # type: ignore[no-untyped-call]
    except Exception:  # noqa: BLE001
        return "default"
    ns = (active or {}).get("context", {}).get("namespace")
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
            import json  # noqa: PLC0415

            with contextlib.suppress(ValueError):
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
    for obj in items.get("items", []):
        if (obj.get("status") or {}).get("state") not in OPEN_STATES:
            continue
        amount = _amount(obj)
        spec = obj.get("spec") or {}
        total += amount
        groups["namespace"][obj["metadata"]["namespace"]] += amount
        groups["account"][f"{obj['metadata']['namespace']}/{spec.get('accountRef', '?')}"] += amount
        groups["category"][str(spec.get("category", "?"))] += amount
    console = Console()
    for title, rows in groups.items():
        table = Table(title=f"Monthly savings by {title}", title_justify="left")
        table.add_column(title.capitalize())
        table.add_column("USD / month", justify="right")
        for key, value in sorted(rows.items(), key=lambda kv: -kv[1]):
            table.add_row(key, f"{value:.2f}")
        console.print(table)
    console.print(f"[bold]Total open savings: {total:.2f} USD per month[/]")
    return 0


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
    ]
    evidence = spec.get("evidence") or {}
    lines.extend(
        f"  evidence:   {m['metric']}: average {m.get('average')}, peak {m.get('maximum')}, "
        f"p95 {m.get('p95OfDailyP95')} over {m.get('daysWithData')} of {m.get('lookbackDays')} days"
        for m in evidence.values()
        if isinstance(m, dict) and "metric" in m
    )
    for key, value in evidence.items():
        if not isinstance(value, dict | list):
            lines.append(f"  {key}: {value}")
    decision = spec.get("decision") or {}
    if decision:
        lines.append(
            f"  decision:   {decision.get('type')} by {decision.get('decidedBy', '?')} "
            f"at {decision.get('decidedAt', '?')}"
            + (f": {decision['reason']}" if decision.get("reason") else "")
        )
    return "\n".join(lines) + "\n"


def _pairs(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "-"
    return str(value or "-")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="kubectl cloudios", description="Work with Cloudios Recommendations."
    )
    parser.add_argument("--kubeconfig", help="path to the kubeconfig file")
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("approve", "approve a recommendation"), ("dismiss", "dismiss a recommendation")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("name", help="Recommendation name")
        p.add_argument("--reason", help="why (recorded with your identity)")
    s = sub.add_parser("summary", help="open savings by namespace, account and category")
    s.add_argument("-A", "--all-namespaces", action="store_true", help="across all namespaces you can read")
    e = sub.add_parser("explain", help="a recommendation's evidence in words")
    e.add_argument("name", help="Recommendation name")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command in {"approve", "dismiss"}:
            return decide(args, "Approved" if args.command == "approve" else "Dismissed")
        if args.command == "summary":
            return summary(args)
        return explain(args)
    except PluginError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.code


if __name__ == "__main__":
    raise SystemExit(main())
