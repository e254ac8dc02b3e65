"""The batched, idempotent tick writer: nothing the gateway was given is lost or doubled.

* ``submit`` never blocks and never waits for Postgres: it appends to a bounded buffer.
* A flush takes up to ``batch_size`` ticks when that many are waiting or every
  ``flush_interval`` seconds, whichever comes first, and stores them in one statement.
* Through an outage the batch in hand is retried with a jittered, capped backoff; new ticks keep
  queueing. Past ``buffer_limit`` the oldest are dropped, counted and logged at ERROR. A failure
  that is not transient (the schema or a privilege is wrong) is retried the same way, logged at
  CRITICAL: the ticks wait in the buffer for an operator rather than being thrown away.
* A batch the database refuses for its rows (a value out of range, a constraint broken) would
  never go in, and retrying it would hold up every tick behind it: it is split in halves, and
  the halves split again, until the refused rows are alone; those are counted, logged at ERROR
  and dropped, and every other row of the batch is stored.
* The same exchange event arrives several times (two forwarders, feeders' replays); recent keys
  are remembered so copies never reach the buffer, and the table's key makes any that do
  harmless.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import asyncpg

from common.backoff import Backoff
from common.logs import Throttle
from common.wire import Tick
from gateway import ticks_table
from gateway.database import DATABASE_ERRORS, is_transient, refuses_rows

log = logging.getLogger(__name__)

#: How many recent event keys are remembered to skip copies: copies come within a second.
RECENT_KEYS = 4096

#: A row as one table's insert takes it.
RowT = TypeVar("RowT", bound=tuple[Any, ...])
#: Stores rows on a connection; returns how many were new.
Insert = Callable[[Any, Sequence[RowT]], Awaitable[int]]


@dataclass
class WriterStats:
    """What the writer did since it started."""

    submitted: int = 0  #: ticks given to the writer
    copies_skipped: int = 0  #: the same event again, never buffered
    stored: int = 0  #: rows inserted
    already_stored: int = 0  #: sent but stored before (a retry, another replica)
    dropped: int = 0  #: lost past the buffer limit
    refused: int = 0  #: rows the database refused (bad values, a constraint), dropped
    batches: int = 0
    retries: int = 0
    last_batch_size: int = 0
    last_flush_seconds: float = 0.0


class BatchWriter(Generic[RowT]):
    """Buffers rows and stores them in batches with ``insert``; ``run`` until cancelled.

    The behaviour the module describes, for any table: the ticks' writer and the served
    values' writer (``gateway.served``) are two of these.
    """

    #: what the rows are, in log messages (plural, singular)
    what = ("rows", "row")

    def __init__(  # pylint: disable=too-many-arguments,too-many-positional-arguments
        self,
        pool: asyncpg.Pool,
        insert: Insert[RowT],
        batch_size: int = 5000,
        flush_interval: float = 0.5,
        buffer_limit: int = 100_000,
        backoff: Backoff | None = None,
        on_flush: Callable[[int, float], None] | None = None,
    ) -> None:
        self.pool = pool
        self.insert = insert
        #: told (batch size, seconds) after every stored batch, for the metrics
        self.on_flush = on_flush
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.buffer_limit = buffer_limit
        self.backoff = backoff or Backoff(0.25, 5.0)
        self.stats = WriterStats()
        self._buffer: deque[RowT] = deque()
        self._in_flight: list[RowT] = []
        self._full = asyncio.Event()
        self._drop_log = Throttle(10.0)
        self._error_log = Throttle(10.0)
        self._refused_log = Throttle(10.0)
        self._failing = False

    @property
    def pending(self) -> int:
        """Ticks given but not yet stored."""
        return len(self._buffer) + len(self._in_flight)

    def append(self, row: RowT) -> None:
        """Queue ``row`` for storage; O(1), never waits."""
        if len(self._buffer) >= self.buffer_limit:
            self._buffer.popleft()
            self.stats.dropped += 1
            if self._drop_log.held_back_if_due() is not None:
                log.error(
                    "writer buffer full (%d %s): dropped the oldest (%d dropped in all)",
                    self.buffer_limit,
                    self.what[0],
                    self.stats.dropped,
                )
        self._buffer.append(row)
        if len(self._buffer) >= self.batch_size:
            self._full.set()

    def describe(self, row: RowT) -> str:
        """``row`` in a log message."""
        return repr(row)

    async def run(self) -> None:
        """Flush forever; on cancellation, one last bounded attempt to store what is pending."""
        loop = asyncio.get_running_loop()
        due = loop.time() + self.flush_interval
        try:
            while True:
                if len(self._buffer) < self.batch_size:
                    try:
                        await asyncio.wait_for(self._full.wait(), max(0.0, due - loop.time()))
                    except TimeoutError:
                        pass
                self._full.clear()
                while len(self._buffer) >= self.batch_size:
                    await self._flush_one_batch()
                if loop.time() >= due:
                    # The interval is up: whatever waits goes now, however few.
                    while self._buffer:
                        await self._flush_one_batch()
                    due = loop.time() + self.flush_interval
        except asyncio.CancelledError:
            await self._final_flush()
            raise

    async def _flush_one_batch(self) -> None:
        count = min(self.batch_size, len(self._buffer))
        self._in_flight = [self._buffer.popleft() for _ in range(count)]
        started = time.monotonic()
        inserted = refused = 0
        # Parts of the batch still to store, the next one last. Halves are pushed right then
        # left, so parts are settled in order and the settled rows are always the front of
        # what is in flight.
        parts = [self._in_flight]
        while parts:
            part = parts.pop()
            try:
                inserted += await self._insert(part)
            except DATABASE_ERRORS as error:  # only an error refusing the rows gets out
                if len(part) > 1:
                    middle = len(part) // 2
                    parts += [part[middle:], part[:middle]]
                    continue
                self._refused(part[0], error)
                refused += 1
            del self._in_flight[: len(part)]
        self._record(count, inserted, refused, time.monotonic() - started)

    async def _insert(self, rows: list[RowT]) -> int:
        """Store ``rows`` (how many were new), retrying through every failure but the rows'
        own: that one is raised."""
        while True:
            try:
                async with self.pool.acquire() as connection:
                    inserted = await self.insert(connection, rows)
            except DATABASE_ERRORS as error:
                if refuses_rows(error):
                    raise
                self._failing = True
                self.stats.retries += 1
                delay = self.backoff.next_delay()
                if self._error_log.held_back_if_due() is not None:
                    log.log(
                        logging.ERROR if is_transient(error) else logging.CRITICAL,
                        "storing %d %s failed (%s: %s); retrying, %d pending%s",
                        len(rows),
                        self.what[0],
                        type(error).__name__,
                        error,
                        self.pending,
                        "" if is_transient(error) else " (this will not pass by itself)",
                    )
                await asyncio.sleep(delay)
                continue
            if self._failing:
                self._failing = False
                log.info("storing %s again; %d pending", self.what[0], self.pending)
            self.backoff.reset()
            return inserted

    def _refused(self, row: RowT, error: Exception) -> None:
        self.stats.refused += 1
        held = self._refused_log.held_back_if_due()
        if held is not None:
            log.error(
                "dropped a %s the database refused (%d more since last report): %s: %s: %s",
                self.what[1],
                held,
                self.describe(row),
                type(error).__name__,
                error,
            )

    def _record(self, size: int, inserted: int, refused: int, seconds: float) -> None:
        stats = self.stats
        stats.batches += 1
        stats.stored += inserted
        stats.already_stored += size - inserted - refused
        stats.last_batch_size = size
        stats.last_flush_seconds = seconds
        if self.on_flush is not None:
            self.on_flush(size, seconds)

    async def _final_flush(self, timeout: float = 3.0) -> None:
        if not self.pending:
            return
        if self._in_flight:
            self._buffer.extendleft(reversed(self._in_flight))
            self._in_flight = []
        try:
            async with asyncio.timeout(timeout):
                while self._buffer:
                    await self._flush_one_batch()
        except TimeoutError:
            log.error("stopping with %d %s not stored", self.pending, self.what[0])


class TickWriter(BatchWriter[ticks_table.Row]):
    """The ticks' writer: skips copies of recent events before they reach the buffer."""

    what = ("ticks", "tick")

    def __init__(  # pylint: disable=too-many-arguments,too-many-positional-arguments
        self,
        pool: asyncpg.Pool,
        batch_size: int = 5000,
        flush_interval: float = 0.5,
        buffer_limit: int = 100_000,
        backoff: Backoff | None = None,
        on_flush: Callable[[int, float], None] | None = None,
    ) -> None:
        super().__init__(
            pool,
            ticks_table.insert_rows,
            batch_size,
            flush_interval,
            buffer_limit,
            backoff,
            on_flush,
        )
        self._recent: dict[tuple[str, str, int], None] = {}

    def oldest_pending_ms(self) -> int | None:
        """When the feeder read the oldest tick not yet stored (ms), or None: the writer's lag."""
        if self._in_flight:
            return self._in_flight[0][4]
        return self._buffer[0][4] if self._buffer else None

    def submit(self, tick: Tick) -> None:
        """Queue ``tick`` for storage; O(1), never waits."""
        self.stats.submitted += 1
        row = ticks_table.row_of(tick)
        key = row[:3]  # the event: source, instrument, exchange time
        if key in self._recent:
            self.stats.copies_skipped += 1
            return
        self._recent[key] = None
        if len(self._recent) > RECENT_KEYS:
            del self._recent[next(iter(self._recent))]
        self.append(row)

    def describe(self, row: ticks_table.Row) -> str:
        return f"{row[0]} {row[1]} at {row[2]} from {row[5]}, price {row[3]}"
