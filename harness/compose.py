"""Driving ``docker compose`` from a test: a project of its own (unique name, free host
ports, its own image tag), started from a copy of the repository's files, always taken down.

The copy holds what git tracks (and new files not ignored): no developer's ``.env``, ``run/``
or ``.venv`` leaks in, and a test may change a file of it without touching the worktree.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from harness.ports import unused_port
from launcher.stack import SIMULATED_SUFFIX

ROOT = Path(__file__).resolve().parents[1]
#: The simulator variant: what `COMPOSE_FILE=compose.yaml:compose.sim.yaml` in .env selects.
FILES = ("compose.yaml", "compose.sim.yaml")
#: compose.yaml's POSTGRES_USER and POSTGRES_DB, unless .env says otherwise (the copy has none).
POSTGRES_USER = POSTGRES_DB = "rates"
#: Where that variant stores: the simulator's prices have a database of their own.
DATABASE = f"{POSTGRES_DB}{SIMULATED_SUFFIX}"
#: The image tag whose layers stay between runs, so the next run's build is a cached one.
CACHE_TAG = "ratewire-test:latest"


def engine_problem() -> str | None:
    """Why no Docker engine with Compose v2 can be used here, or None when one can."""
    if shutil.which("docker") is None:
        return "no docker CLI (.ci/run installs one with ../shared/docker-offline/engine.sh)"
    for command, what in (
        (["docker", "info", "--format", "{{.ServerVersion}}"], "no Docker engine answers"),
        (["docker", "compose", "version"], "no Docker Compose v2 plugin"),
    ):
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"{what}: {error}"
        if result.returncode != 0:
            return f"{what}: {(result.stderr or result.stdout).strip().splitlines()[-1:]}"
    return None


@dataclass
class Project:
    """One compose project of the simulator variant, on free host ports."""

    directory: Path
    name: str = field(default_factory=lambda: f"ratewire-test-{uuid.uuid4().hex[:8]}")
    ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in ("API", "STATS", "PROMETHEUS", "GRAFANA", "SIM_CONTROL", "LOCUST"):
            self.ports[name] = unused_port()
        self.image = f"ratewire-test:{self.name}"

    @property
    def env(self) -> dict[str, str]:
        """The environment of every compose command: nothing from the caller's COMPOSE_* or
        .env, the test's ports (on 127.0.0.1 only), the classic builder (no buildx here)."""
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": os.environ.get("HOME", "/root"),
            "DOCKER_BUILDKIT": "0",
            "RATEWIRE_IMAGE": self.image,
            "PUBLISH_API": f"127.0.0.1:{self.ports['API']}",
            **{
                f"PUBLISH_{name}_PORT": str(port)
                for name, port in self.ports.items()
                if name != "API"
            },
        }

    def compose(
        self, *arguments: str, timeout: float = 300, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        """``docker compose -p NAME -f compose.yaml -f compose.sim.yaml ARGUMENTS...``."""
        files = [option for file in FILES for option in ("-f", file)]
        command = ["docker", "compose", "-p", self.name, *files, *arguments]
        result = subprocess.run(
            command,
            cwd=self.directory,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} exited {result.returncode}:\n{result.stdout}\n"
                f"{result.stderr}"
            )
        return result

    def url(self, port: str, path: str = "") -> str:
        return f"http://127.0.0.1:{self.ports[port]}{path}"

    def fresh(self) -> bool:
        """All eight directions answered 200 and fresh through HAProxy."""
        try:
            response = httpx.get(self.url("API", "/api/v1/courses"), timeout=5)
        except httpx.HTTPError:
            return False
        if response.status_code != 200:
            return False
        courses = response.json()["courses"]
        return len(courses) == 8 and not any(course["stale"] for course in courses)

    def containers(self) -> list[dict[str, Any]]:
        """Every container of the project, running or not (``docker compose ps -a``)."""
        output = self.compose("ps", "-a", "--format", "json").stdout
        # One JSON object per line (older Compose printed one list).
        rows = [json.loads(line) for line in output.splitlines() if line.strip()]
        flat: list[dict[str, Any]] = [
            row for item in rows for row in (item if isinstance(item, list) else [item])
        ]
        return flat

    def ids(self) -> dict[str, str]:
        """Container name -> ID, of the running ones."""
        return {c["Name"]: c["ID"] for c in self.containers() if c["State"] == "running"}

    def exec(self, service: str, *command: str, index: int = 1) -> str:
        """A command's output, run in one container of ``service``."""
        arguments = ("exec", "-T", "--index", str(index), service, *command)
        output: str = self.compose(*arguments, timeout=60).stdout
        return output

    def sql(self, query: str) -> list[list[str]]:
        """Rows of a query run by psql inside the postgres container."""
        output = self.exec(
            "postgres", "psql", "-U", POSTGRES_USER, "-d", DATABASE, "-At", "-c", query
        )
        return [line.split("|") for line in output.splitlines() if line]

    def stats_password(self) -> str:
        return self.exec("haproxy", "cat", "/run/secrets/haproxy/stats_password")

    def servers(self, password: str, backend: str = "gateways") -> dict[str, dict[str, str]]:
        """HAProxy's stats rows of the servers of ``backend``, by server name."""
        response = httpx.get(self.url("STATS", "/;csv"), auth=("admin", password), timeout=5)
        rows = csv.DictReader(io.StringIO(response.text.lstrip("# ")))
        return {row["svname"]: row for row in rows if row["pxname"] == backend}

    def writer(self, index: int) -> dict[str, Any]:
        """A replica's writer counters (``/api/v1/sources``), asked inside its container."""
        script = (
            "import json, urllib.request; print(json.dumps(json.load(urllib.request.urlopen("
            "'http://127.0.0.1:8000/api/v1/sources', timeout=5))['writer']))"
        )
        counters: dict[str, Any] = json.loads(
            self.exec("gateway", "python", "-c", script, index=index)
        )
        return counters

    def down(self) -> None:
        """Take everything down, volumes too; keep the image's layers for the next run."""
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "10", check=False)
        tagged = subprocess.run(
            ["docker", "tag", self.image, CACHE_TAG], capture_output=True, check=False
        )
        if tagged.returncode == 0:
            subprocess.run(["docker", "rmi", self.image], capture_output=True, check=False)
