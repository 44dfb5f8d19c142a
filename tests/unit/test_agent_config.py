"""Agent configuration: in-cluster files, JSON kubeconfigs, the rotating token file, log sanitizing."""

from __future__ import annotations

import base64
import json
import logging
import os
import ssl
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from cloudios.security import tls
from cloudios_agent import kubeconfig
from cloudios_agent.main import SanitizingFormatter, UsageError, parse_settings


def _auth_header(auth: httpx.Auth | None) -> str:
    assert auth is not None
    request = httpx.Request("GET", "https://example.invalid/")
    return str(next(auth.sync_auth_flow(request)).headers["Authorization"])


def test_the_token_file_is_read_again_when_the_kubelet_rotates_it(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("first\n")
    auth = kubeconfig.TokenFile(token)
    assert _auth_header(auth) == "Bearer first"
    # The kubelet swaps a symlink to a new file: a new inode, a new mtime.
    new = tmp_path / "token.new"
    new.write_text("second")
    new.replace(token)
    assert _auth_header(auth) == "Bearer second"


def test_in_cluster_reads_the_service_account_files(tmp_path: Path) -> None:
    certs = tls.generate_certificate(tmp_path / "ca", ["kubernetes.default.svc"])
    (tmp_path / "sa").mkdir()
    (tmp_path / "sa" / "token").write_text("sa-token")
    (tmp_path / "sa" / "ca.crt").write_bytes(certs.ca_file.read_bytes())
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    config = kubeconfig.in_cluster(env, tmp_path / "sa")
    assert config.server == "https://10.0.0.1:443"
    assert config.tls.minimum_version == ssl.TLSVersion.TLSv1_3
    assert config.tls.verify_mode == ssl.CERT_REQUIRED
    assert _auth_header(config.auth) == "Bearer sa-token"
    assert (
        kubeconfig.in_cluster(
            {"KUBERNETES_SERVICE_HOST": "fd00::1", "KUBERNETES_SERVICE_PORT": "6443"}, tmp_path / "sa"
        ).server
        == "https://[fd00::1]:6443"
    )
    with pytest.raises(kubeconfig.ConfigError, match="--kubeconfig"):
        kubeconfig.in_cluster({}, tmp_path / "sa")
    with pytest.raises(kubeconfig.ConfigError, match="automountServiceAccountToken"):
        kubeconfig.in_cluster(env, tmp_path / "missing")


def _kubeconfig(path: Path, cluster: dict[str, object], user: dict[str, object]) -> Path:
    path.write_text(
        json.dumps(
            {
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "u", "user": user}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    return path


def test_json_kubeconfigs_with_inline_data_and_refusals(tmp_path: Path) -> None:
    certs = tls.generate_certificate(tmp_path / "ca", ["127.0.0.1"])
    ca_data = base64.b64encode(certs.ca_file.read_bytes()).decode()
    cluster = {"server": "https://127.0.0.1:6443", "certificate-authority-data": ca_data}
    client_cert = {
        "client-certificate-data": base64.b64encode(certs.cert_file.read_bytes()).decode(),
        "client-key-data": base64.b64encode(certs.key_file.read_bytes()).decode(),
    }
    config = kubeconfig.from_kubeconfig(_kubeconfig(tmp_path / "a.json", cluster, client_cert))
    assert config.auth is None  # client certificate: in the TLS context
    assert config.server == "https://127.0.0.1:6443"
    assert not list(Path(tempfile.gettempdir()).glob("cloudios-agent-*"))  # key files removed
    token = kubeconfig.from_kubeconfig(_kubeconfig(tmp_path / "b.json", cluster, {"token": "abc"}))
    assert _auth_header(token.auth) == "Bearer abc"
    refusals = [
        ({**cluster, "insecure-skip-tls-verify": True}, {}, "insecure-skip-tls-verify is refused"),
        ({"server": "http://127.0.0.1:8080", "certificate-authority-data": ca_data}, {}, "https://"),
        ({"server": "https://x"}, {}, "certificate-authority"),
        (cluster, {"exec": {"command": "aws"}}, "user.exec is not supported"),
    ]
    for i, (c, u, message) in enumerate(refusals):
        with pytest.raises(kubeconfig.ConfigError, match=message):
            kubeconfig.from_kubeconfig(_kubeconfig(tmp_path / f"r{i}.json", c, u))
    (tmp_path / "yaml").write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(kubeconfig.ConfigError, match="kubectl config view --raw --minify -o json"):
        kubeconfig.from_kubeconfig(tmp_path / "yaml")


def test_settings_come_from_flags_or_environment(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t" * 40)
    env = {
        "CLOUDIOS_AGENT_INGEST_URL": "https://ingest.example:8443",
        "CLOUDIOS_AGENT_TOKEN_FILE": str(token),
        "CLOUDIOS_AGENT_SAMPLE_SECONDS": "15",
    }
    settings = parse_settings(["--inventory-seconds", "600"], env)
    assert (settings.sample_seconds, settings.inventory_seconds, settings.health_port) == (15.0, 600.0, 8080)
    assert parse_settings(["--sample-seconds", "45"], env).sample_seconds == 45.0  # the flag wins
    for args, message in [
        (["--ingest-url", "https://user:pw@ingest"], "must not carry credentials"),
        (["--spool-dir", str(tmp_path / "none")], "mount an emptyDir there"),
        (["--queue-batches", "0"], "--queue-batches (CLOUDIOS_AGENT_QUEUE_BATCHES)"),
        (["--log-level", "chatty"], "--log-level"),
    ]:
        with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_settings(args, env)


def test_log_lines_never_carry_the_token() -> None:
    secret = "ccat_" + "s3cr3t" * 8
    formatter = SanitizingFormatter([secret])
    try:
        raise RuntimeError(f"request failed with Authorization: Bearer {secret}")  # noqa: TRY301
    except RuntimeError:
        record = logging.LogRecord(
            "a", logging.ERROR, __file__, 1, "token %s and bearer xyz123", (secret,), None
        )
        record.exc_info = sys.exc_info()
    text = formatter.format(record)
    assert secret not in text
    assert "xyz123" not in text
    assert text.count("[redacted]") >= 3


def test_unreadable_certificates_exit_2_naming_the_setting(tmp_path: Path) -> None:
    certs = tls.generate_certificate(tmp_path / "ca", ["127.0.0.1"])
    token = tmp_path / "token"
    token.write_text("t" * 40)
    good = {"server": "https://127.0.0.1:6443", "certificate-authority": str(certs.ca_file)}
    cases = [
        (
            _kubeconfig(tmp_path / "k1.json", good, {"token": "x"}),
            token,
            "--ca-file (CLOUDIOS_AGENT_CA_FILE): not a PEM",
        ),
        (
            _kubeconfig(tmp_path / "k2.json", {**good, "certificate-authority": str(token)}, {}),
            certs.ca_file,
            "--kubeconfig (CLOUDIOS_AGENT_KUBECONFIG): the cluster CA",
        ),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLOUDIOS_AGENT_")}
    for config, ca, message in cases:
        args = ["--ingest-url", "https://ingest", "--token-file", str(token), "--ca-file", str(ca)]
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "cloudios_agent.main",
                *args,
                "--kubeconfig",
                str(config),
                "--health-port",
                "0",
            ],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert result.returncode == 2, result.stderr
        assert message in result.stderr


def test_history_settings_need_a_prometheus_url_and_are_checked(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("t" * 40)
    env = {"CLOUDIOS_AGENT_INGEST_URL": "https://ingest.example", "CLOUDIOS_AGENT_TOKEN_FILE": str(token)}
    assert parse_settings(["--history-days", "7"], env).history is None  # no URL: no backfill
    settings = parse_settings([], {**env, "CLOUDIOS_AGENT_PROMETHEUS_URL": "http://prom:9090",
                                   "CLOUDIOS_AGENT_HISTORY_DAYS": "14"})  # fmt: skip
    assert settings.history is not None
    assert (settings.history.source.url, settings.history.backfill.days) == ("http://prom:9090", 14)
    assert settings.history.backfill.concurrency == 2
    url = ["--prometheus-url", "http://prom:9090"]
    for args, message in [
        (["--prometheus-url", "ftp://prom"], "(CLOUDIOS_AGENT_PROMETHEUS_URL): Prometheus URL"),
        ([*url, "--prometheus-token-file", str(token)], "only sent over https"),
        (["--prometheus-url", "https://u:p@prom"], "must not carry credentials"),
        ([*url, "--history-days", "91"], "(CLOUDIOS_AGENT_HISTORY_DAYS) must be a whole number 1-90"),
        ([*url, "--history-concurrency", "0"], "--history-concurrency"),
        ([*url, "--history-selector", "{job='x'}"], "without braces"),
    ]:  # fmt: skip
        with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
            parse_settings(args, env)
