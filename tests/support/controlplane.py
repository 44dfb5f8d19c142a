"""Real kube-apiserver + etcd for the test session (the envtest model), or an existing cluster."""

from __future__ import annotations

import contextlib
import os
import secrets
import ssl
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from urllib3 import HTTPHeaderDict

from tests.support.controlplane_pki import SERVICE_CIDR, admin_tls, make_pki, write_kubeconfig
from tests.support.controlplane_processes import (
    ControlPlaneError,
    ServerProcess,
    find_binary,
    free_port,
    wait_until,
)


class CommandError(RuntimeError):
    """A kubectl or helm invocation exited non-zero; the message carries its output."""

    def __init__(self, result: subprocess.CompletedProcess[str]) -> None:
        self.result = result
        super().__init__(
            f"{' '.join(map(str, result.args))} exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )


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
    _etcd: ServerProcess | None = None
    _apiserver: ServerProcess | None = None
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
        wait_until(self._ready, self._apiserver, "ready (/readyz)")
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


def start_control_plane(workdir: Path) -> ControlPlane:
    """Start etcd and kube-apiserver on free loopback ports under `workdir`; wait until ready."""
    started = time.monotonic()
    kube_apiserver = find_binary("kube-apiserver")
    etcd_binary = find_binary("etcd")
    workdir.mkdir(parents=True, exist_ok=True)
    pki = make_pki(workdir / "pki")

    etcd_client, etcd_peer, api_port = free_port(), free_port(), free_port()
    etcd_url = f"http://127.0.0.1:{etcd_client}"
    peer_url = f"http://127.0.0.1:{etcd_peer}"
    # Plain HTTP on loopback, like envtest: nothing else can reach it. No fsync: the data is
    # thrown away and fsync dominates etcd's latency on a CI disk.
    etcd = ServerProcess(
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
    apiserver = ServerProcess(
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
        _admin_tls=admin_tls(pki),
    )
    write_kubeconfig(plane.kubeconfig_path, server_url, pki)
    try:
        etcd.start()

        def etcd_healthy() -> bool:
            try:
                response = httpx.get(f"{etcd_url}/health", timeout=2.0)
            except httpx.HTTPError:
                return False
            return response.status_code == 200 and response.json().get("health") == "true"

        wait_until(etcd_healthy, etcd, "healthy (/health)")
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
