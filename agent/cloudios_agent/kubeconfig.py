"""Where the API server is and how to reach it: in-cluster ServiceAccount files, or a JSON kubeconfig."""

from __future__ import annotations

import base64
import json
import os
import ssl
import tempfile
import threading
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(ValueError):
    """The API server configuration is unusable; the message says what to fix."""


@dataclass(frozen=True)
class ClusterConfig:
    """An API server URL, a TLS context that trusts only the cluster CA, and how to authenticate."""

    server: str
    tls: ssl.SSLContext
    auth: httpx.Auth | None = None


class TokenFile(httpx.Auth):
    """A bearer token read from a file and read again whenever the file changes.

    The kubelet rotates projected ServiceAccount tokens by swapping a symlink, so the file's
    identity (inode, mtime, size) is checked on every request: a stat, not a read.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int, int] | None = None
        self._token = ""

    def token(self) -> str:
        st = self._path.stat()
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._token = self._path.read_text().strip()
                self._stamp = stamp
            return self._token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        yield request


class StaticToken(httpx.Auth):
    """A bearer token given inline (kubeconfig ``token``)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request


def tls_context(*, cafile: str | None = None, cadata: str | None = None) -> ssl.SSLContext:
    """Client context: verifies the server against exactly this CA, TLS 1.3 minimum."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    try:
        context.load_verify_locations(cafile=cafile, cadata=cadata)
    except (ssl.SSLError, OSError, ValueError):
        raise ConfigError(
            f"the cluster CA {cafile or '(inline data)'} is not a readable PEM certificate"
        ) from None
    return context


def in_cluster(env: Mapping[str, str] | None = None, root: Path = SERVICE_ACCOUNT_DIR) -> ClusterConfig:
    """The pod's ServiceAccount: KUBERNETES_SERVICE_HOST/PORT, its token file and CA file."""
    env = os.environ if env is None else env
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "not running in a pod (KUBERNETES_SERVICE_HOST/PORT unset): "
            "pass --kubeconfig or CLOUDIOS_AGENT_KUBECONFIG"
        )
    token, ca = root / "token", root / "ca.crt"
    for path in (token, ca):
        if not path.is_file():
            raise ConfigError(
                f"{path} is missing: mount the ServiceAccount token (automountServiceAccountToken)"
            )
    host = f"[{host}]" if ":" in host else host
    return ClusterConfig(f"https://{host}:{port}", tls_context(cafile=str(ca)), TokenFile(token))


def from_kubeconfig(path: Path) -> ClusterConfig:
    """The current context of a kubeconfig written as JSON (``kubectl config view --raw -o json``)."""
    try:
        doc = json.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read kubeconfig {path}: {exc.strerror}") from None
    except ValueError:
        raise ConfigError(
            f"kubeconfig {path} is not JSON: write it with `kubectl config view --raw --minify -o json`"
        ) from None
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {path} must be an object")
    context = _named(doc, "contexts", doc.get("current-context"), "context", path)
    cluster = _named(doc, "clusters", context.get("cluster"), "cluster", path)
    user = _named(doc, "users", context.get("user"), "user", path) if context.get("user") else {}
    base = path.parent
    server = cluster.get("server")
    if not isinstance(server, str) or not server.startswith("https://"):
        raise ConfigError(f"kubeconfig {path}: cluster.server must be an https:// URL")
    tls = _cluster_tls(cluster, path)
    for unsupported in ("exec", "auth-provider", "username"):
        if unsupported in user:
            raise ConfigError(f"kubeconfig {path}: user.{unsupported} is not supported; use a token")
    _client_certificate(tls, user, base)
    auth: httpx.Auth | None = None
    if "token" in user:
        auth = StaticToken(str(user["token"]))
    elif "tokenFile" in user:
        auth = TokenFile(base / user["tokenFile"])
    return ClusterConfig(server.rstrip("/"), tls, auth)


def _named(doc: dict[str, Any], section: str, name: object, key: str, path: Path) -> dict[str, Any]:
    for entry in doc.get(section) or []:
        if isinstance(entry, dict) and entry.get("name") == name and isinstance(entry.get(key), dict):
            return dict(entry[key])
    raise ConfigError(f"kubeconfig {path}: no {section} entry named {name!r}")


def _cluster_tls(cluster: dict[str, Any], path: Path) -> ssl.SSLContext:
    if cluster.get("insecure-skip-tls-verify"):
        raise ConfigError(
            f"kubeconfig {path}: insecure-skip-tls-verify is refused; give certificate-authority"
        )
    if "certificate-authority-data" in cluster:
        return tls_context(cadata=base64.b64decode(cluster["certificate-authority-data"]).decode())
    if "certificate-authority" in cluster:
        return tls_context(cafile=str(path.parent / cluster["certificate-authority"]))
    raise ConfigError(f"kubeconfig {path}: the cluster needs certificate-authority(-data)")


def _client_certificate(tls: ssl.SSLContext, user: dict[str, Any], base: Path) -> None:
    if "client-certificate" in user and "client-key" in user:
        _load_chain(tls, base / user["client-certificate"], base / user["client-key"])
    elif "client-certificate-data" in user and "client-key-data" in user:
        # ssl reads certificates only from files: a private directory, removed right after.
        with tempfile.TemporaryDirectory(prefix="cloudios-agent-") as tmp:
            cert, key = Path(tmp) / "tls.crt", Path(tmp) / "tls.key"
            for target, field in ((cert, "client-certificate-data"), (key, "client-key-data")):
                target.touch(mode=0o600)
                target.write_bytes(base64.b64decode(user[field]))
            _load_chain(tls, cert, key)


def _load_chain(tls: ssl.SSLContext, cert: Path, key: Path) -> None:
    try:
        tls.load_cert_chain(str(cert), str(key))
    except (ssl.SSLError, OSError):
        raise ConfigError("the kubeconfig's client certificate or key is not a readable PEM pair") from None
