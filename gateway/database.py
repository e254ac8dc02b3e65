"""The gateway's connection pool, created without needing the server to be up, and what the
errors the database raises mean for whoever wrote or read.

Errors, and what they are::

    OSError, TimeoutError, a closed connection or pool (asyncpg.InterfaceError),
    class 08 connection exception, 57 the server shutting down / not yet accepting / the
    query cancelled, 53 too many connections / out of resources, 40 serialization failure /
    deadlock, 55P03 lock not available, 25006 read-only (a failover under way), 58 I/O error
        -> transient: the same statement may well succeed later
    class 22 a value the server refuses (out of range, malformed), 23 a constraint broken,
    54 a row beyond a limit (an index entry too large), or asyncpg's own DataError (a value it
    cannot encode, raised before sending)
        -> the rows themselves are refused: the same rows will never succeed
    any other asyncpg.PostgresError (the SQL, the schema or a privilege is wrong)
        -> neither: nothing will succeed until an operator acts
"""

from __future__ import annotations

import asyncpg

#: What a lost, refused, restarting or otherwise failing server raises.
DATABASE_ERRORS: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)

_TRANSIENT: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.PostgresConnectionError,
    asyncpg.OperatorInterventionError,
    asyncpg.InsufficientResourcesError,
    asyncpg.TransactionRollbackError,
    asyncpg.LockNotAvailableError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.PostgresSystemError,
)

_ROWS_REFUSED: tuple[type[Exception], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.ProgramLimitExceededError,
)


def refuses_rows(error: BaseException) -> bool:
    """True when the database refused the rows themselves: the same rows will never go in."""
    if isinstance(error, _ROWS_REFUSED):
        return True
    # asyncpg's client-side DataError (an argument it cannot encode, e.g. beyond bigint) is an
    # InterfaceError and a ValueError; its other InterfaceErrors are about the connection.
    return isinstance(error, asyncpg.InterfaceError) and isinstance(error, ValueError)


def is_transient(error: BaseException) -> bool:
    """True when the same statement may succeed later: the connection or the server's state."""
    return isinstance(error, _TRANSIENT) and not refuses_rows(error)


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
