"""Request handling of the Azure emulator: token endpoint, Resource Graph queries, metrics queries."""

from __future__ import annotations

import json
from datetime import date
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from cloudios.emulators.azure import arm, server

if TYPE_CHECKING:
    from cloudios.emulators.azure.estate import Estate
    from cloudios.emulators.azure.server import AzureEmulator, Principal

TOO_MANY = 429
_STATS = ("average", "maximum", "minimum", "total", "count")


class Handler(BaseHTTPRequestHandler):
    """Routes one request; ``owner`` is the emulator whose state it reads."""

    owner: ClassVar[AzureEmulator]
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the suite makes thousands of requests

    # --- plumbing
    def _send(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        body = server.json_body(payload)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-ms-request-id", "emulator")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _error(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        self._send(status, {"error": {"code": code, "message": message}}, headers)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _throttled(self, api: str) -> bool:
        status = self.owner.next_throttle(api)
        if status is None:
            return False
        self.owner.calls[f"{api}.throttled"] += 1
        headers = {"Retry-After": "0"} if status == TOO_MANY else {}
        self._error(status, "TooManyRequests", f"the emulator throttles this {api} call", headers)
        return True

    def _principal(self) -> Principal | None:
        auth = self.headers.get("Authorization", "")
        principal = self.owner.principal_of(auth[7:]) if auth.startswith("Bearer ") else None
        if principal is None:
            self._error(401, "InvalidAuthenticationToken", "The access token is missing or invalid.")
        return principal

    # --- routes
    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.lower().endswith("/providers/microsoft.insights/metrics"):
            self._resource_metrics(path)
            return
        if path.endswith("/v2.0/.well-known/openid-configuration"):
            tenant = path.strip("/").split("/")[0]
            base = f"https://{self.headers.get('Host')}/{tenant}"
            self._send(
                200,
                {
                    "token_endpoint": f"{base}/oauth2/v2.0/token",
                    "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                    "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    "issuer": f"{base}/v2.0",
                    "tenant_region_scope": "EU",
                },
            )
            return
        self._error(404, "NotFound", f"the emulator does not serve GET {path}")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._body()
        if path.endswith("/oauth2/v2.0/token"):
            self._token(path.strip("/").split("/")[0], body)
        elif path.lower() == "/providers/microsoft.resourcegraph/resources":
            self._graph(body)
        elif path.lower().endswith("/providers/microsoft.insights/metrics"):
            self._metrics(path.strip("/").split("/")[1], body)
        else:
            self._error(404, "NotFound", f"the emulator does not serve POST {path}")

    def _token(self, tenant: str, body: bytes) -> None:
        self.owner.calls["token"] += 1
        if self._throttled("token"):
            return
        form = {k: v[-1] for k, v in parse_qs(body.decode()).items()}
        principal = self.owner.principals.get(form.get("client_id", "").lower())
        if principal is None or principal.tenant_id.lower() != tenant.lower():
            self._send(
                400,
                {
                    "error": "unauthorized_client",
                    "error_description": "AADSTS700016: Application not found in the directory.",
                    "error_codes": [700016],
                },
            )
            return
        secret, assertion = form.get("client_secret"), form.get("client_assertion")
        valid = (secret is not None and secret == principal.secret) or (
            assertion is not None and assertion == principal.federated_token
        )
        if not valid:
            self._send(
                401,
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                    "error_codes": [7000215],
                },
            )
            return
        token = self.owner.issue(principal)
        self._send(
            200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token}
        )

    def _graph(self, body: bytes) -> None:
        self.owner.calls["graph"] += 1
        principal = self._principal()
        if principal is None or self._throttled("graph"):
            return
        request = json.loads(body or b"{}")
        query = str(request.get("query", ""))
        options = request.get("options") or {}
        estates = [e for s in request.get("subscriptions") or [] if (e := self.owner.visible(principal, s))]
        if "resourcecontainers" in query.lower():
            rows: list[dict[str, Any]] = [
                {
                    "subscriptionId": e.account,
                    "name": f"subscription {e.account}",
                    "type": "microsoft.resources/subscriptions",
                }
                for e in estates
            ]
        else:
            match = server.TYPE_FILTER.search(query)
            if match is None:
                self._error(
                    400, "BadRequest", "the emulator only answers queries with a type =~ '...' filter"
                )
                return
            arm_type = match[1].lower()
            kinds = {k for k, t in arm.ARM_TYPES.items() if t == arm_type}
            rows = [arm.arm_object(r, e.account) for e in estates for r in e.resources if r.kind in kinds]
        top = min(int(options.get("$top") or options.get("top") or 100), server.GRAPH_PAGE)
        skip = int(options.get("$skipToken") or options.get("skipToken") or 0)
        page = rows[skip : skip + top]
        payload: dict[str, Any] = {
            "totalRecords": len(rows),
            "count": len(page),
            "resultTruncated": "false",
            "data": page,
        }
        if skip + top < len(rows):
            payload["$skipToken"] = str(skip + top)
        self._send(200, payload)

    def _metrics(self, subscription: str, body: bytes) -> None:
        self.owner.calls["metrics"] += 1
        principal = self._principal()
        if principal is None or self._throttled("metrics"):
            return
        estate = self.owner.visible(principal, subscription)
        if estate is None:
            self._error(
                403, "AuthorizationFailed", f"no read access to metrics of subscription {subscription}"
            )
            return
        query = server.query_of(self.path)
        request = {k.lower(): v for k, v in json.loads(body or b"{}").items()}
        region = (query.get("region") or request.get("region") or "").lower()
        namespace = (query.get("metricnamespace") or request.get("metricnamespace") or "").lower()
        names = [
            n.strip()
            for n in str(request.get("metricnames") or query.get("metricnames") or "").split(",")
            if n
        ]
        ids = server.ID_FILTER.findall(str(request.get("filter") or ""))
        interval = str(request.get("interval") or "PT1M")
        if not ids or len(ids) > server.MAX_RESOURCES_PER_CALL:
            self._error(
                400, "BadRequest", f"{len(ids)} resources: a call takes 1 to 50 Microsoft.ResourceId values"
            )
            return
        if not names or len(names) > server.MAX_METRICS_PER_CALL:
            self._error(400, "BadRequest", f"{len(names)} metrics: a call takes 1 to 20 metric names")
            return
        if interval.upper() != "P1D":
            self._error(
                400, "BadRequest", f"interval {interval}: the emulator serves daily series (P1D) only"
            )
            return
        wanted = [s.strip().lower() for s in str(request.get("aggregation") or "average").split(",")]
        for resource_id in ids:
            found = estate.by_id().get(resource_id.lower())
            if found is None or found.region != region or arm.ARM_TYPES.get(found.kind) != namespace:
                self._error(
                    400,
                    "BadRequest",
                    f"{resource_id} is not a {namespace} resource in {region}: one call "
                    "covers one subscription, region and resource type",
                )
                return
        start, end = _timespan(str(request.get("timespan") or ""))
        self.owner.metrics_calls.append(
            server.MetricsCall(subscription, region, namespace, len(ids), tuple(names))
        )
        top = int(request.get("top") or server.DEFAULT_TOP)
        values = _values(self.owner, estate, subscription, ids, names, wanted, (start, end), top)
        self._send(
            200,
            {
                "cost": len(ids) * len(names),
                "timespan": request.get("timespan"),
                "interval": "P1D",
                "namespace": namespace,
                "resourceregion": region,
                "value": values,
            },
        )

    def _resource_metrics(self, path: str) -> None:
        """Metrics - List on one resource (GET {resourceUri}/providers/Microsoft.Insights/metrics)."""
        self.owner.calls["metrics.resource"] += 1
        principal = self._principal()
        if principal is None or self._throttled("metrics"):
            return
        resource_id = path[: path.lower().index("/providers/microsoft.insights/metrics")]
        subscription = resource_id.strip("/").split("/")[1]
        estate = self.owner.visible(principal, subscription)
        if estate is None or estate.by_id().get(resource_id.lower()) is None:
            self._error(404, "ResourceNotFound", f"{resource_id} was not found")
            return
        query = server.query_of(self.path)
        names = [n.strip() for n in query.get("metricnames", "").split(",") if n.strip()]
        wanted = [s.strip().lower() for s in query.get("aggregation", "average").split(",")]
        if query.get("interval", "PT1M").upper() != "P1D":
            self._error(400, "BadRequest", "the emulator serves daily series (P1D) only")
            return
        span = _timespan(query.get("timespan", ""))
        values = _values(self.owner, estate, subscription, [resource_id], names, wanted, span, 1)
        self._send(
            200, {"cost": len(names), "timespan": query.get("timespan"), "interval": "P1D", "value": values}
        )


