"""The gateway's connection pool, created without needing the server to be up."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg

#: What a lost, refused or restarting server raises; everything else is a bug to see.
DATABASE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


def password_reader(path: Path) -> Callable[[], str]:
    """The password kept in ``path`` (less trailing newlines, as ``$(cat path)`` reads it),
    read again at every new connection: a replaced secret needs no restart."""
    return lambda: path.read_text(encoding="utf-8").rstrip("\r\n")


async def open_pool(dsn: str, password_file: Path | None = None) -> asyncpg.Pool:
    """A small pool that connects on demand: a gateway starts (and serves) while Postgres is
    down, and reconnects by itself when it is back. With ``password_file`` the password comes
    from that file, not from ``dsn``."""
    return await asyncpg.create_pool(
        dsn,
        password=password_reader(password_file) if password_file is not None else None,
        min_size=0,
        max_size=3,
        command_timeout=10,
        timeout=3,
        max_inactive_connection_lifetime=60,
    )
