"""Applying ``db/migrations`` with dbmate (installed from npm by ``make install``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
DBMATE = ROOT / "node_modules" / ".bin" / "dbmate"
MIGRATIONS = ROOT / "db" / "migrations"


class MigrationFailed(RuntimeError):
    """dbmate could not bring the schema up to date; its output says why."""


def dbmate(database_url: str, *arguments: str, wait: float | None = 60.0) -> str:
    """Run ``dbmate arguments...`` against ``database_url``, waiting (unless ``wait`` is None)
    for the server to accept connections first; returns dbmate's output or raises
    ``MigrationFailed``."""
    if not DBMATE.exists():
        raise MigrationFailed(f"{DBMATE} is missing: run `make install`")
    waiting = [] if wait is None else ["--wait", f"--wait-timeout={int(wait)}s"]
    command = [
        str(DBMATE),
        *waiting,
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


def maintenance_url(database_url: str) -> str:
    """The same server's ``postgres`` database, which every cluster has."""
    return urlunsplit(urlsplit(database_url)._replace(path="/postgres"))


def migrate(database_url: str, wait: float = 60.0) -> str:
    """Create the database if it is missing, and apply every pending migration.

    dbmate's own ``--wait`` connects to the database itself, which the server logs as FATAL
    when the database is still to be created (a demo's first start): so the wait is on the
    server's ``postgres`` database, and ``up`` (which creates the database through that one)
    runs once the server answers."""
    dbmate(maintenance_url(database_url), "wait", wait=wait)
    return dbmate(database_url, "up", wait=None)
