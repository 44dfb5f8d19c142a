"""`kubectl cloudios export|erase`: call the operator's data-rights API with your bearer token."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import httpx

from cloudios.cli import serialize
from cloudios.cli.kubectl_args import TOKEN_ENV, URL_ENV
from cloudios.security import tls

TIMEOUT_SECONDS = 120.0


class DataRightsError(Exception):
    """A refusal or failure to report in one line, with the exit code to use."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


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
    text = serialize.dump(body, args.format)
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
