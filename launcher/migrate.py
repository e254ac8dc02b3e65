"""Applying ``db/migrations`` with dbmate (installed from npm by ``make install``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DBMATE = ROOT / "node_modules" / ".bin" / "dbmate"
MIGRATIONS = ROOT / "db" / "migrations"


class MigrationFailed(RuntimeError):
    """dbmate could not bring the schema up to date; its output says why."""


def dbmate(database_url: str, *arguments: str, wait: float = 60.0) -> str:
    """Run ``dbmate arguments...`` against ``database_url``, waiting for the server to accept
    connections first; returns dbmate's output or raises ``MigrationFailed``."""
    if not DBMATE.exists():
        raise MigrationFailed(f"{DBMATE} is missing: run `make install`")
    command = [
        str(DBMATE),
        "--wait",
        f"--wait-timeout={int(wait)}s",
        "--no-dump-schema",
        f"--migrations-dir={MIGRATIONS}",
        *arguments,
    ]
    env = {**os.environ, "DATABASE_URL": database_url}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        raise MigrationFailed(f"dbmate {' '.join(arguments)} failed: {output}")
    return output


def migrate(database_url: str) -> str:
    """Apply every pending migration."""
    return dbmate(database_url, "up")
