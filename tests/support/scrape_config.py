"""A chart-rendered ServiceMonitor turned into the prometheus.yml scrape_config the Prometheus Operator
would generate for it, so a plain Prometheus scrapes the operator exactly as the chart says.

The Prometheus Operator is not part of the test environment (it needs a running cluster with pods);
this module does its translation for one endpoint, for the fields the chart sets or lets users set:

| ServiceMonitor endpoint        | prometheus.yml scrape_config                                  |
|--------------------------------|---------------------------------------------------------------|
| `path`                         | `metrics_path`                                                |
| `scheme`                       | `scheme`                                                      |
| `interval`, `scrapeTimeout`    | `scrape_interval`, `scrape_timeout`                           |
| `honorLabels`                  | `honor_labels`                                                |
| `bearerTokenFile`              | `authorization: {type: Bearer, credentials_file}` (the pod's  |
|                                | token path mapped to a file holding a real ServiceAccount token) |
| `authorization.credentials`    | `authorization.credentials_file` (Secret key -> local file)   |
| `tlsConfig.insecureSkipVerify` | `tls_config.insecure_skip_verify`                             |
| `tlsConfig.serverName`         | `tls_config.server_name`                                      |
| `tlsConfig.ca` / `caFile`      | `tls_config.ca_file` (Secret or ConfigMap key -> local file)  |
| `relabelings`                  | `relabel_configs` (camelCase keys -> snake_case, action lower) |
| `metricRelabelings`            | `metric_relabel_configs`                                      |
| (Service discovery)            | `static_configs` with the target labels the operator adds:    |
|                                | `namespace`, `service`, `endpoint`, `pod`, `job` (the Service) |

Anything else in the endpoint is refused (ValueError), so a field the chart starts to set cannot be
silently ignored by the test that proves the scrape works.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

IN_POD_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token"
KNOWN = frozenset(
    {
        "port", "path", "scheme", "interval", "scrapeTimeout", "honorLabels", "bearerTokenFile",
        "authorization", "tlsConfig", "relabelings", "metricRelabelings",
    }
)  # fmt: skip
TLS_KNOWN = frozenset({"insecureSkipVerify", "serverName", "ca", "caFile"})


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


def _relabel(rules: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for rule in rules:
        converted = {_snake(k): v for k, v in rule.items()}
        if "action" in converted:
            converted["action"] = str(converted["action"]).lower()
        out.append(converted)
    return out


def _key_file(ref: Mapping[str, Any], files: Mapping[tuple[str, str], Path], what: str) -> str:
    """A ``{secret: {name, key}}`` or ``{configMap: {name, key}}`` reference -> the local file the
    test wrote that key's content to."""
    source = ref.get("secret") or ref.get("configMap") or ref
    key = (str(source.get("name")), str(source.get("key")))
    if key not in files:
        raise ValueError(f"{what} refers to {key}, which the test did not provide as a file")
    return str(files[key])


def _authorization(
    endpoint: Mapping[str, Any], token_file: Path, files: Mapping[tuple[str, str], Path]
) -> dict[str, Any]:
    if "bearerTokenFile" in endpoint:
        if endpoint["bearerTokenFile"] != IN_POD_TOKEN:
            raise ValueError(f"bearerTokenFile {endpoint['bearerTokenFile']!r} is not the pod's token")
        return {"authorization": {"type": "Bearer", "credentials_file": str(token_file)}}
    if "authorization" in endpoint:
        auth = endpoint["authorization"]
        credentials = _key_file({"secret": auth["credentials"]}, files, "authorization")
        return {"authorization": {"type": auth.get("type", "Bearer"), "credentials_file": credentials}}
    return {}


def _tls(tls: Mapping[str, Any], files: Mapping[tuple[str, str], Path]) -> dict[str, Any]:
    if set(tls) - TLS_KNOWN:
        raise ValueError(f"tlsConfig fields not translated: {sorted(set(tls) - TLS_KNOWN)}")
    if not tls:
        return {}
    config: dict[str, Any] = {"insecure_skip_verify": bool(tls.get("insecureSkipVerify", False))}
    if "serverName" in tls:
        config["server_name"] = tls["serverName"]
    if "ca" in tls:
        config["ca_file"] = _key_file(tls["ca"], files, "tlsConfig.ca")
    if "caFile" in tls:
        config["ca_file"] = tls["caFile"]
    return {"tls_config": config}


def scrape_config(
    monitor: Mapping[str, Any],
    *,
    target: str,
    token_file: Path,
    files: Mapping[tuple[str, str], Path] | None = None,
    pod: str = "cloudios-operator-0",
) -> dict[str, Any]:
    """The scrape_config for the monitor's first endpoint, scraping ``target`` (host:port).

    ``token_file`` stands in for the in-pod ServiceAccount token; ``files`` maps (Secret or
    ConfigMap name, key) to local files holding those keys (CA bundles, credentials).
    """
    files = files or {}
    (endpoint,) = monitor["spec"]["endpoints"]
    unknown = set(endpoint) - KNOWN
    if unknown:
        raise ValueError(f"ServiceMonitor endpoint fields not translated: {sorted(unknown)}")
    meta = monitor["metadata"]
    service = str(meta["name"])
    config: dict[str, Any] = {
        "job_name": f"serviceMonitor/{meta['namespace']}/{service}/0",
        "metrics_path": endpoint.get("path", "/metrics"),
        "scheme": endpoint.get("scheme", "http"),
        "honor_labels": bool(endpoint.get("honorLabels", False)),
        "static_configs": [
            {
                "targets": [target],
                "labels": {
                    "namespace": str(meta["namespace"]),
                    "service": service,
                    "endpoint": str(endpoint.get("port", "")),
                    "pod": pod,
                    "job": service,
                },
            }
        ],
    }
    if "interval" in endpoint:
        config["scrape_interval"] = endpoint["interval"]
    if "scrapeTimeout" in endpoint:
        config["scrape_timeout"] = endpoint["scrapeTimeout"]
    config.update(_authorization(endpoint, token_file, files))
    config.update(_tls(endpoint.get("tlsConfig") or {}, files))
    if endpoint.get("relabelings"):
        config["relabel_configs"] = _relabel(endpoint["relabelings"])
    if endpoint.get("metricRelabelings"):
        config["metric_relabel_configs"] = _relabel(endpoint["metricRelabelings"])
    return config
