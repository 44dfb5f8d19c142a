"""Where the master keyset comes from (operator settings, the chart's file) and `cloudios keys`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from cloudios.cli.main import main
from cloudios.security import keyset
from cloudios.services.settings import OperatorSettings, SettingsError
from cloudios.store import SqlRepository
from tests.support.operator_start import start_operator

GOOD = base64.b64encode(b"m" * 32).decode()


def test_the_master_key_comes_from_a_file_or_a_variable(tmp_path: Path) -> None:
    assert OperatorSettings.from_env({}).keyring.keyset is None
    from_variable = OperatorSettings.from_env({"CLOUDIOS_MASTER_KEY": GOOD}).keyring.keyset
    assert from_variable is not None
    assert from_variable.keys == {1: b"m" * 32}
    path = tmp_path / "master-key"
    path.write_text(keyset.generate().with_new_version(primary=True).to_json())
    from_file = OperatorSettings.from_env({"CLOUDIOS_MASTER_KEY_FILE": str(path)}).keyring.keyset
    assert from_file is not None
    assert (from_file.versions, from_file.primary) == ((1, 2), 2)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLOUDIOS_MASTER_KEY": "%%%"}, "CLOUDIOS_MASTER_KEY: not valid base64"),
        (
            {"CLOUDIOS_MASTER_KEY": base64.b64encode(b"m" * 24).decode()},
            "CLOUDIOS_MASTER_KEY: decodes to 24 bytes, not 32",
        ),
        ({"CLOUDIOS_MASTER_KEY_FILE": "/nonexistent/master-key"}, "CLOUDIOS_MASTER_KEY_FILE (/nonexistent"),
        ({"CLOUDIOS_MASTER_KEY": GOOD, "CLOUDIOS_MASTER_KEY_FILE": "/x"}, "not both"),
    ],
)
def test_a_bad_master_key_is_a_start_up_error(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        OperatorSettings.from_env(env)
    assert message in str(raised.value)
    assert GOOD not in str(raised.value)


def test_the_operator_refuses_to_start_with_a_short_master_key() -> None:
    short = base64.b64encode(b"s" * 16).decode()
    done = start_operator({"CLOUDIOS_MASTER_KEY": short})
    assert done.returncode == 2
    assert "bad configuration: CLOUDIOS_MASTER_KEY: decodes to 16 bytes, not 32" in done.stderr
    assert "Traceback" not in done.stderr
    assert short not in done.stderr


# -- cloudios keys ---------------------------------------------------------------------------------


def _keys(path: Path) -> keyset.MasterKeyset:
    return keyset.parse(path.read_text(), source=str(path))


def _seed(data: Path, keys: keyset.MasterKeyset) -> list[tuple[str, str]]:
    repo = SqlRepository.sqlite(data, keyset=keys)
    repo.put_secret("team-a", "webhook/daily", b"hook-secret")
    repo.put_secret("team-b", "cluster-token/prod", b"token")
    rows = [(k.tenant, str(k.master_version)) for k in repo.data_key_status()]
    repo.close()
    return rows


def _read_all(data: Path, keys: keyset.MasterKeyset) -> list[bytes | None]:
    repo = SqlRepository.sqlite(data, keyset=keys)
    values = [repo.get_secret("team-a", "webhook/daily"), repo.get_secret("team-b", "cluster-token/prod")]
    repo.close()
    return values


def test_init_writes_an_owner_only_keyset_and_never_overwrites(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "keyset.json"
    assert main(["keys", "init", "--keyset", str(path)]) == 0
    assert path.stat().st_mode & 0o777 == 0o600
    first = path.read_bytes()
    assert main(["keys", "init", "--keyset", str(path)]) == 2
    assert "exists: a keyset is never overwritten" in capsys.readouterr().err
    assert path.read_bytes() == first


def test_rotate_adds_a_primary_version_and_rewraps_without_touching_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, data = tmp_path / "keyset.json", tmp_path / "data"
    assert main(["keys", "init", "--keyset", str(path)]) == 0
    assert _seed(data, _keys(path)) == [("team-a", "1"), ("team-b", "1")]
    assert main(["keys", "rotate", "--keyset", str(path), "--data-dir", str(data)]) == 0
    rotated = _keys(path)
    assert (rotated.versions, rotated.primary) == ((1, 2), 2)
    assert path.stat().st_mode & 0o777 == 0o600
    assert "rewrapped 2 data key(s)" in capsys.readouterr().out
    repo = SqlRepository.sqlite(data)
    assert {k.master_version for k in repo.data_key_status()} == {2}
    repo.close()
    only_new = rotated.with_min_version(2).without_retired()
    assert _read_all(data, only_new) == [b"hook-secret", b"token"]


def test_the_runbook_add_promote_rewrap_retire_destroy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, data = tmp_path / "keyset.json", tmp_path / "data"
    store = ["--data-dir", str(data)]
    assert main(["keys", "init", "--keyset", str(path)]) == 0
    _seed(data, _keys(path))
    assert main(["keys", "add", "--keyset", str(path)]) == 0
    assert _keys(path).primary == 1  # readers first: not primary until promoted
    assert main(["keys", "promote", "--keyset", str(path)]) == 0
    assert _keys(path).primary == 2
    capsys.readouterr()
    assert main(["keys", "retire", "--keyset", str(path), "--min-version", "2", *store]) == 2
    assert "2 data key(s) are still wrapped by version(s) 1, below 2" in capsys.readouterr().err
    assert _keys(path).min_version == 1
    assert main(["keys", "rewrap", "--keyset", str(path), *store]) == 0
    assert main(["keys", "retire", "--keyset", str(path), "--min-version", "2", "--destroy", *store]) == 0
    final = _keys(path)
    assert (final.versions, final.primary, final.min_version) == ((2,), 2, 2)
    assert _read_all(data, final) == [b"hook-secret", b"token"]


def test_status_shows_versions_and_counters_but_no_key_material(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path, data = tmp_path / "keyset.json", tmp_path / "data"
    assert main(["keys", "init", "--keyset", str(path)]) == 0
    assert main(["keys", "add", "--keyset", str(path), "--primary"]) == 0
    _seed(data, _keys(path))
    capsys.readouterr()
    monkeypatch.setenv("CLOUDIOS_MASTER_KEY_FILE", str(path))
    assert main(["keys", "status", "--data-dir", str(data)]) == 0
    out = capsys.readouterr().out
    assert f"master keyset (CLOUDIOS_MASTER_KEY_FILE {path}): versions 1, 2; primary 2; minVersion 1" in out
    assert "team-a  1         v2          1            1" in out
    for key in json.loads(path.read_text())["keys"].values():
        assert key not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys", "rotate", "--keyset", "{bad}"], "keyset file {bad}: not valid base64"),
        (["keys", "rewrap", "--data-dir", "{data}"], "no master keyset: pass --keyset FILE"),
        (["keys", "status", "--data-dir", "{data}/none"], "no Cloudios database at"),
        (["keys", "retire", "--keyset", "{good}", "--min-version", "5"], "--min-version 5: must be from 1"),
        (
            ["keys", "promote", "--keyset", "{good}", "--version", "7"],
            "--version 7: the keyset holds versions 1",
        ),
    ],
)
def test_bad_input_is_one_clear_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    argv: list[str],
    message: str,
) -> None:
    monkeypatch.delenv("CLOUDIOS_MASTER_KEY_FILE", raising=False)
    monkeypatch.delenv("CLOUDIOS_MASTER_KEY", raising=False)
    bad, good = tmp_path / "bad", tmp_path / "good"
    bad.write_text("not base64!")
    good.write_text(keyset.generate().to_json())
    names = {"bad": str(bad), "good": str(good), "data": str(tmp_path)}
    assert main([a.format(**names) for a in argv]) == 2
    err = capsys.readouterr().err
    assert message.format(**names) in err
    assert "Traceback" not in err
