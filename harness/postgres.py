"""PostgreSQL for tests and benchmarks: a private cluster of their own, or the server in
``TEST_DATABASE_URL``, and scratch databases on it with the real migrations applied."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from harness.ports import ADDRESS_IN_USE, PortTaken, retry_taken_ports, unused_port
from launcher.migrate import migrate
from launcher.postgres import EmbeddedPostgres


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def execute(url: str, statement: str) -> None:
    """Run one statement on its own connection (``CREATE DATABASE`` wants no transaction)."""
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _start(cluster: EmbeddedPostgres) -> None:
    cluster.port = unused_port()
    try:
        cluster.start()
    except subprocess.CalledProcessError:
        log = cluster.home / "server.log"
        if log.exists() and ADDRESS_IN_USE.search(log.read_text(errors="replace")):
            raise PortTaken(cluster.port) from None
        raise


def private_cluster() -> EmbeddedPostgres:
    """A new cluster in its own temporary directory, started; :func:`dispose` of it after."""
    home = Path(tempfile.mkdtemp(prefix="ratewire-test-pg-"))
    home.chmod(0o755)  # its owner may be the postgres user
    cluster = EmbeddedPostgres(home / "pg", 0)
    cluster.initialise()
    retry_taken_ports(lambda: _start(cluster))
    return cluster


def dispose(cluster: EmbeddedPostgres) -> None:
    """Stop the cluster and delete its files."""
    cluster.stop(mode="immediate")
    shutil.rmtree(cluster.home, ignore_errors=True)
    shutil.rmtree(cluster.preferred.parent, ignore_errors=True)


@contextlib.contextmanager
def admin_url() -> Iterator[str]:
    """A URL on which databases can be created and dropped: ``TEST_DATABASE_URL``, or a
    private cluster's for as long as the block runs."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    cluster = private_cluster()
    try:
        yield cluster.admin_url
    finally:
        dispose(cluster)


@contextlib.contextmanager
def scratch_database(admin: str, prefix: str = "ratewire_test") -> Iterator[str]:
    """A fresh database, migrated with dbmate, dropped (whoever is connected) after the block."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(execute(admin, f'CREATE DATABASE "{name}"'))
    try:
        url = with_database(admin, name)
        migrate(url)
        yield url
    finally:
        asyncio.run(execute(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
