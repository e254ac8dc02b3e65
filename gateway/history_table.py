"""The served values and their candles: the SQL, and the conversions between rows and values.

Directions and exchangers are stored as small ids, numbered as the migration's ``directions``
and ``exchangers`` tables are (a test holds the two together). Times travel as integer seconds
or milliseconds and become ``timestamptz`` in SQL; values as decimal text, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from common.markets import BINANCE, COINGECKO
from gateway.pricing import LegPrice
from gateway.recipes import DIRECTIONS, RECIPES

#: A connection, or one lent by a pool.
Connection = asyncpg.Connection | PoolConnectionProxy

DIRECTION_IDS: dict[str, int] = {name: number for number, name in enumerate(DIRECTIONS, 1)}
EXCHANGER_IDS: dict[str, int] = {BINANCE: 1, COINGECKO: 2}
EXCHANGER_NAMES: dict[int, str] = {number: name for name, number in EXCHANGER_IDS.items()}


def fold(table: str, width: str) -> str:
    """Fold the rows of ``fresh`` (at, direction, exchanger, value) into ``table``'s candles of
    ``width``. Merging by the open's and the close's times makes folding order-free and
    idempotent."""
    return f"""
INSERT INTO {table} AS c (bucket, open_at, close_at, direction, exchanger, open, high, low, close)
SELECT date_bin('{width}', at, timestamptz 'epoch'), min(at), max(at), direction,
       (array_agg(exchanger ORDER BY at DESC))[1], (array_agg(value ORDER BY at))[1],
       max(value), min(value), (array_agg(value ORDER BY at DESC))[1]
FROM fresh
GROUP BY direction, 1
ORDER BY direction, 1
ON CONFLICT (direction, bucket) DO UPDATE SET
    open = CASE WHEN excluded.open_at < c.open_at THEN excluded.open ELSE c.open END,
    open_at = least(c.open_at, excluded.open_at),
    high = greatest(c.high, excluded.high),
    low = least(c.low, excluded.low),
    close = CASE WHEN excluded.close_at > c.close_at THEN excluded.close ELSE c.close END,
    exchanger = CASE WHEN excluded.close_at > c.close_at
                     THEN excluded.exchanger ELSE c.exchanger END,
    close_at = greatest(c.close_at, excluded.close_at)
"""


#: Store a batch; only the rows new to the table are folded into the candles, so a row
#: another replica stored first is never counted twice.
INSERT_SERVED = f"""
WITH fresh AS (
    INSERT INTO served (at, set_at, direction, exchanger, stale, disputed, value, via)
    SELECT timestamptz 'epoch' + s * interval '1 second',
           timestamptz 'epoch' + u * interval '1 millisecond', d, x, st, dp, v::numeric,
           nullif(w, 0)
    FROM unnest($1::bigint[], $2::bigint[], $3::smallint[], $4::smallint[], $5::bool[],
                $6::bool[], $7::text[], $8::smallint[]) AS batch(s, u, d, x, st, dp, v, w)
    ORDER BY d, s
    ON CONFLICT DO NOTHING
    RETURNING at, direction, exchanger, value
), minutes AS ({fold("candles_1m", "1 minute")}
), hours AS ({fold("candles_1h", "1 hour")}
)
SELECT count(*) FROM fresh
"""

#: The row served at an instant (the newest at or before it: a backward scan of the key), with
#: the prices behind it in one round trip. The legs' prices are not repeated in every row: the
#: ticks hold them, as long. For each leg of the served recipe ($3..$5: every recipe's legs of
#: the direction, tagged with their exchanger), the newest tick at or before the value's
#: ``set_at``: its newest leg's exchange time, so every leg is at or before it.
SERVED_AT = """
SELECT (extract(epoch from s.at))::bigint AS at_s,
       (extract(epoch from s.set_at) * 1000)::bigint AS set_ms,
       s.exchanger, s.stale, s.disputed, s.value::text AS value, s.via, legs.legs
