"""locust run headless by the tests, as ``make bench`` runs it, and what it counted."""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.procs import Process, ProcessGroup
from loadtest import contract

LOCUST = Path(sys.executable).parent / "locust"
LOCUSTFILE = Path(contract.__file__).parent / "locustfile.py"


@dataclass
class Run:
    """A headless locust run writing its CSV to ``prefix``."""

    process: Process
    prefix: Path
    seconds: int

    def finish(self) -> int:
        """Wait for locust to end the run by itself; its exit status."""
        return self.process.popen.wait(self.seconds + 30)

    def rows(self) -> dict[str, dict[str, str]]:
        """Its statistics (``PREFIX_stats.csv``) by name."""
        with open(f"{self.prefix}_stats.csv", newline="", encoding="utf-8") as stats:
            return {row["Name"]: row for row in csv.DictReader(stats)}

    def entries(self) -> list[dict[str, Any]]:
        """Every entry with its histogram, as the locustfile saved them."""
        with open(f"{self.prefix}_entries.json", encoding="utf-8") as file:
            entries: list[dict[str, Any]] = json.load(file)
        return entries

    def failures(self) -> str:
        """The failures' report (``PREFIX_failures.csv``), as text."""
        return Path(f"{self.prefix}_failures.csv").read_text(encoding="utf-8")


def start(
    procs: ProcessGroup, host: str, prefix: Path, seconds: int, users: int, **env: str
) -> Run:
    """locust against ``host`` for ``seconds`` with ``users`` (streamers included)."""
    command = [
        str(LOCUST),
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "--users",
        str(users),
        "--spawn-rate",
        str(users),
        "--run-time",
        f"{seconds}s",
        "--host",
        host,
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "2",
        "--loglevel",
        "WARNING",
    ]
    return Run(procs.spawn(prefix.name, command, env=env, python=False), prefix, seconds)
