"""Benchmark: how long `cloudios --help` and `cloudios --version` take to start, beside `python -c pass`.

    .venv/bin/python bench/cli_startup.py [--runs 30] [--src DIR] [--importtime 15]

Each command runs ``--runs`` times, interleaved (help, version, baseline, help, ...) so that load
from other work on the machine falls on all three alike; the table gives the median and p95 wall
time of each, and of each minus the baseline (Python's own start-up). The CLI runs exactly as its
console script does: ``python -c 'from cloudios.cli.main import main; main()' ARGS``.

``--src DIR`` puts DIR (a checkout's ``operator/`` directory) first on PYTHONPATH, to measure
another version, e.g. main before lazy imports:
``git worktree add /tmp/before main && python bench/cli_startup.py --src /tmp/before/operator``.

``--importtime N`` also prints the N modules with the largest cumulative import time (from
``python -X importtime``) under `cloudios --help`: the offenders to make lazy.
"""

from __future__ import annotations

import sys

if sys.path and sys.path[0].rstrip("/").endswith("/bench"):
    # Started as `python bench/cli_startup.py`: bench/operator.py would shadow the stdlib `operator`.
    sys.path.pop(0)

import argparse
import os
import statistics
import subprocess
import time
from collections.abc import Sequence

ENTRY = "import sys; from cloudios.cli.main import main; sys.exit(main())"
COMMANDS = {
    "cloudios --help": ["-c", ENTRY, "--help"],
    "cloudios --version": ["-c", ENTRY, "--version"],
    "python -c pass (baseline)": ["-c", "pass"],
}
PERCENT = 100


def environment(src: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def once(args: Sequence[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], env=env, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def p95(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(runs: int, env: dict[str, str]) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for name, args in COMMANDS.items():  # warm the file cache and bytecode once, unmeasured
        once(args, env)
        times[name].clear()
    for _ in range(runs):
        for name, args in COMMANDS.items():
            times[name].append(once(args, env))
    return times


def importtime(top: int, env: dict[str, str]) -> list[tuple[float, str]]:
    """(cumulative ms, module) of the slowest imports under `cloudios --help`."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", ENTRY, "--help"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        rows.append((int(cumulative) / 1000, name))
    return sorted(rows, reverse=True)[:top]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=30, help="runs of each command (default 30)")
    parser.add_argument("--src", metavar="DIR", help="a checkout's operator/ directory to measure instead")
    parser.add_argument("--importtime", type=int, default=15, metavar="N", help="top N imports (0: none)")
    args = parser.parse_args(argv)
    env = environment(args.src)
    times = measure(args.runs, env)
    base = statistics.median(times["python -c pass (baseline)"])
    print(
        f"{args.runs} runs each, interleaved; Python {sys.version.split()[0]}; src {args.src or 'installed'}"
    )
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs\n")
    print("| command | median (s) | p95 (s) | median minus baseline (s) |")
    print("|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"| `{name}` | {median:.3f} | {p95(values):.3f} | {median - base:.3f} |")
    if args.importtime:
        print(f"\nslowest imports under `cloudios --help` (cumulative ms, {args.importtime} largest):")
        for ms, name in importtime(args.importtime, env):
            print(f"  {ms:8.1f}  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
