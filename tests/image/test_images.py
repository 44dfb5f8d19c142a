"""The built images, run for real under crun as UID 65532 on a read-only root filesystem."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from tools.images import build, install, oci
from tools.images.lock import Lock

from cloudios.cli.main import main
from cloudios.emulators.aws import demo, sample_estate
from tests.support.moto import AwsEnv
from tests.support.oci_runtime import Image

# The first test also waits for the session's image build (about 3.5 minutes on a cold machine).
pytestmark = [pytest.mark.image, pytest.mark.slow, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
SITE = "/opt/cloudios/lib/python3.11/site-packages"
# What the process may and may not write: a JSON line printed inside the container.
PROBE = """
import json, os, sys
def writable(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
    except OSError as exc:
        return exc.strerror
    return "ok"
print(json.dumps({"uid": os.getuid(), "gid": os.getgid(), "home": os.environ["HOME"],
    "etc": writable("/etc/probe"), "site": writable(sys.argv[1] + "/probe"), "tmp": writable("/tmp/probe")}))
"""

# What `python -m cloudios.controller` (the chart's command), `python -m cloudios.services.job` (scan
# Jobs, same image) and the scans import: kopf and every SDK.
OPERATOR_MODULES = (
    "cloudios.controller.__main__",
    "cloudios.controller.runner",
    "cloudios.services.job",
    "kopf",
    "kubernetes",
    "boto3",
    "google.cloud.monitoring_v3",
    "azure.identity",
    "psycopg",
)
# The agent must stay small: no cloud SDKs, no kubernetes client, no pydantic (DESIGN.md §3).
NOT_IN_AGENT = (
    "kubernetes",
    "kopf",
    "boto3",
    "botocore",
    "google",
    "azure",
    "pydantic",
    "cryptography",
    "cloudios",
)


def dist(name: str) -> str:
    """``name@version`` of a dist-info directory name, the name normalised (PEP 503) as in the lock."""
    project, version = name.removesuffix(".dist-info").rsplit("-", 1)
    return f"{re.sub(r'[-_.]+', '-', project).lower()}@{version}"


def ok(image: Image, *args: str, env: dict[str, str] | None = None) -> str:
    done = image.run(*args, env=env)
    assert done.returncode == 0, f"{args} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def probe(image: Image) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(ok(image, "python", "-c", PROBE, SITE))
    return result


@pytest.mark.parametrize("fixture", ["operator_image", "agent_image"])
def test_images_run_as_65532_and_write_only_to_tmp(fixture: str, request: pytest.FixtureRequest) -> None:
    image: Image = request.getfixturevalue(fixture)
    assert image.config["User"] == "65532:65532"
    assert probe(image) == {
        "uid": 65532,
        "gid": 65532,
        "home": "/home/nonroot",
        "etc": "Read-only file system",
        "site": "Read-only file system",
        "tmp": "ok",
    }


def test_operator_image_ships_the_cli_and_the_operator(operator_image: Image) -> None:
    assert ok(operator_image, "cloudios", "--version").strip() == f"cloudios {build.version()}"
    assert "usage: kubectl cloudios" in ok(operator_image, "kubectl-cloudios", "--help")
    ok(operator_image, "python", "-c", f"import {', '.join(OPERATOR_MODULES)}; print(psycopg.pq.version())")


# Every compiled extension and bundled library of the wheels loads: what they link (libstdc++, libz, ...)
# is in the image. Prints the ones that fail with the loader's message.
LOADS = """
import ctypes, json, pathlib, sys
failed = {}
for path in sorted(pathlib.Path(sys.argv[1]).rglob("*.so*")):
    try:
        ctypes.CDLL(str(path))
    except OSError as exc:
        failed[str(path)] = str(exc)
print(json.dumps(failed))
"""


@pytest.mark.parametrize("fixture", ["operator_image", "agent_image"])
def test_every_shared_library_of_the_wheels_loads(fixture: str, request: pytest.FixtureRequest) -> None:
    image: Image = request.getfixturevalue(fixture)
    assert json.loads(ok(image, "python", "-c", LOADS, SITE)) == {}


def _findings(report: dict[str, Any]) -> dict[tuple[str, str], Decimal | None]:
    return {
        (r["resourceId"], r["module"]): Decimal(r["monthlySavings"]["amount"])
        if r["monthlySavings"]
        else None
        for r in report["recommendations"]
    }


def test_operator_image_scans_the_demo_estate(
    operator_image: Image, aws_env: AwsEnv, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = sample_estate.seed_estate(
        aws_env.url, seed=7, regions=demo.REGIONS, scale=0.3, lookback_days=30, account_id=demo.ACCOUNT
    )
    # The standard AWS chain inside the container: dummy keys for moto, reached on the host's loopback.
    env = {
        "AWS_ENDPOINT_URL": aws_env.url,
        "AWS_ACCESS_KEY_ID": "demo",
        "AWS_SECRET_ACCESS_KEY": "demo",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    manifests = f"{SITE}/cloudios/emulators/aws/demo_manifests"
    args = ["-f", f"{manifests}/cloudaccount.yaml", "-f", f"{manifests}/scanpolicy.yaml", "-o", "json"]
    inside = json.loads(ok(operator_image, "cloudios", "scan", *args, "--data-dir", "/tmp/cloudios", env=env))
    assert inside["summary"]["errors"] == [], inside["summary"]
    found = _findings(inside)
    assert len(found) >= 10
    assert sum(v for v in found.values() if v) > 0
    # The scan inside finds what the estate was seeded to hold (its labels), not just something.
    score = truth.score(found)
    tp, fp = sum(score.true_positives.values()), sum(score.false_positives.values())
    assert tp >= 10
    assert tp / (tp + fp) >= 0.9, dict(score.false_positives)

    # The same manifests scanned by the CLI on the host give the same recommendations and savings.
    host = [
        "-f",
        str(REPO / "examples/demo/cloudaccount.yaml"),
        "-f",
        str(REPO / "examples/demo/scanpolicy.yaml"),
    ]
    assert main(["scan", *host, "-o", "json", "--data-dir", str(tmp_path / "data")]) == 0
    assert _findings(json.loads(capsys.readouterr().out)) == found


def test_agent_image_runs_the_agent_and_nothing_else(agent_image: Image, summary: dict[str, Any]) -> None:
    help_text = ok(agent_image, "cloudios-agent", "--help")
    assert help_text.startswith("usage: cloudios-agent")
    assert "Reports workload metadata and usage" in help_text
    assert ok(agent_image, "cloudios-agent", "--version").strip() == f"cloudios-agent {build.version()}"
    check = f"import importlib.util as u; print([m for m in {NOT_IN_AGENT!r} if u.find_spec(m)])"
    assert ok(agent_image, "python", "-c", check).strip() == "[]"
    site = agent_image.rootfs / SITE.lstrip("/")
    installed = {dist(p.name) for p in site.glob("*.dist-info")}
    assert installed == {f"{p.name}@{p.version}" for p in Lock(REPO / "uv.lock").agent()}
    # Small: about 23 MiB compressed today, most of it Debian's python3.11 and libc.
    assert summary["cloudios-agent"]["compressedBytes"] < 30 * 2**20
    assert summary["cloudios-agent"]["unpackedBytes"] < 80 * 2**20


@pytest.mark.parametrize("fixture", ["operator_image", "agent_image"])
def test_digest_and_sbom_describe_the_archive(
    fixture: str, request: pytest.FixtureRequest, built_images: Path, summary: dict[str, Any]
) -> None:
    image: Image = request.getfixturevalue(fixture)
    archive = oci.read(built_images / summary[image.name]["archive"])
    reference = f"{build.REGISTRY}/{image.name}:{build.version()}"
    assert archive.reference == reference
    digest_file = built_images / f"{image.name}-{build.version()}.digest"
    assert digest_file.read_text(encoding="utf-8") == f"{reference}@{archive.digest}\n"
    document = json.loads((built_images / summary[image.name]["sbom"]).read_text(encoding="utf-8"))
    assert document["spdxVersion"] == "SPDX-2.3"
    assert document["name"] == f"{reference}@{archive.digest}"
    refs = [p["externalRefs"][0]["referenceLocator"] for p in document["packages"]]
    pypi = {r.removeprefix("pkg:pypi/") for r in refs if r.startswith("pkg:pypi/")}
    debs = {r.removeprefix("pkg:deb/debian/").split("?")[0] for r in refs if r.startswith("pkg:deb/")}

    site = image.rootfs / SITE.lstrip("/")
    dist_infos = {dist(p.name) for p in site.glob("*.dist-info")}
    project = f"cloudios@{build.version()}"
    assert project in pypi
    # The agent image holds the project's cloudios_agent package only, without its dist-info.
    assert dist_infos == (pypi if image.name == "cloudios-operator" else pypi - {project})
    # Every file a RECORD lists is there (uv's console scripts, removed, are not listed).
    for record in site.glob("*.dist-info/RECORD"):
        for line in record.read_text(encoding="utf-8").splitlines():
            assert (site / line.split(",", 1)[0]).exists(), f"{record}: {line}"
    # Nothing about the build machine (uv's record of a local wheel's temporary path and install time).
    assert not [p for name in install.INSTALL_RECORDS for p in site.glob(f"*.dist-info/{name}")]
    status_d = image.rootfs / "var/lib/dpkg/status.d"
    in_image = set()
    for stanza in status_d.iterdir():
        fields = dict(line.split(": ", 1) for line in stanza.read_text().splitlines() if ": " in line[:40])
        in_image.add(f"{fields['Package']}@{fields['Version']}")
    assert debs == in_image
    assert "python3.11-minimal" in {d.split("@")[0] for d in debs}
    assert not {"dpkg", "apt", "bash", "perl-base", "tar"} & {d.split("@")[0] for d in debs}


def test_charts_are_packaged_for_the_images(built_images: Path, summary: dict[str, Any]) -> None:
    for chart, image in (("cloudios", "cloudios-operator"), ("cloudios-agent", "cloudios-agent")):
        with tarfile.open(built_images / f"{chart}-{build.version()}.tgz") as tgz:
            meta = yaml.safe_load(tgz.extractfile(f"{chart}/Chart.yaml").read())  # type: ignore[union-attr]
            values = yaml.safe_load(tgz.extractfile(f"{chart}/values.yaml").read())  # type: ignore[union-attr]
        # The chart's default image (tag empty = appVersion) is exactly the one built.
        repository, tag = summary[image]["reference"].rsplit(":", 1)
        assert values["image"]["repository"] == repository
        assert values["image"]["tag"] in ("", tag)
        assert meta["appVersion"] == tag == build.version()


def test_a_second_build_elsewhere_gives_the_same_digest(
    built_images: Path, summary: dict[str, Any], tmp_path: Path
) -> None:
    """Reproducible: the agent rebuilt from a copy of the tree at another path is bit-identical."""
    checkout = tmp_path / "elsewhere"
    tracked = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout
    for name in filter(None, tracked.decode().split("\0")):
        if (REPO / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, checkout / name)
    out = tmp_path / "out"
    command = [sys.executable, str(checkout / "tools/images/build.py"), "--out", str(out)]
    command += ["--uv", str(build.default_uv()), "--only", "cloudios-agent", "--no-charts"]
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(build.source_date_epoch())}
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=900)
    assert done.returncode == 0, done.stderr
    again = json.loads((out / "images.json").read_text(encoding="utf-8"))["cloudios-agent"]
    assert again["digest"] == summary["cloudios-agent"]["digest"]
    assert (out / again["sbom"]).read_bytes() == (built_images / again["sbom"]).read_bytes()
