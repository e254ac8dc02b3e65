"""The gateway's connection pool, created without needing the server to be up."""

from __future__ import annotations

import asyncpg

#: What a lost, refused or restarting server raises; everything else is a bug to see.
DATABASE_ERRORS = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


async def open_pool(dsn: str) -> asyncpg.Pool:
    """A small pool that connects on demand: a gateway starts (and serves) while Postgres is
    down, and reconnects by itself when it is back."""
    return await asyncpg.create_pool(
        dsn,
        min_size=0,
        max_size=3,
        command_timeout=10,
        timeout=3,
        max_inactive_connection_lifetime=60,
    )
