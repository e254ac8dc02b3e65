"""PostgreSQL for tests: the server in ``TEST_DATABASE_URL`` when set, else a private cluster
for the session; each test that asks gets a fresh database with the real migrations applied."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from launcher.migrate import migrate
from launcher.postgres import EmbeddedPostgres
from tests.procs import free_port


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name``."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def private_cluster() -> EmbeddedPostgres:
    """A new cluster in its own temporary directory, started; ``dispose`` it after."""
    home = Path(tempfile.mkdtemp(prefix="ratewire-test-pg-"))
    home.chmod(0o755)  # its owner may be the postgres user
    cluster = EmbeddedPostgres(home / "pg", free_port())
    cluster.initialise()
    cluster.start()
    return cluster


def dispose(cluster: EmbeddedPostgres) -> None:
    cluster.stop(mode="immediate")
    shutil.rmtree(cluster.home, ignore_errors=True)
    shutil.rmtree(cluster.preferred.parent, ignore_errors=True)


@pytest.fixture(scope="session", name="pg_admin_url")
def pg_admin_url_fixture() -> Iterator[str]:
    """A URL on which databases can be created and dropped."""
    given = os.environ.get("TEST_DATABASE_URL")
    if given:
        yield given
        return
    cluster = private_cluster()
    try:
        yield cluster.admin_url
    finally:
        dispose(cluster)


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database, migrated with dbmate, dropped after the test."""
    name = f"ratewire_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_admin_url, f'CREATE DATABASE "{name}"'))
    url = with_database(pg_admin_url, name)
    try:
        migrate(url)
        yield url
    finally:
        asyncio.run(_admin(pg_admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
