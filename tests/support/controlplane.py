"""Real kube-apiserver + etcd for the test session (the envtest model), or an existing cluster."""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import ipaddress
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from urllib3 import HTTPHeaderDict

BUILD_HINT = "run `make controlplane` (or point KUBEBUILDER_ASSETS at a directory that has it)"
START_TIMEOUT = 90.0
STOP_TIMEOUT = 15.0
LOG_TAIL_LINES = 60
# The cluster IP range only has to exist; nothing routes to it because no node or proxy runs.
SERVICE_CIDR = "10.0.0.0/24"


class ControlPlaneError(RuntimeError):
    """The control plane could not be found, started or used."""


class CommandError(RuntimeError):
    """A kubectl or helm invocation exited non-zero; the message carries its output."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        super().__init__(
            f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


# ---------------------------------------------------------------------------------------------
# Binaries


def cache_bin_dir() -> Path:
    """Where tools/controlplane/build.sh publishes the binaries (the `current` symlink)."""
    root = os.environ.get("CLOUDIOS_CACHE_DIR") or str(Path.home() / ".cache" / "cloudios")
    return Path(root) / "controlplane" / "current" / "bin"


def find_binary(name: str) -> Path:
    """KUBEBUILDER_ASSETS first (a user's own build or envtest's), then the build.sh cache."""
    candidates: list[Path] = []
    if assets := os.environ.get("KUBEBUILDER_ASSETS"):
        candidates.append(Path(assets) / name)
    candidates.append(cache_bin_dir() / name)
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    raise ControlPlaneError(f"{name} not found (looked in {looked}): {BUILD_HINT}")


# ---------------------------------------------------------------------------------------------
# Certificates


@dataclass(frozen=True)
class _Pki:
    ca_cert: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path
    sa_public_key: Path
    sa_signing_key: Path


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)


def _cert(
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    is_ca: bool = False,
    usage: Sequence[x509.ObjectIdentifier] = (),
    sans: Sequence[x509.GeneralName] = (),
) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # Back-dated so a slightly skewed clock never sees a not-yet-valid certificate.
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=not is_ca,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=is_ca,
                crl_sign=is_ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )
    if usage:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(usage)), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _make_pki(directory: Path) -> _Pki:
    """A throw-away CA that signs the serving certificate and the admin client certificate."""
    directory.mkdir(parents=True, exist_ok=True)
    pem = serialization.Encoding.PEM
    # P-256 keys: generated in microseconds, unlike RSA, and accepted by the API server.
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudios-test-ca")])
    ca = _cert(ca_name, ca_key.public_key(), ca_name, ca_key, is_ca=True)

    serving_key = ec.generate_private_key(ec.SECP256R1())
    serving = _cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]),
        serving_key.public_key(),
        ca_name,
        ca_key,
        usage=[ExtendedKeyUsageOID.SERVER_AUTH],
        sans=[
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            # The first address of the service range: what in-cluster clients would dial.
            x509.IPAddress(ipaddress.IPv4Network(SERVICE_CIDR)[1]),
            x509.DNSName("localhost"),
            x509.DNSName("kubernetes"),
            x509.DNSName("kubernetes.default"),
            x509.DNSName("kubernetes.default.svc"),
            x509.DNSName("kubernetes.default.svc.cluster.local"),
        ],
    )

    # Client-certificate authentication: CN is the user name, O the groups. system:masters
    # bypasses RBAC, which is what an administrator (and the test set-up) needs.
    admin_key = ec.generate_private_key(ec.SECP256R1())
    admin = _cert(
        x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, "system:masters"),
                x509.NameAttribute(NameOID.COMMON_NAME, "cloudios-test-admin"),
            ]
        ),
        admin_key.public_key(),
        ca_name,
        ca_key,
        usage=[ExtendedKeyUsageOID.CLIENT_AUTH],
    )

    # Service-account tokens are RS256 by convention; the API server signs with the private key
    # and verifies with the public one.
    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    pki = _Pki(
        ca_cert=directory / "ca.crt",
        serving_cert=directory / "apiserver.crt",
        serving_key=directory / "apiserver.key",
        admin_cert=directory / "admin.crt",
        admin_key=directory / "admin.key",
        sa_public_key=directory / "sa.pub",
        sa_signing_key=directory / "sa.key",
    )
    pki.ca_cert.write_bytes(ca.public_bytes(pem))
    pki.serving_cert.write_bytes(serving.public_bytes(pem))
    _write_key(pki.serving_key, serving_key)
    pki.admin_cert.write_bytes(admin.public_bytes(pem))
    _write_key(pki.admin_key, admin_key)
    pki.sa_public_key.write_bytes(
        sa_key.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    _write_key(pki.sa_signing_key, sa_key)
    return pki


# ---------------------------------------------------------------------------------------------
# Processes


def free_port() -> int:
    """A currently unused loopback port (the OS picks it; reused only after we close it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    # If pytest is killed outright its finalizers never run; the kernel then sends SIGTERM to
    # etcd and the API server so no orphan keeps ports and temp dirs busy.
    pr_set_pdeathsig = 1
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        content = path.read_text(errors="replace").splitlines()
    except OSError as exc:
        return f"(no log: {exc})"
    return "\n".join(content[-lines:])


@dataclass
class _Process:
    name: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None

    def start(self) -> None:
        # Appending keeps the log of a previous run (restart_apiserver) for diagnosis.
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== starting: {' '.join(self.argv)}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )

    def exited(self) -> int | None:
        return None if self.popen is None else self.popen.poll()

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(STOP_TIMEOUT)
        if self._log is not None:
            self._log.close()
            self._log = None

    def failure(self, what: str) -> ControlPlaneError:
        code = self.exited()
        state = f"exited with {code}" if code is not None else "still running"
        return ControlPlaneError(
            f"{self.name} {what} ({state}); last lines of {self.log_path}:\n{_tail(self.log_path)}"
        )


