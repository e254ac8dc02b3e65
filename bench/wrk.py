"""Running wrk and reading its report."""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass

_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int  #: socket errors plus non-2xx/3xx answers


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text)
    if match is None:
        raise ValueError(f"wrk printed a latency this does not read: {text!r}")
    number, unit = match.groups()
    return float(number) * _UNITS[unit]


def _found(pattern: str, output: str) -> str:
    """The first group of ``pattern`` in wrk's output (a line of its own)."""
    match = re.search(pattern, output, re.MULTILINE)
    if match is None:
        raise ValueError(f"wrk's output has no {pattern!r}:\n{output}")
    return match.group(1)


def run_wrk(
    url: str, seconds: int, connections: int = 64, headers: dict[str, str] | None = None
) -> WrkResult:
    """One wrk run with one thread (the other core is the server's)."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise SystemExit("wrk is not installed: run `make install`")
    command = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    for name, value in (headers or {}).items():
        command[1:1] = ["-H", f"{name}: {value}"]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rps = float(_found(r"Requests/sec:\s+([\d.]+)", out))
    # The "Latency Distribution" lines: "     50%    4.05ms", each on a line of its own.
    p50 = _ms(_found(r"^\s+50%\s+(\S+)$", out))
    p99 = _ms(_found(r"^\s+99%\s+(\S+)$", out))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_ok = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return WrkResult(rps, p50, p99, errors + (int(non_ok.group(1)) if non_ok else 0))


def wrk_arguments(description: str, rounds: int = 3) -> argparse.Namespace:
    """The command line every wrk benchmark takes: seconds per run, rounds, connections."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--connections", type=int, default=64)
    return parser.parse_args()


Results = dict[tuple[str, str], list[WrkResult]]


def alternate(
    targets: Mapping[str, str],
    modes: Callable[[], Mapping[str, Mapping[str, str]]],
    args: argparse.Namespace,
) -> Results:
    """wrk on every target in every mode (mode -> request headers, asked anew each round),
    alternating, so drifts in the machine's speed hit every target alike."""
    results: Results = {}
    for _ in range(args.rounds):
        for mode, headers in modes().items():
            for name, url in targets.items():
                result = run_wrk(url, args.seconds, args.connections, dict(headers))
                results.setdefault((name, mode), []).append(result)
    return results


def print_medians(results: Results, first_column: str) -> None:
    """One line per (target, mode): median req/s, p50, p99, and every error."""
    print(f"{first_column:<15}{'target':<11}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}")
    for (name, mode), runs in sorted(results.items(), key=lambda item: item[0][::-1]):
        print(
            f"{mode:<15}{name:<11}"
            f"{statistics.median(r.requests_per_second for r in runs):>10.0f}"
            f"{statistics.median(r.p50_ms for r in runs):>9.2f}"
            f"{statistics.median(r.p99_ms for r in runs):>9.2f}"
            f"{sum(r.errors for r in runs):>8}"
        )
