"""Draws docs/images/dashboard.png: the chart's Grafana dashboard (tools/gen_dashboard.py), panel for
panel, with matplotlib, from a real Prometheus that scraped the operator while it scanned the demo
estates.

Grafana is not packaged by Debian and not usable from npm, so the picture is not a Grafana screenshot:
the same panel layout, queries and legends, drawn from the Prometheus HTTP API's answers. The data is
real: `make demo`'s operator part (tools/demo_operator.py: seeded AWS, GCP and Azure emulators and an
agent-fed cluster) runs with its metrics port on, Debian's Prometheus scrapes it as the chart's
ServiceMonitor says (tests/support/scrape_config.py), and a short story plays out: the first scan,
approvals and dismissals, two orphaned volumes deleted and a rescan that resolves their
recommendations. The answers are kept in out/dashboard-data.json; `--from-data` redraws from them.

    python tools/render_dashboard.py              # run the demo (about 5 minutes), draw
    python tools/render_dashboard.py --from-data out/dashboard-data.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tools import gen_dashboard  # noqa: E402

OUT = ROOT / "docs" / "images" / "dashboard.png"
DATA = ROOT / "out" / "dashboard-data.json"
SCRAPE_SECONDS = 2
# What Grafana would substitute for a 2 s scrape interval and a ten-minute view.
VARIABLES = {"$__rate_interval": "30s", "$__interval": "5s", "$__range": "10m", "$namespace": ".*",
             "$currency": "USD"}  # fmt: skip
BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
PALETTE = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9", "#fade2a",
           "#96d98d", "#ffb357", "#ca95e5", "#ff9830"]  # fmt: skip


def substitute(expr: str) -> str:
    for name, value in VARIABLES.items():
        expr = expr.replace(name, value)
    return expr


# -- collecting ------------------------------------------------------------------------------------


def collect(workdir: Path, timeout: float) -> dict[str, Any]:
    """Run the demo with Prometheus scraping the operator; every panel's answers."""
    import httpx  # noqa: PLC0415
    from tests.support import prometheus  # noqa: PLC0415
    from tests.support.controlplane import free_port  # noqa: PLC0415
    from tools import demo_operator  # noqa: PLC0415
    from tools.demo_process import fresh_workdir, progress  # noqa: PLC0415

    from cloudios.security import tls  # noqa: PLC0415

    work = fresh_workdir(workdir)
    port = free_port()
    demo = demo_operator.Demo(
        workdir=work,
        deadline=time.monotonic() + timeout,
        operator_env={"CLOUDIOS_METRICS_PORT": str(port), "CLOUDIOS_METRICS_ADDR": "127.0.0.1"},
    )
    try:
        seeding = demo.start_emulator()
        demo.start_control_plane()
        demo.install()
        demo.start_operator()
        job = _scrape_job(demo, port, work)
        with prometheus.serve(work / "prometheus-data", work / "prometheus", scrape_configs=[job]) as running:
            progress(f"Prometheus scrapes the operator every {SCRAPE_SECONDS}s ({running.url})")
            start = time.time()
            demo.wait_ready()
            demo.feed_cluster()
            recs = demo.wait_scan(seeding)
            _story(demo, recs)
            end = time.time()
            assert running.ca_file is not None
            verify = tls.client_context(running.ca_file)

            def query(path: str, **params: str) -> list[dict[str, Any]]:
                response = httpx.get(f"{running.url}{path}", params=params, verify=verify, timeout=30)
                response.raise_for_status()
                return list(response.json()["data"]["result"])

            answers: dict[str, list[list[dict[str, Any]]]] = {}
            for panel in gen_dashboard.dashboard()["panels"]:
                for target in panel.get("targets", []):
                    expr = substitute(target["expr"])
                    if target["instant"]:
                        found = query("/api/v1/query", query=expr, time=str(end))
                    else:
                        found = query("/api/v1/query_range", query=expr, start=str(start), end=str(end),
                                      step=str(SCRAPE_SECONDS * 2))  # fmt: skip
                    answers.setdefault(str(panel["id"]), []).append(found)
        return {"start": start, "end": end, "answers": answers}
    finally:
        demo.close()