def _wait_until(ok: Any, process: _Process, what: str, timeout: float = START_TIMEOUT) -> None:
    """Poll `ok()` until true; fail early if the process dies, with its log tail."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while time.monotonic() < deadline:
        if process.exited() is not None:
            raise process.failure(f"died before {what}")
        if ok():
            return
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)
    raise process.failure(f"not {what} after {timeout:.0f}s")


# ---------------------------------------------------------------------------------------------
# The control plane


class _ImpersonatingPool:
    """Wraps urllib3's pool so every request carries one Impersonate-Group header per group.

    The client's default headers are a plain dict (one value per name) but the API server reads
    each group from its own header line, so the groups are added as repeated headers here.
    """

    def __init__(self, pool: Any, user: str, groups: Sequence[str]) -> None:
        self._pool = pool
        self._user = user
        self._groups = tuple(groups)

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        headers = HTTPHeaderDict(kwargs.pop("headers", None) or {})
        headers["Impersonate-User"] = self._user
        for group in self._groups:
            headers.add("Impersonate-Group", group)
        return self._pool.request(method, url, *args, headers=headers, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)


@dataclass
class ControlPlane:
    """A running API server (ours or an existing cluster's) and the tools to talk to it."""

    kubeconfig_path: Path
    server_url: str
    ca_path: Path | None
    workdir: Path
    existing_cluster: bool = False
    startup_seconds: float = 0.0
    _etcd: _Process | None = None
    _apiserver: _Process | None = None
    _admin_tls: ssl.SSLContext | None = None
    _clients: list[k8s.ApiClient] = field(default_factory=list)

    # -- Kubernetes API clients ------------------------------------------------------------

    def _configuration(self) -> k8s.Configuration:
        configuration = k8s.Configuration()
        k8s_config.load_kube_config(config_file=str(self.kubeconfig_path), client_configuration=configuration)
        return configuration

    def api_client(self) -> k8s.ApiClient:
        """An ApiClient authenticated as the administrator (group system:masters)."""
        api = k8s.ApiClient(self._configuration())
        self._clients.append(api)
        return api

    def impersonating(self, user: str, groups: Sequence[str] = ()) -> k8s.ApiClient:
        """An ApiClient acting as `user` in `groups` via the API server's impersonation.

        The administrator may impersonate anyone, and the API server then authorizes every
        request as that user: exactly what RBAC tests need. `system:authenticated` is added by
        the server itself.
        """
        api = k8s.ApiClient(self._configuration())
        api.rest_client.pool_manager = _ImpersonatingPool(api.rest_client.pool_manager, user, groups)
        self._clients.append(api)
        return api

    # -- Command-line tools ----------------------------------------------------------------

    def _tool_env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["KUBECONFIG"] = str(self.kubeconfig_path)
        # Keep helm's repositories, cache and plugins out of the developer's home.
        helm_home = self.workdir / "helm-home"
        env["HELM_CACHE_HOME"] = str(helm_home / "cache")
        env["HELM_CONFIG_HOME"] = str(helm_home / "config")
        env["HELM_DATA_HOME"] = str(helm_home / "data")
        return env

    def _run(
        self,
        tool: str,
        args: Sequence[str | os.PathLike[str]],
        *,
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
        check: bool = True,
        timeout: float = 120.0,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        binary = find_binary(tool)
        result = subprocess.run(
            [str(binary), *map(str, args)],
            input=input,
            capture_output=True,
            text=True,
            env=self._tool_env(),
            timeout=timeout,
            check=False,
            cwd=cwd,
        )
        if check and result.returncode != 0:
            raise CommandError(result)
        return result

    def kubectl(
        self,
        *args: str | os.PathLike[str],
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run kubectl against this API server; raises CommandError on failure if `check`."""
        return self._run("kubectl", args, input=input, check=check, timeout=timeout)

    def helm(
        self,
        *args: str | os.PathLike[str],
        input: str | None = None,  # noqa: A002 - mirrors subprocess.run
        check: bool = True,
        timeout: float = 120.0,
    ) -> subprocess.CompletedProcess[str]:
        """Run helm against this API server; raises CommandError on failure if `check`."""
        return self._run("helm", args, input=input, check=check, timeout=timeout)

    # -- Lifecycle -------------------------------------------------------------------------

    def _ready(self) -> bool:
        assert self._admin_tls is not None
        try:
            response = httpx.get(f"{self.server_url}/readyz", verify=self._admin_tls, timeout=2.0)
        except httpx.HTTPError:
            return False
        return response.status_code == 200 and response.text.strip() == "ok"

    def _start_apiserver(self) -> float:
        assert self._apiserver is not None
        started = time.monotonic()
        self._apiserver.start()
        _wait_until(self._ready, self._apiserver, "ready (/readyz)")
        return time.monotonic() - started

    def restart_apiserver(self) -> float:
        """Stop kube-apiserver and start it again on the same port, etcd and certificates.

        Returns the seconds until /readyz answered again. Existing clients keep working since
        the URL and the certificates do not change.
        """
        if self.existing_cluster or self._apiserver is None:
            pytest.skip("cannot restart the API server of an existing cluster")
        self._apiserver.stop()
        return self._start_apiserver()

    def stop(self) -> None:
        """Close clients, then stop the API server before etcd (it would log etcd errors)."""
        for api in self._clients:
            with contextlib.suppress(Exception):
                api.close()
        self._clients.clear()
        for process in (self._apiserver, self._etcd):
            if process is not None:
                process.stop()


def _client_tls(pki: _Pki) -> ssl.SSLContext:
    """TLS context that trusts our CA and presents the admin certificate (for /readyz)."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
    return context


def _write_kubeconfig(path: Path, server_url: str, pki: _Pki) -> None:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "cloudios-test",
                "cluster": {"server": server_url, "certificate-authority": str(pki.ca_cert)},
            }
        ],
        "users": [
            {
                "name": "cloudios-test-admin",
                "user": {
                    "client-certificate": str(pki.admin_cert),
                    "client-key": str(pki.admin_key),
                },
            }
        ],
        "contexts": [
            {
                "name": "cloudios-test",
                "context": {"cluster": "cloudios-test", "user": "cloudios-test-admin"},
            }
        ],
        "current-context": "cloudios-test",
    }
    path.write_text(yaml.safe_dump(kubeconfig, sort_keys=False))
    path.chmod(0o600)


