"""The Docker Compose deployment's figures, measured on the engine of this machine.

``python -m bench.compose [--rounds 3]`` (``make bench-compose``)

Each round, in a project of its own (the simulator variant, free host ports, a copy of the
repository's files: tests/docker/compose.py), measures:

- a cold ``up --build``: ``build --no-cache`` then ``up --detach``, timed together;
- the time from that ``up`` to the first answer with all eight courses fresh, through HAProxy;
- a warm ``up --build`` after ``down --volumes`` (every layer cached, volumes new), and the time
  from it to the first fresh answer (this one makes the secrets and the database again);
- a code change (a comment added to a Python file) deployed with ``up --build --detach`` while
  eight clients poll the API: how long it took, how many requests failed, the slowest answer.

Then prints the medians and the image's size. The untagged images its ``--no-cache`` builds
and code changes leave behind stay until ``docker image prune``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from harness.checkout import copy_checkout
from harness.compose import Project
from harness.load import Load
from harness.procs import wait_for


def timed(project: Project, *arguments: str) -> float:
    """Seconds ``docker compose ARGUMENTS...`` took."""
    started = time.monotonic()
    project.compose(*arguments, timeout=900)
    return time.monotonic() - started


def until_fresh(project: Project, since: float) -> float:
    """Seconds from ``since`` to the first answer with every course fresh."""
    wait_for(project.fresh, 180, interval=0.1, what="8 fresh courses")
    return time.monotonic() - since


def one_round(project: Project) -> dict[str, float]:
    """Every figure of one round; the project is down again when it returns."""
    figures: dict[str, float] = {}
    try:
        built = timed(project, "build", "--no-cache")
        started = time.monotonic()
        figures["cold up --build, s"] = built + timed(project, "up", "--detach")
        figures["cold: up to fresh, s"] = until_fresh(project, started)
        project.compose("down", "--volumes")
        started = time.monotonic()
        figures["warm up --build, s"] = timed(project, "up", "--build", "--detach")
        figures["warm: up to fresh, s"] = until_fresh(project, started)
        source = project.directory / "gateway" / "api.py"
        source.write_text(source.read_text() + f"\n# a code change ({uuid.uuid4().hex})\n")
        load = Load(project.url("API", "/api/v1/courses"), concurrency=8, timeout=30)
        try:
            figures["code change: up --build, s"] = timed(project, "up", "--build", "--detach")
            until_fresh(project, time.monotonic())
            time.sleep(2)
        finally:
            outcomes = load.stop()
        figures["code change: requests"] = len(outcomes)
        figures["code change: failed"] = sum(1 for o in outcomes if o.status != 200)
        figures["code change: slowest, s"] = max(o.ended - o.started for o in outcomes)
        figures["image, MB"] = (
            int(
                subprocess.run(
                    ["docker", "image", "inspect", "--format", "{{.Size}}", project.image],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
            )
            / 1e6
        )
    finally:
        project.down()
    return figures


def main() -> None:
    """Measure and print."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as workdir:
        directory = copy_checkout(Path(workdir))
        for number in range(1, args.rounds + 1):
            figures = one_round(Project(directory))
            print(f"round {number}: " + ", ".join(f"{k} {v:.1f}" for k, v in figures.items()))
            rounds.append(figures)
    print(f"\nmedians of {len(rounds)} rounds:")
    for key in rounds[0]:
        print(f"  {key:28} {statistics.median(r[key] for r in rounds):8.1f}")


if __name__ == "__main__":
    main()
