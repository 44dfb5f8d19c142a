"""The operator as a subprocess (`python -m cloudios.controller`), plus polling helpers for e2e tests."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import pytest
from kubernetes import client as k8s

from cloudios.cli.audit import write_keys
from cloudios.services import context
from cloudios.services.settings import OperatorSettings
from cloudios.sinks.kube import Kube
from cloudios.store.sql import SqlRepository
from tests.support.controlplane import ControlPlane, free_port

ROOT = Path(__file__).resolve().parents[2]
CRDS = ROOT / "crds"
PEERING_CRDS = ROOT / "tests" / "support" / "kopf-peering-crds.yaml"
GROUP, VERSION = "cloudios.io", "v1alpha1"
T = TypeVar("T")


class OperatorDiedError(RuntimeError):
    """An operator that should be running exited; the message carries its log tail."""


# Checked on every poll, so a dead operator fails the test at once instead of at the timeout.
_guards: list[Callable[[], None]] = []


def eventually(
    check: Callable[[], T], *, timeout: float = 60.0, what: str = "condition", every: float = 0.25
) -> T:
    """Poll ``check`` until it returns something truthy; API and assertion errors count as not yet."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        for guard in _guards:
            guard()
        try:
            result = check()
        except (k8s.ApiException, AssertionError, KeyError) as exc:
            last = exc
        else:
            if result:
                return result
        time.sleep(every)
    raise AssertionError(f"{what} not reached within {timeout:.0f}s; last error: {last!r}")


