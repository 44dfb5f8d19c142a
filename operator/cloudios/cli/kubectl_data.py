"""`kubectl cloudios export|erase`: call the operator's data-rights API with your bearer token."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import httpx

from cloudios.security import tls

URL_ENV, CA_ENV, TOKEN_ENV = "CLOUDIOS_INGEST_URL", "CLOUDIOS_INGEST_CA", "CLOUDIOS_TOKEN"
TIMEOUT_SECONDS = 120.0


class DataRightsError(Exception):
    """A refusal or failure to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[argparse.ArgumentParser]:
    export = sub.add_parser("export", help="the namespace's whole data as JSON (needs cloudios-owner)")
    export.add_argument("-o", "--output-file", metavar="FILE", help="write here instead of stdout")
    erase = sub.add_parser(
        "erase", help="erase the namespace's data (needs cloudios-owner; cannot be undone)"
    )
    erase.add_argument("--yes", action="store_true", help="confirm the erasure")
    for p in (export, erase):
        p.add_argument(
            "--url", default=os.environ.get(URL_ENV), help=f"the data-rights API (default ${URL_ENV})"
        )
        p.add_argument(
            "--certificate-authority",
            dest="ca_file",
            default=os.environ.get(CA_ENV),
            metavar="FILE",
            help=f"CA bundle of its certificate (default ${CA_ENV}, else the system's)",
        )
        p.add_argument(
            "--token",
            default=os.environ.get(TOKEN_ENV),
            help=f"bearer token (default ${TOKEN_ENV}, else the kubeconfig's)",
        )
    return [export, erase]


def call(args: argparse.Namespace, namespace: str, token: str | None) -> int:
    """Run export or erase against the API; the answer's JSON goes to stdout (or the file)."""
    if not args.url:
        raise DataRightsError(f"pass --url https://… of the data-rights API (or set ${URL_ENV})", 2)
    if not token:
        raise DataRightsError(
            f"no bearer token: pass --token (or set ${TOKEN_ENV}); the kubeconfig has none", 2
        )
    if args.command == "erase" and not args.yes:
        raise DataRightsError(f"erasing {namespace}'s data cannot be undone: add --yes", 2)
    method, path = ("GET", "export") if args.command == "export" else ("DELETE", "data")
    url = f"{args.url.rstrip('/')}/api/v1/namespaces/{namespace}/{path}"
    try:
        with httpx.Client(verify=tls.client_context(args.ca_file), timeout=TIMEOUT_SECONDS) as client:
            response = client.request(method, url, headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        raise DataRightsError(f"cannot reach {args.url}: {type(exc).__name__}: {exc}", 1) from None
    body: Any = _json(response)
    if response.status_code != httpx.codes.OK:
        message = body.get("error") if isinstance(body, dict) else response.text.strip()
        raise DataRightsError(f"{response.status_code}: {message}", 1)
    text = json.dumps(body, indent=2) + "\n"
    if args.command == "export" and args.output_file:
        from cloudios.security import files  # noqa: PLC0415

        files.write_private(args.output_file, text)
        sys.stderr.write(f"exported {namespace} to {args.output_file}\n")
    else:
        sys.stdout.write(text)
    return 0


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