def start_control_plane(workdir: Path) -> ControlPlane:
    """Start etcd and kube-apiserver on free loopback ports under `workdir`; wait until ready."""
    started = time.monotonic()
    kube_apiserver = find_binary("kube-apiserver")
    etcd_binary = find_binary("etcd")
    workdir.mkdir(parents=True, exist_ok=True)
    pki = _make_pki(workdir / "pki")

    etcd_client, etcd_peer, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_client}"
    peer_url = f"http://127.0.0.1:{etcd_peer}"
    # Plain HTTP on loopback, like envtest: nothing else can reach it. No fsync: the data is
    # thrown away and fsync dominates etcd's latency on a CI disk.
    etcd = _Process(
        "etcd",
        [
            str(etcd_binary),
            "--name=cloudios-test",
            f"--data-dir={workdir / 'etcd-data'}",
            f"--listen-client-urls={etcd_url}",
            f"--advertise-client-urls={etcd_url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=cloudios-test={peer_url}",
            "--unsafe-no-fsync=true",
            "--log-level=warn",
        ],
        workdir / "etcd.log",
    )

    server_url = f"https://127.0.0.1:{api_port}"
    apiserver = _Process(
        "kube-apiserver",
        [
            str(kube_apiserver),
            "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1",
            f"--secure-port={api_port}",
            f"--cert-dir={workdir / 'apiserver-certs'}",
            f"--tls-cert-file={pki.serving_cert}",
            f"--tls-private-key-file={pki.serving_key}",
            f"--client-ca-file={pki.ca_cert}",
            f"--etcd-servers={etcd_url}",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer={server_url}",
            f"--service-account-key-file={pki.sa_public_key}",
            f"--service-account-signing-key-file={pki.sa_signing_key}",
            "--authorization-mode=RBAC",
            # No controller-manager creates the `default` ServiceAccount, so the admission
            # plugin that requires it would reject every Pod.
            "--disable-admission-plugins=ServiceAccount",
            # Fairness queues only add latency with one client; the endpoint reconciler would
            # try to publish 127.0.0.1 as the `kubernetes` Service endpoint, which is invalid.
            "--enable-priority-and-fairness=false",
            "--endpoint-reconciler-type=none",
            "--allow-privileged=true",
            "--v=1",
        ],
        workdir / "kube-apiserver.log",
    )

    plane = ControlPlane(
        kubeconfig_path=workdir / "kubeconfig",
        server_url=server_url,
        ca_path=pki.ca_cert,
        workdir=workdir,
        _etcd=etcd,
        _apiserver=apiserver,
        _admin_tls=_client_tls(pki),
    )
    _write_kubeconfig(plane.kubeconfig_path, server_url, pki)
    try:
        etcd.start()

        def etcd_healthy() -> bool:
            try:
                response = httpx.get(f"{etcd_url}/health", timeout=2.0)
            except httpx.HTTPError:
                return False
            return response.status_code == 200 and response.json().get("health") == "true"

        _wait_until(etcd_healthy, etcd, "healthy (/health)")
        plane._start_apiserver()
    except BaseException:
        plane.stop()
        raise
    plane.startup_seconds = time.monotonic() - started
    return plane