@dataclass
class OperatorProcess:
    """One operator process; logs go to a file, JSON lines (CLOUDIOS_LOG_FORMAT=json)."""

    name: str
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = None
    starts: int = 0
    expected_alive: bool = False

    def start(self) -> OperatorProcess:
        self._log = self.log_path.open("ab")
        self._log.write(f"\n=== start {self.starts + 1} of {self.name}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "cloudios.controller"],
            env=self.env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.starts += 1
        self.expected_alive = True
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL: no cleanup, no peering goodbye (a crashed pod)."""
        self.expected_alive = False
        if self.alive():
            assert self.popen is not None
            self.popen.send_signal(signal.SIGKILL)
            self.popen.wait(10)
        self._close_log()

    def stop(self, timeout: float = 20.0) -> None:
        self.expected_alive = False
        if self.alive():
            assert self.popen is not None
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        self._close_log()

    def restart(self) -> OperatorProcess:
        self.kill()
        return self.start()

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def records(self) -> list[dict[str, Any]]:
        """The JSON log records (non-JSON lines, e.g. tracebacks, are skipped)."""
        out = []
        for line in self.text().splitlines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict):
                    out.append(record)
        return out

    def messages(self, pattern: str) -> list[str]:
        regex = re.compile(pattern)
        return [str(r.get("message")) for r in self.records() if regex.search(str(r.get("message", "")))]

    def errors(self) -> list[dict[str, Any]]:
        """Records at error level or worse (kopf's JSON logs carry a 'severity')."""
        return [r for r in self.records() if r.get("severity") in ("error", "fatal")]

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def wait_for_log(self, pattern: str, *, timeout: float = 60.0) -> str:
        def found() -> str | None:
            assert self.alive(), f"{self.name} exited:\n{self.tail()}"
            hits = self.messages(pattern)
            return hits[-1] if hits else None

        return eventually(found, timeout=timeout, what=f"log /{pattern}/ from {self.name}")


@dataclass
class OperatorFactory:
    """Starts operators for one test and stops them all at the end."""

    plane: ControlPlane
    workdir: Path
    base_env: Mapping[str, str]
    started: list[OperatorProcess] = field(default_factory=list)

    def __call__(self, namespace: str, *, name: str = "operator", **overrides: str) -> OperatorProcess:
        env = {
            **self.base_env,
            "CLOUDIOS_NAMESPACES": namespace,
            "CLOUDIOS_DATA_DIR": str(self.workdir / "data"),
            "CLOUDIOS_WEBHOOK_PORT": str(free_port()),
            # Every test operator gets its own loopback metrics port: 9090 would collide.
            "CLOUDIOS_METRICS_PORT": str(free_port()),
            "CLOUDIOS_METRICS_ADDR": "127.0.0.1",
            **audit_env(self.workdir / "audit-keys", namespace),
            **overrides,
        }
        process = OperatorProcess(name, env, self.workdir / f"{name}.log")
        self.started.append(process)
        return process.start()

    def stop_all(self) -> None:
        for process in self.started:
            process.stop()

    def check_running(self) -> None:
        for process in self.started:
            if process.expected_alive and not process.alive():
                process.expected_alive = False
                raise OperatorDiedError(f"{process.name} exited unexpectedly:\n{process.tail()}")

    @contextlib.contextmanager
    def guarding(self) -> Iterator[OperatorFactory]:
        _guards.append(self.check_running)
        try:
            yield self
        finally:
            _guards.remove(self.check_running)

    def report(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log_path}) -----\n{p.tail()}" for p in self.started)


def audit_env(directory: Path, namespace: str) -> dict[str, str]:
    """Audit keys (made once in ``directory``) and the namespace of the checkpoint ConfigMap."""
    chain, signing = directory / "audit-chain.key", directory / "audit-signing.key"
    if not chain.exists():
        write_keys(directory)
    return {
        "CLOUDIOS_AUDIT_CHAIN_KEY_FILE": str(chain),
        "CLOUDIOS_AUDIT_SIGNING_KEY_FILE": str(signing),
        "CLOUDIOS_AUDIT_CHECKPOINT_NAMESPACE": namespace,
    }


def operator_env(plane: ControlPlane, moto_url: str, tls: Mapping[str, Path], managed: str) -> dict[str, str]:
    """What every test operator gets: the control plane, moto, short intervals, JSON logs."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update(
        {
            "KUBECONFIG": str(plane.kubeconfig_path),
            "AWS_ENDPOINT_URL": moto_url,
            # Only the CloudAccount's Secret may supply credentials: no files, no metadata service.
            "AWS_CONFIG_FILE": "/nonexistent/aws-config",
            "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
            "AWS_EC2_METADATA_DISABLED": "true",
            "CLOUDIOS_LOG_FORMAT": "json",
            "CLOUDIOS_LOG_LEVEL": "INFO",
            "CLOUDIOS_HEALTH_INTERVAL_SECONDS": "3600",
            "CLOUDIOS_SCHEDULER_INTERVAL_SECONDS": "2",
            "CLOUDIOS_PEERING_LIFETIME_SECONDS": "8",
            "CLOUDIOS_PROBE_TIMEOUT_SECONDS": "10",
            "CLOUDIOS_WEBHOOK_ADDR": "127.0.0.1",
            "CLOUDIOS_WEBHOOK_MANAGED": managed,
            "CLOUDIOS_WEBHOOK_CERT_FILE": str(tls["cert"]),
            "CLOUDIOS_WEBHOOK_KEY_FILE": str(tls["key"]),
            "CLOUDIOS_WEBHOOK_CA_FILE": str(tls["ca"]),
            "CLOUDIOS_WATCH_SERVER_TIMEOUT_SECONDS": "30",
            "CLOUDIOS_WATCH_CLIENT_TIMEOUT_SECONDS": "40",
        }
    )
    return env


class Cluster:
    """Typed-enough helpers over the admin ApiClient for cloudios.io objects in one namespace."""

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self.custom = k8s.CustomObjectsApi(api)
        self.core = k8s.CoreV1Api(api)
        self.namespace = namespace

    def create(self, plural: str, body: dict[str, Any]) -> dict[str, Any]:
        return self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, body)  # type: ignore[no-any-return]

    def get(self, plural: str, name: str) -> dict[str, Any]:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)  # type: ignore[no-any-return]

    def exists(self, plural: str, name: str) -> bool:
        try:
            self.get(plural, name)
        except k8s.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def items(self, plural: str, selector: str | None = None) -> list[dict[str, Any]]:
        result = self.custom.list_namespaced_custom_object(
            GROUP, VERSION, self.namespace, plural, label_selector=selector
        )
        return list(result["items"])

    def patch(self, plural: str, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name, body)

    def delete(self, plural: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, plural, name)

    def condition(self, plural: str, name: str, type_: str) -> dict[str, Any] | None:
        status = self.get(plural, name).get("status") or {}
        return next((c for c in status.get("conditions") or [] if c.get("type") == type_), None)

    def wait_condition(
        self,
        plural: str,
        name: str,
        type_: str,
        status: str,
        *,
        reason: str | None = None,
        timeout: float = 60.0,
    ) -> dict[str, Any]:
        def check() -> dict[str, Any] | None:
            found = self.condition(plural, name, type_)
            if found and found["status"] == status and (reason is None or found["reason"] == reason):
                return found
            return None

        return eventually(check, timeout=timeout, what=f"{plural}/{name} {type_}={status} {reason or ''}")

    def events(self, name: str) -> list[k8s.CoreV1Event]:
        listed = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        return list(listed.items)

    def secret(self, name: str, data: dict[str, str]) -> None:
        self.core.create_namespaced_secret(
            self.namespace, k8s.V1Secret(metadata=k8s.V1ObjectMeta(name=name), string_data=data)
        )


def apply(plane: ControlPlane, path: Path) -> None:
    plane.kubectl("apply", "--server-side", "--force-conflicts", "-f", path)


def in_process_services(
    api: k8s.ApiClient, data_dir: Path, *, store: SqlRepository | None = None
) -> context.Services:
    """The operator's services in this process (a store in ``data_dir``, or ``store``), for calling
    one reconcile or tick directly against the real API server as the ``api`` client's identity."""
    settings = OperatorSettings.from_env({"CLOUDIOS_DATA_DIR": str(data_dir)})
    return context.build(settings, kube=Kube(api, settings.request_timeout_seconds), store=store)


def aws_emulator_env(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    """What operator_env gives a subprocess, for scans run in this process: moto, no other credentials."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", url)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


def mark_ready(cluster: Cluster, name: str) -> None:
    """Write Ready=True on a CloudAccount as a credential check would (for in-process runs)."""
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, cluster.namespace, "cloudaccounts", name,
        {"status": {"conditions": [{
            "type": "Ready", "status": "True", "reason": "CredentialsVerified", "message": "checked",
            "lastTransitionTime": "2026-01-01T00:00:00Z",
        }]}},
    )  # fmt: skip
