"""The charts `make image` packages, installed with the images it built: `helm install --dry-run=server`
of each packaged .tgz, its image pinned by the built digest and every convention value set (the same
values files the chart tests use), passes the real API server; the rendered pods run exactly the image
that was built and tested in test_images.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from tools.images import build

from tests.support.chart import VALUES, apply_crds_for_real, apply_stand_ins
from tests.support.controlplane import ControlPlane

pytestmark = [pytest.mark.image, pytest.mark.cluster, pytest.mark.helm]
MONITORING = "monitoring"


def _install(
    plane: ControlPlane, chart: Path, release: str, namespace: str, *args: str
) -> list[dict[str, Any]]:
    """`helm install --dry-run=server` (helm asks the API server to validate every object) and the
    objects it would create."""
    plane.kubectl("create", "namespace", MONITORING, check=False)
    apply_stand_ins(plane)
    out = plane.helm(
        "install", release, str(chart), "--namespace", namespace, "--dry-run=server", "-o", "json", *args
    ).stdout
    manifest = yaml.safe_load(out)["manifest"]
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def _pods_images(docs: list[dict[str, Any]]) -> set[str]:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    containers = deployment["spec"]["template"]["spec"]["containers"]
    return {c["image"] for c in containers}


def test_the_packaged_operator_chart_installs_with_the_built_image(
    control_plane: ControlPlane, namespace: str, built_images: Path, summary: dict[str, Any]
) -> None:
    image = summary["cloudios-operator"]
    repository = image["reference"].rsplit(":", 1)[0]
    chart = built_images / f"cloudios-{build.version()}.tgz"
    everything = str(VALUES / "cloudios-everything.yaml")
    rendered = yaml.safe_load_all(control_plane.helm("template", "pkg", str(chart), "-f", everything).stdout)
    # CRDs the chart carries must exist before a dry-run of objects that use them.
    apply_crds_for_real(control_plane, [d for d in rendered if d])
    docs = _install(
        control_plane,
        chart,
        "pkg",
        namespace,
        "-f",
        str(VALUES / "cloudios-everything.yaml"),
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.digest={image['digest']}",
        "--set",
        "crds.install=false",
        "--set",
        "rbac.create=false",
    )
    assert _pods_images(docs) == {f"{repository}@{image['digest']}"}
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    env = {e["name"]: e.get("value") for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["CLOUDIOS_JOB_IMAGE"] == f"{repository}@{image['digest']}"  # scan Jobs run it too


def test_the_packaged_agent_chart_installs_with_the_built_image(
    control_plane: ControlPlane, namespace: str, built_images: Path, summary: dict[str, Any], tmp_path: Path
) -> None:
    image = summary["cloudios-agent"]
    repository = image["reference"].rsplit(":", 1)[0]
    token = tmp_path / "cluster-token.txt"
    token.write_text("cld_agt_for_a_dry_run_only\n", encoding="utf-8")
    docs = _install(
        control_plane,
        built_images / f"cloudios-agent-{build.version()}.tgz",
        "pkg-agent",
        namespace,
        "-f",
        str(VALUES / "cloudios-agent-everything.yaml"),
        "--set-file",
        f"token={token}",
        "--set",
        f"image.repository={repository}",
        "--set",
        f"image.digest={image['digest']}",
        "--set",
        "rbac.create=false",
    )
    assert _pods_images(docs) == {f"{repository}@{image['digest']}"}
