"""A steady load that measures latency where a Python client cannot: wrk, paced by a Lua
script, run in the background for a fixed time.

A Python client on a busy two-core machine measures its own stalls as much as the server's
(a request "taking" 1.7 s that HAProxy answered in 2 ms); wrk's event loop in C does not. Each
of ``connections`` sends a request, waits for its answer, pauses ``pause_ms``, and again: a
steady rate, not a flat-out one that would itself become the bottleneck.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

#: wrk's Lua hooks: unique paths when busting the cache, a pause between requests, and the
#: figures printed as one JSON line at the end (its own report rounds the percentiles).
SCRIPT = """
local counter = 0
local bust = os.getenv("WRK_BUST") == "1"
local pause = tonumber(os.getenv("WRK_PAUSE_MS"))
request = function()
   counter = counter + 1
   local path = wrk.path
   if bust then path = path .. "?_=" .. counter end
   return wrk.format("GET", path)
end
delay = function() return pause end
done = function(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      '{"requests": %d, "errors": %d, "non_ok": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\\n',
      summary.requests, e.connect + e.read + e.write + e.timeout, e.status,
      latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass(frozen=True)
class WrkFigures:
    """What a run gave."""

    requests: int
    failed: int  #: socket errors, timeouts, and answers other than 2xx/3xx
    p50_ms: float
    p99_ms: float
    max_ms: float

    def __str__(self) -> str:
        return (
            f"{self.requests} requests, {self.failed} failed, p50 {self.p50_ms:.1f} ms, "
            f"p99 {self.p99_ms:.1f} ms, max {self.max_ms:.0f} ms"
        )


class SteadyLoad:
    """wrk on ``url`` for ``seconds`` from now; :meth:`figures` waits for its end."""

    def __init__(  # pylint: disable=too-many-arguments
        self,
        url: str,
        seconds: int,
        workdir: Path,
        *,
        connections: int = 8,
        pause_ms: int = 10,
        bust_cache: bool = True,
        timeout_s: int = 5,
    ) -> None:
        wrk = shutil.which("wrk")
        if wrk is None:
            raise RuntimeError("wrk is not installed: run `make install`")
        script = workdir / "steady.lua"
        script.write_text(SCRIPT)
        self.process = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                wrk,
                "-t1",
                f"-c{connections}",
                f"-d{seconds}s",
                f"--timeout={timeout_s}s",
                "-s",
                str(script),
                url,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={"WRK_BUST": "1" if bust_cache else "0", "WRK_PAUSE_MS": str(pause_ms)},
        )
        self.seconds = seconds

    def figures(self) -> WrkFigures:
        """The run's figures, once wrk has ended."""
        output, _ = self.process.communicate(timeout=self.seconds + 30)
        line = next((x for x in output.splitlines() if x.startswith('{"requests"')), None)
        if line is None:
            raise RuntimeError(f"wrk printed no figures:\n{output}")
        raw = json.loads(line)
        return WrkFigures(
            raw["requests"],
            raw["errors"] + raw["non_ok"],
            raw["p50_us"] / 1000,
            raw["p99_us"] / 1000,
            raw["max_us"] / 1000,
        )

    def stop(self) -> None:
        """End wrk now (when a test fails before its end)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
