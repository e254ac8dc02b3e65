"""PostgreSQL fixtures: the server in ``TEST_DATABASE_URL`` when set, else a private cluster
for the session; each test that asks gets a fresh database with the real migrations applied."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.postgres import admin_url, scratch_database


@pytest.fixture(scope="session", name="pg_admin_url")
def pg_admin_url_fixture() -> Iterator[str]:
    """A URL on which databases can be created and dropped."""
    with admin_url() as url:
        yield url


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database, migrated with dbmate, dropped after the test."""
    with scratch_database(pg_admin_url) as url:
        yield url