FROM (
    SELECT * FROM served
    WHERE direction = $1 AND at <= timestamptz 'epoch' + $2::bigint * interval '1 millisecond'
    ORDER BY at DESC
    LIMIT 1
) AS s
CROSS JOIN LATERAL (
    SELECT array_agg(ARRAY[w.source, w.instrument, tick.price::text,
                           ((extract(epoch from tick.exchange_ts) * 1000)::bigint)::text]
                     ORDER BY w.position) AS legs
    FROM unnest($3::smallint[], $4::text[], $5::text[])
         WITH ORDINALITY AS w(exchanger, source, instrument, position)
    CROSS JOIN LATERAL (
        SELECT price, exchange_ts FROM ticks
        WHERE ticks.source = w.source AND ticks.instrument = w.instrument
          AND ticks.exchange_ts <= s.set_at
        ORDER BY exchange_ts DESC
        LIMIT 1
    ) AS tick
    WHERE w.exchanger = s.exchanger
) AS legs
"""

_CANDLES_STORED = """
SELECT bucket, open, high, low, close, exchanger
FROM {table}
WHERE direction = $1
  AND bucket >= timestamptz 'epoch' + $2::bigint * interval '1 second'
  AND bucket < timestamptz 'epoch' + $3::bigint * interval '1 second'
ORDER BY bucket
"""

_CANDLES_MERGED = """
SELECT date_bin($4::bigint * interval '1 second', bucket, timestamptz 'epoch') AS bucket,
       (array_agg(open ORDER BY open_at))[1] AS open, max(high) AS high, min(low) AS low,
       (array_agg(close ORDER BY close_at DESC))[1] AS close,
       (array_agg(exchanger ORDER BY close_at DESC))[1] AS exchanger
FROM {table}
WHERE direction = $1
  AND bucket >= timestamptz 'epoch' + $2::bigint * interval '1 second'
  AND bucket < timestamptz 'epoch' + $3::bigint * interval '1 second'
GROUP BY 1
ORDER BY 1
"""

#: The candles as the API's JSON array, built by the server: a day of minutes is 1,440 rows,
#: and turning each into Python objects and back into JSON cost more than the query itself.
#: Concatenation, and a timestamp's text in the ISO DateStyle (PostgreSQL's default), cost half
#: of what json_build_object and to_char do.
_AS_JSON = """
SELECT '[' || coalesce(string_agg(concat(
           '{{"time":"', replace((c.bucket AT TIME ZONE 'UTC')::text, ' ', 'T'),
           '.000Z","open":', c.open, ',"high":', c.high, ',"low":', c.low,
           ',"close":', c.close, ',"exchanger":"', e.name, '"}}'
       ), ',' ORDER BY c.bucket), '') || ']'
FROM ({candles}) AS c JOIN exchangers e ON e.id = c.exchanger
"""

#: Candle widths (seconds) by name, each read from the finest rollup that divides it.
INTERVALS: dict[str, int] = {"1m": 60, "5m": 300, "15m": 900, "1h": 3600, "4h": 14400, "1d": 86400}


def _candles_query(width: int) -> tuple[str, tuple[int, ...]]:
    """The statement reading candles of ``width`` seconds, and its arguments past the range:
    a rollup's own width is read as stored, wider candles are merged from it."""
    table, rollup = ("candles_1h", 3600) if width % 3600 == 0 else ("candles_1m", 60)
    if width == rollup:
        return _CANDLES_STORED.format(table=table), ()
    return _CANDLES_MERGED.format(table=table), (width,)


#: One served value as stored: (second, set ms, direction id, exchanger id, stale, disputed,
#: value text, via as a bit mask of exchanger ids: :func:`via_mask`).
Row = tuple[int, int, int, int, bool, bool, str, int]


def via_mask(via: tuple[str, ...]) -> int:
    """``via``'s exchangers as bits: bit (id - 1) of each; 0 for none (stored as NULL)."""
    return sum(1 << (EXCHANGER_IDS[name] - 1) for name in set(via))


def via_names(mask: int | None) -> tuple[str, ...]:
    """The exchangers of a stored ``via`` mask, in id order."""
    return tuple(
        name for number, name in sorted(EXCHANGER_NAMES.items()) if (mask or 0) >> (number - 1) & 1
    )


async def insert_rows(connection: Connection, rows: Sequence[Row]) -> int:
    """Store ``rows`` and fold them into the candles; returns how many were new."""
    count: int = await connection.fetchval(INSERT_SERVED, *map(list, zip(*rows)))
    return count


