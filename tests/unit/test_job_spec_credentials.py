"""executor=job copies settings into Job specs: a URL or proxy carrying credentials is refused at start."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cloudios.services.scan_jobs import inherited_environment, job_env
from cloudios.services.settings import OperatorSettings, SettingsError
from tests.support.operator_start import start_operator

JOB = {"CLOUDIOS_EXECUTOR": "job", "CLOUDIOS_JOB_IMAGE": "cloudios:test"}
SECRET = "Sup3rS3cret"


@pytest.mark.parametrize(
    ("url", "found"),
    [
        (f"postgresql://cloudios:{SECRET}@db:5432/cloudios", "a password in the userinfo"),
        (f"postgresql+psycopg://cloudios:{SECRET}@db/cloudios", "a password in the userinfo"),
        (f"postgresql+psycopg://:{SECRET}@db/cloudios", "a password in the userinfo"),
        (f"postgresql://cloudios:{SECRET}%40x%2F@db/cloudios", "a password in the userinfo"),
        (f"postgresql://cloudios:p@ss{SECRET}@db/cloudios", "a password in the userinfo"),
        (f"postgresql://db/cloudios?sslmode=require&password={SECRET}", "query parameter 'password'"),
        (f"postgresql+psycopg://cloudios@db/cloudios?sslpassword={SECRET}", "query parameter 'sslpassword'"),
        (f"postgresql://db/cloudios?pass%77ord={SECRET}", "query parameter 'password'"),
        (f"postgresql://db/cloudios?%50ASSWORD={SECRET}", "query parameter 'PASSWORD'"),
        (f"postgresql://db/cloudios?pass={SECRET}", "query parameter 'pass'"),
        (f"postgresql://db/cloudios?auth_token={SECRET}", "query parameter 'auth_token'"),
        (f"postgresql://db/cloudios?client-secret={SECRET}", "query parameter 'client-secret'"),
    ],
)
def test_a_database_url_with_credentials_is_refused_for_jobs(url: str, found: str) -> None:
    with pytest.raises(SettingsError) as raised:
        OperatorSettings.from_env({**JOB, "CLOUDIOS_DATABASE_URL": url})
    message = str(raised.value)
    assert "CLOUDIOS_DATABASE_URL" in message
    assert found in message
    assert SECRET not in message
    # In process nothing is copied into a Job, so the same URL is accepted.
    assert OperatorSettings.from_env({"CLOUDIOS_DATABASE_URL": url}).store.database_url == url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://cloudios@db/cloudios?sslmode=verify-full&sslcert=/tls/tls.crt&sslkey=/tls/tls.key",
        "postgresql://db.cloudios.svc/cloudios",
        "postgresql://cloudios:@db/cloudios",  # an empty password is no credential
    ],
)
def test_a_database_url_without_credentials_is_fine_for_jobs(url: str) -> None:
    settings = OperatorSettings.from_env({**JOB, "CLOUDIOS_DATABASE_URL": url})
    assert inherited_environment(settings, {})["CLOUDIOS_DATABASE_URL"] == url


@pytest.mark.parametrize(
    ("name", "value", "found"),
    [
        ("HTTPS_PROXY", f"http://user:{SECRET}@proxy:3128", "a password in the userinfo"),
        ("HTTP_PROXY", f"http://{SECRET}@proxy:3128", "a user name in the userinfo"),
        ("HTTPS_PROXY", f"user:{SECRET}@proxy:3128", "a password in the userinfo"),
        ("HTTPS_PROXY", f"http://user:{SECRET}%40x@proxy:3128", "a password in the userinfo"),
        ("AWS_ENDPOINT_URL", f"https://key:{SECRET}@s3.internal", "a password in the userinfo"),
        ("AWS_ENDPOINT_URL", f"https://s3.internal/?X-Amz-Security-Token={SECRET}", "X-Amz-Security-Token"),
    ],
)
def test_a_proxy_or_endpoint_with_credentials_refuses_job_mode(name: str, value: str, found: str) -> None:
    settings = OperatorSettings.from_env(JOB)
    with pytest.raises(SettingsError) as raised:
        inherited_environment(settings, {name: value})
    message = str(raised.value)
    assert f"copies {name} into the scan Jobs' spec" in message
    assert found in message
    assert SECRET not in message
    in_process = OperatorSettings.from_env({})
    assert inherited_environment(in_process, {name: value})[name] == value


def test_proxies_without_credentials_are_inherited() -> None:
    environ = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost,.svc,10.0.0.0/8"}
    inherited = inherited_environment(OperatorSettings.from_env(JOB), environ)
    assert {k: inherited[k] for k in environ} == environ


def test_the_operator_refuses_to_start_job_mode_naming_the_variable_only() -> None:
    done = start_operator({**JOB, "HTTPS_PROXY": f"http://user:{SECRET}@proxy:3128"})
    assert done.returncode == 2
    assert "bad configuration: CLOUDIOS_EXECUTOR=job copies HTTPS_PROXY" in done.stderr
    assert "Traceback" not in done.stderr
    assert SECRET not in done.stderr


def test_the_database_password_reaches_jobs_as_a_secret_reference_never_a_value(tmp_path: Path) -> None:
    password_file = tmp_path / "password"
    password_file.write_text(SECRET + "\n")
    settings = OperatorSettings.from_env(
        {
            **JOB,
            "CLOUDIOS_DATABASE_URL": "postgresql+psycopg://cloudios_app@db/cloudios",
            "CLOUDIOS_DATABASE_PASSWORD_FILE": str(password_file),
            "CLOUDIOS_JOB_DATABASE_PASSWORD_SECRET": "cloudios-db-app/password",
        }
    )
    assert settings.store.password() == SECRET
    env = job_env(inherited_environment(settings, {}), settings.scan.job.database_password_secret)
    assert SECRET not in json.dumps(env)
    assert {"name": "CLOUDIOS_DATABASE_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": "cloudios-db-app", "key": "password"}}} in env  # fmt: skip
    with pytest.raises(SettingsError, match="not both"):
        OperatorSettings.from_env(
            {"CLOUDIOS_DATABASE_PASSWORD": SECRET, "CLOUDIOS_DATABASE_PASSWORD_FILE": str(password_file)}
        )
