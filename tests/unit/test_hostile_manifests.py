"""Hostile manifests: `cloudios scan` exits 2 naming file, object and field, in bounded time and memory."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from cloudios.cli import manifest_yaml, manifests
from tests.unit.test_manifests import GOOD_ACCOUNT as ACCOUNT

POLICY = """---
apiVersion: cloudios.io/v1alpha1
kind: ScanPolicy
metadata: {name: daily, namespace: team-a}
spec:
"""
MEMORY_CAP = 1024 * 1024 * 1024  # the 773-byte alias bomb took 1.6 GB before it failed


def _alias_bomb() -> bytes:
    """Nine levels of nine aliases (9**9 strings once expanded) where the old loader expanded them."""
    lines = ["apiVersion: cloudios.io/v1alpha1", "kind: CloudAccount", "metadata:", "  name: bomb"]
    lines.append('  a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]')
    for prev, level in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"  {level}: &{level} [" + ",".join([f"*{prev}"] * 9) + "]")
    return ("\n".join([*lines, "spec:", "  provider: *i"]) + "\n").encode()


CASES = {
    "non-UTF-8": (
        ACCOUNT.encode().replace(b"ext-1", b"ext-\xff1"),
        "CloudAccount/prod: spec.aws.externalId: not UTF-8 text: byte 0xff at line 9",
    ),
    "UTF-16 with BOM": (ACCOUNT.encode("utf-16"), "m.yaml: the file is UTF-16 text; save it as UTF-8"),
    "20,000-deep nesting": (
        (ACCOUNT + POLICY + "  modules: " + "[" * 20_000 + "]" * 20_000 + "\n").encode(),
        "ScanPolicy/daily: spec.modules[0][0][0][0][0][0][0][0][0][0]…: nested deeper than 64 levels",
    ),
    "5,000-digit integer": (
        (ACCOUNT + POLICY + "  lookbackDays: " + "7" * 5_000 + "\n").encode(),
        "ScanPolicy/daily: spec.lookbackDays: an integer of 5,000 digits is out of range (line 16)",
    ),
    "alias bomb": (_alias_bomb(), "CloudAccount/bomb: metadata.e[5]: more than 50,000 YAML nodes"),
    "duplicate keys": (
        (ACCOUNT + POLICY + "  lookbackDays: 30\n  lookbackDays: 7\n").encode(),
        "ScanPolicy/daily: spec.lookbackDays: duplicate key",
    ),
    "lookbackDays: true": (
        (ACCOUNT + POLICY + "  lookbackDays: true\n").encode(),
        "ScanPolicy/daily: spec.lookbackDays: Input should be a valid integer",
    ),
    "a YAML true as a module's number": (
        (ACCOUNT + POLICY + "  modules: [{name: aws.ec2.idle, settings: {minDays: true}}]\n").encode(),
        "ScanPolicy/daily: spec.modules[0].settings.minDays: expected a number, got True",
    ),
    "a string as maxRecommendations": (
        (ACCOUNT + POLICY + '  maxRecommendations: "5"\n').encode(),
        "ScanPolicy/daily: spec.maxRecommendations: Input should be a valid integer",
    ),
    "a recursive alias": (
        (ACCOUNT + POLICY + "  modules: &m [*m]\n").encode(),
        "ScanPolicy/daily: spec.modules[0]: alias *m refers to a node that contains it",
    ),
}


def _scan(target: str, *, stdin: Path | None = None) -> tuple[int, str, float]:
    started = time.monotonic()
    with (stdin or Path("/dev/null")).open("rb") as feed:
        # util-linux prlimit caps the child's address space: no preexec_fn, so no Python fork hooks run
        # in a test process whose other fixtures have gRPC threads (which abort on such a fork).
        done = subprocess.run(
            [
                "prlimit",
                f"--as={MEMORY_CAP}",
                "--",
                sys.executable,
                "-m",
                "cloudios.cli.main",
                "scan",
                "-f",
                target,
                "--no-store",
            ],
            stdin=feed,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    return done.returncode, done.stderr, time.monotonic() - started


@pytest.mark.parametrize("case", CASES)
def test_hostile_manifest_exits_2_naming_file_object_and_field(tmp_path: Path, case: str) -> None:
    content, expected = CASES[case]
    path = tmp_path / "m.yaml"
    path.write_bytes(content)
    code, err, seconds = _scan(str(path))
    assert code == 2, err
    assert err.replace(str(path), "m.yaml").startswith(f"error: m.yaml: {expected.removeprefix('m.yaml: ')}")
    assert len(err.strip().splitlines()) == 1  # one line, never a traceback
    assert seconds < 60  # the process starts, reads and refuses: no expansion, no quadratic parse


@pytest.mark.parametrize("stdin", [False, True], ids=["-f /dev/zero", "-f - < /dev/zero"])
def test_an_endless_input_is_read_only_up_to_the_limit(stdin: bool) -> None:
    code, err, seconds = _scan("-", stdin=Path("/dev/zero")) if stdin else _scan("/dev/zero")
    assert code == 2, err
    name = "-" if stdin else "/dev/zero"
    assert err == f"error: {name}: larger than 1024 KiB; manifests are small, so this is not one\n"
    assert seconds < 60


def test_the_alias_bomb_fails_fast_without_big_memory(tmp_path: Path) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_bytes(_alias_bomb())
    assert len(path.read_bytes()) < 800
    tracemalloc.start()
    started = time.perf_counter()
    try:
        with pytest.raises(manifests.ManifestError, match="more than 50,000 YAML nodes"):
            manifests.load([str(path)])
        seconds = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < 1.0
    assert peak < 16 * 1024 * 1024


def test_a_file_at_the_limit_is_read_whole_and_one_byte_more_is_refused(tmp_path: Path) -> None:
    fits = tmp_path / "fits.yaml"
    fits.write_bytes(ACCOUNT.encode() + b"#" * (manifest_yaml.MAX_BYTES - len(ACCOUNT)))
    assert [a.metadata.name for a in manifests.load([str(fits)]).accounts] == ["prod"]
    over = tmp_path / "over.yaml"
    over.write_bytes(fits.read_bytes() + b"#")
    with pytest.raises(manifests.ManifestError, match="larger than 1024 KiB"):
        manifests.load([str(over)])


def test_valid_manifests_still_load_with_anchors_bom_and_ints_as_floats(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    policy = POLICY + (
        "  lookbackDays: 30\n  maxRecommendations: 5\n"
        "  modules:\n    - &idle {name: aws.ec2.idle, settings: {cpuAverageThreshold: 5, minDays: 7}}\n"
    )
    path.write_bytes(b"\xef\xbb\xbf" + (ACCOUNT + policy).encode())
    found = manifests.load([str(path)])
    (policy_obj,) = found.policies
    assert policy_obj.spec.lookback_days == 30
    assert policy_obj.spec.modules[0].settings == {"cpuAverageThreshold": 5, "minDays": 7}