@dataclass(frozen=True, slots=True)
class Served:
    """What was served for a direction from ``at_s`` on."""

    at_s: int  #: the second it was served from
    set_ms: int  #: its updated_at
    exchanger: str
    stale: bool
    disputed: bool
    value: Decimal
    via: tuple[str, ...]
    legs: tuple[LegPrice, ...] = ()


def _recipe_legs(direction: str) -> tuple[list[int], list[str], list[str]]:
    """Every leg of ``direction``'s recipes, tagged with the recipe's exchanger id."""
    legs = [
        (EXCHANGER_IDS[recipe.exchanger], leg.source, leg.instrument)
        for recipe in RECIPES[direction]
        for leg in recipe.legs
    ]
    return [x for x, _, _ in legs], [s for _, s, _ in legs], [i for _, _, i in legs]


def _legs(direction: str, exchanger: str, found: list[list[str]] | None) -> tuple[LegPrice, ...]:
    recipe = next((r for r in RECIPES[direction] if r.exchanger == exchanger), None)
    if recipe is None or found is None or len(found) != len(recipe.legs):
        return ()  # the recipe is gone, or a leg's ticks are: no partial story
    return tuple(LegPrice(f[0], f[1], Decimal(f[2]), int(f[3])) for f in found)


async def served_at(connection: Connection, direction: str, at_ms: int) -> Served | None:
    """The value served for ``direction`` at ``at_ms``, or None before the first stored."""
    row = await connection.fetchrow(
        SERVED_AT, DIRECTION_IDS[direction], at_ms, *_recipe_legs(direction)
    )
    if row is None:
        return None
    exchanger = EXCHANGER_NAMES[row["exchanger"]]
    return Served(
        row["at_s"],
        row["set_ms"],
        exchanger,
        row["stale"],
        row["disputed"],
        Decimal(row["value"]),
        via_names(row["via"]),
        _legs(direction, exchanger, row["legs"]),
    )


@dataclass(frozen=True, slots=True)
class Candle:
    start_s: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    exchanger: str


async def candles(
    connection: Connection, direction: str, width: int, from_s: int, to_s: int
) -> list[Candle]:
    """``direction``'s candles of ``width`` seconds starting in [from_s, to_s), oldest first."""
    statement, extra = _candles_query(width)
    rows = await connection.fetch(statement, DIRECTION_IDS[direction], from_s, to_s, *extra)
    return [
        Candle(
            int(row["bucket"].timestamp()),
            row["open"],
            row["high"],
            row["low"],
            row["close"],
            EXCHANGER_NAMES[row["exchanger"]],
        )
        for row in rows
    ]


async def candles_json(
    connection: Connection, direction: str, width: int, from_s: int, to_s: int
) -> str:
    """The same candles as a JSON array of ``{time, open, high, low, close, exchanger}``."""
    statement, extra = _candles_query(width)
    text: str = await connection.fetchval(
        _AS_JSON.format(candles=statement), DIRECTION_IDS[direction], from_s, to_s, *extra
    )
    return text


#: Retention: the oldest rows of ``table`` before a time, a small batch per transaction.
_DELETE_OLDEST = """
WITH doomed AS (
    SELECT ctid FROM {table}
    WHERE {column} < timestamptz 'epoch' + $1::bigint * interval '1 millisecond'
      AND pg_try_advisory_xact_lock(hashtext('ratewire.retention.{table}'))
    LIMIT $2
)
DELETE FROM {table} WHERE ctid IN (SELECT ctid FROM doomed)
"""

#: What retention trims: served seconds, and minute candles (kept longer); hour candles stay.
TRIMMED = ("served", "candles_1m")


async def delete_oldest(connection: Connection, table: str, before_ms: int, batch: int) -> int:
    """Delete up to ``batch`` rows of ``table`` (one of :data:`TRIMMED`) older than
    ``before_ms``; returns how many went."""
    column = "at" if table == "served" else "bucket"
    statement = _DELETE_OLDEST.format(table=table, column=column)
    status = await connection.execute(statement, before_ms, batch)
    return int(status.rsplit(" ", 1)[1])
