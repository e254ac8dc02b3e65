from __future__ import annotations

import asyncpg
import pytest

from gateway.database import is_transient, refuses_rows


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("closed in the middle of operation"),
        asyncpg.InterfaceError("pool is closing"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.TooManyConnectionsError("sorry, too many clients already"),
        asyncpg.SerializationError("could not serialize access"),
        asyncpg.DeadlockDetectedError("deadlock detected"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
    ],
)
def test_what_passes_is_transient(error):
    assert is_transient(error) and not refuses_rows(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.CheckViolationError('violates check constraint "ticks_price_check"'),
        asyncpg.NotNullViolationError("null value in column"),
        asyncpg.NumericValueOutOfRangeError("value overflows numeric format"),
        asyncpg.DatetimeFieldOverflowError("timestamp out of range"),
        asyncpg.CharacterNotInRepertoireError("invalid byte sequence for encoding"),
        asyncpg.ProgramLimitExceededError("index row size exceeds maximum"),
    ],
)
def test_what_the_rows_themselves_cause_is_refused(error):
    assert refuses_rows(error) and not is_transient(error)


def test_asyncpgs_own_data_error_is_the_rows_not_the_connection():
    error = asyncpg.exceptions._base.DataError(  # pylint: disable=protected-access
        "invalid input for query argument $3: value out of int64 range"
    )
    assert isinstance(error, asyncpg.InterfaceError)
    assert refuses_rows(error) and not is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.UndefinedTableError('relation "ticks" does not exist'),
        asyncpg.InsufficientPrivilegeError("permission denied for table ticks"),
        asyncpg.PostgresSyntaxError("syntax error at or near"),
    ],
)
def test_a_wrong_schema_or_privilege_is_neither(error):
    assert not is_transient(error) and not refuses_rows(error)
