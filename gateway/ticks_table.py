"""The ticks table: the SQL, and the conversions between rows and ``Tick``s.

Statements take whole batches as arrays (one round trip per batch) and never splice values into
SQL text. Times travel as integer milliseconds and become ``timestamptz`` in SQL, exactly.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from common.wire import Tick

#: A connection, or one lent by a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

#: The same exchange event is stored once, whoever delivers it and however often.
INSERT_TICKS = """
INSERT INTO ticks (source, instrument, exchange_ts, price, received_ts, feeder_id, transport, seq)
SELECT s, i, timestamptz 'epoch' + e * interval '1 millisecond', p::numeric,
       timestamptz 'epoch' + r * interval '1 millisecond', f, t, q
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
            $7::text[], $8::bigint[]) AS batch(s, i, e, p, r, f, t, q)
ON CONFLICT DO NOTHING
"""

_MS = "(extract(epoch from {column}) * 1000)::bigint"

#: The newest row of each (source, instrument): one backward index scan per key.
LATEST_TICKS = f"""
SELECT latest.source, latest.instrument, latest.price::text AS price,
       {_MS.format(column="latest.exchange_ts")} AS exchange_ms,
       {_MS.format(column="latest.received_ts")} AS received_ms,
       latest.feeder_id, latest.transport, latest.seq
FROM unnest($1::text[], $2::text[]) AS wanted(source, instrument)
CROSS JOIN LATERAL (
    SELECT * FROM ticks
    WHERE ticks.source = wanted.source AND ticks.instrument = wanted.instrument
    ORDER BY exchange_ts DESC
    LIMIT 1
) AS latest
"""

#: One small batch of the oldest rows, in its own short transaction. The advisory lock keeps two
#: replicas from deleting the same batch at once; the other simply skips its turn.
DELETE_OLDEST = """
WITH doomed AS (
    SELECT ctid FROM ticks
    WHERE exchange_ts < timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
      AND pg_try_advisory_xact_lock(hashtext('ratewire.retention'))
    ORDER BY exchange_ts
    LIMIT $2
)
DELETE FROM ticks WHERE ctid IN (SELECT ctid FROM doomed)
"""


#: One tick as stored: (source, instrument, exchange ms, price text, received ms, feeder id,
#: transport, seq). Its repeated strings are interned, so a buffer of rows holds each name once.
Row = tuple[str, str, int, str, int, str, str, int]


def row_of(tick: Tick) -> Row:
    """The row of ``tick``, about half the memory of the tick itself."""
    return (
        sys.intern(tick.source),
        sys.intern(tick.instrument),
        tick.exchange_ts,
        str(tick.price),
        tick.received_ts,
        sys.intern(tick.feeder_id),
        sys.intern(tick.transport),
        tick.seq,
    )


async def insert_rows(connection: Connection, rows: Sequence[Row]) -> int:
    """Store ``rows``; returns how many were new (the rest were stored already)."""
    status = await connection.execute(INSERT_TICKS, *map(list, zip(*rows)))
    return int(status.rsplit(" ", 1)[1])


def tick_of(row: asyncpg.Record) -> Tick:
    return Tick(
        source=row["source"],
        instrument=row["instrument"],
        price=Decimal(row["price"]),
        exchange_ts=row["exchange_ms"],
        received_ts=row["received_ms"],
        feeder_id=row["feeder_id"],
        seq=row["seq"],
        transport=row["transport"],
    )


async def latest_ticks(connection: Connection, keys: Iterable[tuple[str, str]]) -> list[Tick]:
    """The newest stored tick of each (source, instrument) in ``keys`` that has any."""
    wanted = list(keys)
    rows = await connection.fetch(
        LATEST_TICKS, [source for source, _ in wanted], [instrument for _, instrument in wanted]
    )
    return [tick_of(row) for row in rows]


async def delete_oldest(connection: Connection, before_ms: int, batch: int) -> int:
    """Delete up to ``batch`` rows older than ``before_ms``; returns how many went."""
    status = await connection.execute(DELETE_OLDEST, before_ms, batch)
    return int(status.rsplit(" ", 1)[1])
