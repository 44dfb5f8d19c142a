"""Prometheus HTTP API client of the history backfill: counted range queries, failures named."""

from __future__ import annotations

import math
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Self

import httpx

ERROR_TEXT_LIMIT = 300
"""Characters of a Prometheus error message kept in a report (its messages echo the query)."""


class PrometheusError(Exception):
    """One query failed (HTTP 4xx/5xx, timeout, unreachable, malformed answer); ``name`` says which."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


@dataclass(frozen=True)
class PrometheusSource:
    """Where the history lives and how to authenticate to it."""

    url: str
    ca_file: Path | None = None
    """PEM bundle that signed the server's certificate (https only); the system store when None."""
    token_file: Path | None = None
    """File holding a bearer token, re-read for every query (projected tokens rotate); https only."""
    timeout_seconds: float = 120.0

    def __post_init__(self) -> None:
        scheme = self.url.split("://", 1)[0].lower()
        if scheme not in {"http", "https"}:
            raise ValueError(f"Prometheus URL must start with http:// or https://, got {self.url!r}")
        if scheme == "http" and self.token_file is not None:
            raise ValueError("a bearer token is only sent over https: use an https:// Prometheus URL")
        if scheme == "http" and self.ca_file is not None:
            raise ValueError("a CA file only applies to an https:// Prometheus URL")


@dataclass(frozen=True)
class Series:
    """One series of a range query: its labels and its points as (unix seconds, value)."""

    labels: dict[str, str]
    points: list[tuple[int, float]]


class PrometheusClient:
    """Sends range and label-value queries; counts every query sent, successful or not."""

    def __init__(self, source: PrometheusSource, *, transport: httpx.BaseTransport | None = None) -> None:
        self.source = source
        self._lock = threading.Lock()
        self.queries_sent = 0
        verify: ssl.SSLContext | bool = True
        if source.url.lower().startswith("https://"):
            verify = ssl.create_default_context(cafile=str(source.ca_file) if source.ca_file else None)
            verify.minimum_version = ssl.TLSVersion.TLSv1_2
        self._http = httpx.Client(
            base_url=source.url.rstrip("/"),
            verify=verify,
            timeout=source.timeout_seconds,
            transport=transport,
            headers={"Accept": "application/json"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def query_range(self, name: str, query: str, start: int, end: int, step: int) -> list[Series]:
        """``/api/v1/query_range`` (POST form, so long namespace regexes fit); a matrix of series."""
        form = {"query": query, "start": str(start), "end": str(end), "step": f"{step}s"}
        data = self._call(name, "/api/v1/query_range", form)
        if not isinstance(data, dict) or data.get("resultType") != "matrix":
            raise PrometheusError(name, "answer is not a matrix")
        try:
            return [_series(item) for item in data.get("result") or []]
        except (AttributeError, KeyError, TypeError, ValueError):
            raise PrometheusError(name, "malformed series in the answer") from None

    def label_values(self, name: str, label: str, match: str, start: int, end: int) -> list[str]:
        """``/api/v1/label/<label>/values`` restricted to series matching ``match`` in [start, end]."""
        params = {"match[]": match, "start": str(start), "end": str(end)}
        data = self._call(name, f"/api/v1/label/{label}/values", params, method="GET")
        if not isinstance(data, list):
            raise PrometheusError(name, "answer is not a list of label values")
        return [str(v) for v in data]

    def _headers(self) -> dict[str, str]:
        if self.source.token_file is None:
            return {}
        token = self.source.token_file.read_text().strip()
        return {"Authorization": f"Bearer {token}"}

    def _call(self, name: str, path: str, params: dict[str, str], method: str = "POST") -> Any:
        with self._lock:
            self.queries_sent += 1
        try:
            headers = self._headers()
        except OSError as exc:
            raise PrometheusError(name, f"cannot read the token file: {exc.strerror or exc}") from None
        try:
            if method == "POST":
                response = self._http.post(path, data=params, headers=headers)
            else:
                response = self._http.get(path, params=params, headers=headers)
        except httpx.TimeoutException:
            raise PrometheusError(name, f"timed out after {self.source.timeout_seconds:g} s") from None
        except httpx.HTTPError as exc:
            raise PrometheusError(
                name, f"cannot reach Prometheus: {_short(str(exc) or type(exc).__name__)}"
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if response.is_error or not isinstance(body, dict) or body.get("status") != "success":
            detail = ""
            if isinstance(body, dict) and body.get("error"):
                detail = f": {body.get('errorType', 'error')}: {_short(str(body['error']))}"
            elif body is None:
                detail = ": answer is not JSON"
            raise PrometheusError(name, f"HTTP {response.status_code}{detail}")
        return body.get("data")


def _series(item: dict[str, Any]) -> Series:
    points = []
    for ts, raw in item.get("values", []):
        value = float(raw)
        if math.isfinite(value):
            points.append((round(float(ts)), value))
    return Series({str(k): str(v) for k, v in item.get("metric", {}).items()}, points)


def _short(text: str) -> str:
    return text if len(text) <= ERROR_TEXT_LIMIT else text[: ERROR_TEXT_LIMIT - 1] + "…"