def _existing_kubeconfig() -> Path | None:
    if path := os.environ.get("CLOUDIOS_TEST_KUBECONFIG"):
        return Path(path)
    if os.environ.get("USE_EXISTING_CLUSTER", "").lower() == "true":
        kubeconfig = os.environ.get("KUBECONFIG", str(Path.home() / ".kube" / "config"))
        # KUBECONFIG may be a list; the first file carries the current context in practice.
        return Path(kubeconfig.split(os.pathsep)[0])
    return None


def connect_existing_cluster(kubeconfig: Path, workdir: Path) -> ControlPlane:
    """Use a cluster the developer already has (e.g. kind); nothing is started or stopped."""
    if not kubeconfig.is_file():
        raise ControlPlaneError(f"kubeconfig {kubeconfig} does not exist")
    configuration = k8s.Configuration()
    k8s_config.load_kube_config(config_file=str(kubeconfig), client_configuration=configuration)
    ca = getattr(configuration, "ssl_ca_cert", None)
    workdir.mkdir(parents=True, exist_ok=True)
    return ControlPlane(
        kubeconfig_path=kubeconfig,
        server_url=str(configuration.host),
        ca_path=Path(ca) if ca else None,
        workdir=workdir,
        existing_cluster=True,
    )


# ---------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture(scope="session")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """One API server for the whole session; stopped even when tests fail."""
    workdir = tmp_path_factory.mktemp("controlplane")
    problem = ""
    try:
        if (kubeconfig := _existing_kubeconfig()) is not None:
            plane = connect_existing_cluster(kubeconfig, workdir)
        else:
            plane = start_control_plane(workdir)
    except ControlPlaneError as exc:
        problem = str(exc)
    if problem:
        # Outside the except block so the report shows the message, not a chained traceback.
        # An error, never a skip: a suite that silently skips its cluster tests proves nothing.
        pytest.fail(problem, pytrace=False)
    try:
        yield plane
    finally:
        plane.stop()


@pytest.fixture
def namespace(control_plane: ControlPlane) -> Iterator[str]:
    """A fresh namespace for one test, deleted afterwards.

    Without a controller-manager the namespace only reaches Terminating; the unique name keeps
    that from mattering.
    """
    name = f"t-{secrets.token_hex(4)}"
    api = control_plane.api_client()
    core = k8s.CoreV1Api(api)
    core.create_namespace(
        k8s.V1Namespace(metadata=k8s.V1ObjectMeta(name=name, labels={"cloudios.io/test-namespace": "true"}))
    )
    try:
        yield name
    finally:
        with contextlib.suppress(k8s.ApiException):
            core.delete_namespace(name)


def kubeconfig_env(plane: ControlPlane) -> Mapping[str, str]:
    """Environment for a subprocess (operator, CLI) that should talk to this API server."""
    return {"KUBECONFIG": str(plane.kubeconfig_path)}