def _values(  # noqa: PLR0917 - one answer shape for both metrics APIs
    owner: AzureEmulator,
    estate: Estate,
    subscription: str,
    ids: list[str],
    names: list[str],
    wanted: list[str],
    span: tuple[date, date],
    top: int,
) -> list[dict[str, Any]]:
    """The ``value`` of a metrics answer: per metric, one time series per resource with data."""
    start, end = span
    values = []
    for name in names:
        key = name.lower().replace(" ", "_")
        timeseries = []
        for resource_id in ids:
            days = [d for d in owner.days(estate, resource_id, key) if start <= d.day < end]
            if not days:
                continue
            data = [
                {"timeStamp": server.day_stamp(d.day), **{s: getattr(d, s) for s in _STATS if s in wanted}}
                for d in days
            ]
            metadata = {"name": {"value": "Microsoft.ResourceId", "localizedValue": "Microsoft.ResourceId"}}
            timeseries.append({"metadatavalues": [{**metadata, "value": resource_id}], "data": data})
        values.append(
            {
                "id": f"/subscriptions/{subscription}/providers/Microsoft.Insights/metrics/{name}",
                "type": "Microsoft.Insights/metrics",
                "name": {"value": name, "localizedValue": name},
                "unit": server.UNITS.get(key, "Bytes"),
                "timeseries": timeseries[:top],
                "errorCode": "Success",
            }
        )
    return values


def _timespan(text: str) -> tuple[date, date]:
    start, _, end = text.partition("/")
    return date.fromisoformat(start[:10]), date.fromisoformat(end[:10])