def _scrape_job(demo: Any, port: int, work: Path) -> dict[str, Any]:
    """The chart's ServiceMonitor (verifying the operator's certificate) as a scrape config, with a
    ServiceAccount token that may get /metrics."""
    from tests.e2e.test_metrics_endpoint import grant_metrics, service_account_token  # noqa: PLC0415
    from tests.support import chart  # noqa: PLC0415
    from tests.support.scrape_config import scrape_config  # noqa: PLC0415
    from tools.demo_operator import NAMESPACE  # noqa: PLC0415

    plane = demo.plane
    token = service_account_token(plane, NAMESPACE, "prometheus")
    grant_metrics(plane, NAMESPACE, "prometheus")
    token_file = work / "prometheus-token"
    token_file.write_text(token)
    token_file.chmod(0o600)
    docs = chart.render(
        plane, *chart.KEY, "--set", "metrics.serviceMonitor.enabled=true",
        "--set", f"metrics.serviceMonitor.interval={SCRAPE_SECONDS}s",
        "--set", f"metrics.serviceMonitor.scrapeTimeout={SCRAPE_SECONDS}s",
        "--set", "metrics.serviceMonitor.tlsConfig.insecureSkipVerify=false",
        "--set", "metrics.serviceMonitor.tlsConfig.serverName=127.0.0.1",
        "--set", "metrics.serviceMonitor.tlsConfig.ca.secret.name=cloudios-webhook-tls",
        "--set", "metrics.serviceMonitor.tlsConfig.ca.secret.key=ca.crt",
    )  # fmt: skip
    (monitor,) = [d for d in docs if d["kind"] == "ServiceMonitor"]
    ca = Path(demo.operator.env["CLOUDIOS_WEBHOOK_CA_FILE"])
    files = {("cloudios-webhook-tls", "ca.crt"): ca}
    return scrape_config(monitor, target=f"127.0.0.1:{port}", token_file=token_file, files=files)


def _story(demo: Any, recs: list[dict[str, Any]]) -> None:
    """Decisions and a rescan after two orphaned volumes are deleted, with pauses between, so the
    panels move over time."""
    from tools.demo_operator import ADMINS, NAMESPACE, POLICY  # noqa: PLC0415
    from tools.demo_process import progress  # noqa: PLC0415

    def pause(seconds: float) -> None:
        progress(f"  (Prometheus keeps scraping: {seconds:.0f}s)")
        time.sleep(seconds)

    pause(40)
    as_admin = ["--as", "alice", "--as-group", ADMINS]
    priced = sorted(
        (r for r in recs if r["spec"].get("monthlySavings")),
        key=lambda r: -float(r["spec"]["monthlySavings"]["amount"]),
    )
    orphaned = [r for r in priced if r["spec"]["module"] == "aws.ebs.unattached"][:2]
    others = [r for r in priced if r not in orphaned]
    for rec in others[:4]:
        demo.plugin("approve", rec["metadata"]["name"], "-n", NAMESPACE, "--reason", "demo", *as_admin)
    progress("approved the four largest recommendations")
    pause(30)
    for rec in others[-3:]:
        demo.plugin("dismiss", rec["metadata"]["name"], "-n", NAMESPACE, "--reason", "demo", *as_admin)
    progress("dismissed three small ones")
    pause(30)
    _delete_volumes(demo, orphaned)
    before = (demo.get("scanpolicies", POLICY).get("status") or {}).get("lastRunTime")
    demo.kubectl("annotate", "scanpolicy", POLICY, "-n", NAMESPACE, f"cloudios.io/run-now={int(time.time())}",
                 "--overwrite")  # fmt: skip

    def rescanned() -> bool | None:
        status = demo.get("scanpolicies", POLICY).get("status") or {}
        return True if status.get("lastRunTime") != before else None

    demo.wait(rescanned, "the rescan after deleting the volumes")
    progress(f"deleted {len(orphaned)} orphaned volumes; the rescan resolved their recommendations")
    pause(60)


def _delete_volumes(demo: Any, recs: list[dict[str, Any]]) -> None:
    import boto3  # noqa: PLC0415
    from tools.demo_environment import DEMO_KEYS  # noqa: PLC0415

    for rec in recs:
        spec = rec["spec"]
        ec2 = boto3.session.Session(**DEMO_KEYS, region_name=spec["region"]).client(
            "ec2", endpoint_url=demo.moto_url
        )
        ec2.delete_volume(VolumeId=spec["resourceId"])


# -- drawing ---------------------------------------------------------------------------------------


def _legend(template: str, labels: dict[str, str]) -> str:
    if template in ("", "__auto"):
        return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "value"
    text = re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: labels.get(m.group(1), ""), template)
    return text.strip(" /:") or "value"


