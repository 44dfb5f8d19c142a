"""`kubectl cloudios`: list, summarise, explain and decide on Recommendations; export and erase a
namespace's data. Options and help are in kubectl_args, what is shown in kubectl_views."""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from cloudios.api import GROUP, VERSION
from cloudios.cli import kubectl_args, kubectl_data, loop_summary, serialize
from cloudios.cli import kubectl_views as views
from cloudios.cli.terminal import cell

PLURAL = "recommendations"
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
    if args.output in serialize.FORMATS:
        sys.stdout.write(serialize.dump(views.explanation(obj), args.output))
    elif args.output == "name":
        sys.stdout.write(f"recommendation.{GROUP}/{args.name}\n")
    else:
        decided_by = (obj.get("spec", {}).get("decision") or {}).get("decidedBy", "you")
        sys.stdout.write(
            f"recommendation.{GROUP}/{args.name} {decision.lower()} (recorded for {decided_by})\n"
        )
    return 0


def _items(api: Any, args: argparse.Namespace) -> list[dict[str, Any]]:
    """The Recommendations of the namespace, or of every namespace with -A."""
    if args.all_namespaces:
        found = _call(
            api.list_cluster_custom_object, GROUP, VERSION, PLURAL, what="recommendations", ns="all"
        )
    else:
        ns = _namespace(args)
        found = _call(
            api.list_namespaced_custom_object, GROUP, VERSION, ns, PLURAL, what="recommendations", ns=ns
        )
    return list(found.get("items", []))


def summary(args: argparse.Namespace) -> int:
    items = _items(_api(args), args)
    data = views.summary(items)
    if args.output in serialize.FORMATS:
        sys.stdout.write(serialize.dump(data, args.output))
        return 0
    console = Console()
    for group in views.GROUPS:
        heading = f"Monthly savings by {group}"
        table = Table(title=heading, title_justify="left", min_width=len(heading))
        table.add_column(group.capitalize())
        table.add_column("USD / month", justify="right")
        for key, money in data[f"by{group.capitalize()}"].items():
            table.add_row(cell(key), money["amount"])  # keys come from objects' fields
        console.print(table)
    console.print(f"[bold]Total open savings: {data['monthlySavings']['amount']} USD per month[/]")
    loop_summary.print_loop(console, [o for o in items if views.published(o)])
    if data["unconfirmed"]:
        console.print(
            f"{data['unconfirmed']} recommendation(s) not (yet) confirmed by the operator are not counted "
            "(no status written from its store); the operator deletes those it did not publish."
        )
    return 0


def listing(args: argparse.Namespace) -> int:
    found = views.rows(_items(_api(args), args))
    if args.output in serialize.FORMATS:
        sys.stdout.write(serialize.dump(found, args.output))
        return 0
    table = Table(box=None, pad_edge=False)
    columns = ["NAMESPACE"] if args.all_namespaces else []
    for column in [*columns, "NAME", "STATE", "ACCOUNT", "MODULE", "SAVINGS/MONTH", "TITLE"]:
        table.add_column(column, justify="right" if column == "SAVINGS/MONTH" else "left", no_wrap=True)
    for row in found:
        money = row["monthlySavings"] or {}
        saves = f"{money['amount']} {money.get('currency', '')}".strip() if money else "unpriced"
        cells = [row["namespace"]] if args.all_namespaces else []
        cells += [row["name"], row["state"], row["account"], row["module"], saves, row["title"]]
        table.add_row(*(cell(c) for c in cells))  # every cell comes from an object's fields
    Console(width=None if sys.stdout.isatty() else 200).print(table)
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
    if args.output in serialize.FORMATS:
        sys.stdout.write(serialize.dump(views.explanation(obj), args.output))
    else:
        sys.stdout.write(views.describe(obj))
    return 0


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


def build_parser() -> argparse.ArgumentParser:
    """The plugin's parser (declared in kubectl_args)."""
    return kubectl_args.build_parser()


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
        if args.command == "list":
            return listing(args)
        if args.command in {"export", "erase"}:
            return data_rights(args)
        return explain(args)
    except PluginError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return exc.code


if __name__ == "__main__":
    raise SystemExit(main())