def draw(data: dict[str, Any], out: Path) -> None:
    import matplotlib as mpl  # noqa: PLC0415

    mpl.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    model = gen_dashboard.dashboard()
    panels = model["panels"]
    rows = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in panels)
    width, header = 24 * 0.8, 0.6
    height = rows * 0.42 + header
    fig = plt.figure(figsize=(width, height), facecolor=BACKGROUND)
    title = (
        f"{model['title']} — namespace: All, currency: USD; drawn with matplotlib from Prometheus, "
        "which scraped the operator during the demo estates' scans"
    )
    fig.text(0.005, 1 - 0.3 / height, title, color=TEXT, fontsize=13, va="center")
    top = 1 - header / height

    def box(grid: dict[str, int]) -> tuple[float, float, float, float]:
        """The panel's rectangle in figure fractions (x, y, w, h), a small gap around it."""
        gap_x, gap_y = 0.05 / width, 0.05 / height
        x, w = grid["x"] / 24, grid["w"] / 24
        h = grid["h"] / rows * top
        y = top - grid["y"] / rows * top - h
        return x + gap_x, y + gap_y, w - 2 * gap_x, h - 2 * gap_y

    for panel in panels:
        x, y, w, h = box(panel["gridPos"])
        if panel["type"] == "row":
            fig.text(x, y + h / 2, panel["title"], color=TEXT, fontsize=12, fontweight="bold", va="center")
            continue
        background = fig.add_axes((x, y, w, h), facecolor=PANEL)
        background.set_xticks([])
        background.set_yticks([])
        for side in background.spines.values():
            side.set_color(GRID)
        background.text(0.01, 1 - 0.12 / (h * height), panel["title"].replace("$currency", "USD"), color=TEXT,
                        fontsize=9, va="top", transform=background.transAxes)  # fmt: skip
        left = {"stat": 0.1, "bargauge": 1.7}.get(panel["type"], 0.6)
        ax = fig.add_axes(
            (x + left / width, y + 0.35 / height, w - (left + 0.15) / width, h - 0.7 / height),
            facecolor=PANEL,
        )
        for side in ax.spines.values():
            side.set_color(GRID)
        ax.tick_params(colors=TEXT, labelsize=7)
        answers = data["answers"].get(str(panel["id"]), [])
        series = [
            (_legend(t["legendFormat"], r["metric"]), r)
            for t, results in zip(panel["targets"], answers, strict=False)
            for r in results
        ]
        _draw_panel(ax, panel, series)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=80, facecolor=BACKGROUND)
    plt.close(fig)


def _short(value: float, _position: object = None) -> str:
    for size, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:g}{suffix}"
    return f"{value:g}"


def _draw_panel(ax: Any, panel: dict[str, Any], series: list[tuple[str, dict[str, Any]]]) -> None:
    from matplotlib.ticker import FuncFormatter  # noqa: PLC0415

    if panel["type"] == "stat":
        value = float(series[0][1]["value"][1]) if series else 0.0
        text = f"{value:,.2f}" if "savings" in panel["title"].lower() else f"{value:,.0f}"
        ax.text(0.5, 0.5, text, color=PALETTE[0], fontsize=24, ha="center", va="center", fontweight="bold",
                transform=ax.transAxes)  # fmt: skip
        ax.set_axis_off()
        return
    if panel["type"] == "bargauge":
        names = [name for name, _ in series][:8]
        values = [float(r["value"][1]) for _, r in series][:8]
        ax.barh(names, values, color=PALETTE[2], height=0.6)
        ax.set_ylim(max(len(names), 3) - 0.5, -0.5)
        ax.xaxis.set_major_formatter(FuncFormatter(_short))
        ax.grid(axis="x", color=GRID, linewidth=0.5)
        return
    ax.yaxis.set_major_formatter(FuncFormatter(_short))
    stacked = panel["fieldConfig"]["defaults"]["custom"].get("stacking", {}).get("mode") == "normal"
    _timeseries(ax, series, stacked=stacked)


def _timeseries(ax: Any, series: list[tuple[str, dict[str, Any]]], *, stacked: bool) -> None:
    import matplotlib.dates as mdates  # noqa: PLC0415

    ax.grid(color=GRID, linewidth=0.5)
    if not series:
        ax.text(0.5, 0.5, "No data", color=TEXT, ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.xaxis.set_major_locator(mdates.MinuteLocator(tz=UTC))
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    lines = []
    for i, (name, result) in enumerate(series[: len(PALETTE)]):
        times = [datetime.fromtimestamp(float(t), UTC) for t, _ in result["values"]]
        values = [float(v) for _, v in result["values"]]
        lines.append((name, times, values, PALETTE[i % len(PALETTE)]))
    if stacked:
        # Align on the union of timestamps (a series that appears later is 0 before it exists).
        stamps = sorted({t for _, times, _, _ in lines for t in times})
        stacks = [
            [dict(zip(times, values, strict=True)).get(t, 0.0) for t in stamps]
            for _, times, values, _ in lines
        ]
        ax.stackplot(stamps, stacks, labels=[n for n, *_ in lines], colors=[c for *_, c in lines], alpha=0.6)
    else:
        for name, times, values, color in lines:
            ax.plot(times, values, label=name, color=color, linewidth=1.4)
    ax.legend(loc="upper left", fontsize=6, facecolor=PANEL, edgecolor=GRID, labelcolor=TEXT, ncol=2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--from-data", type=Path, help="redraw from saved Prometheus answers")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--workdir", type=Path, default=ROOT / "out" / "dashboard-demo")
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args(argv)
    if args.from_data:
        data = json.loads(args.from_data.read_text())
    else:
        data = collect(args.workdir, args.timeout)
        DATA.parent.mkdir(parents=True, exist_ok=True)
        DATA.write_text(json.dumps(data))
        print(f"wrote {DATA.relative_to(ROOT)}")
    draw(data, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
