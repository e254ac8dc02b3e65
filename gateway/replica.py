"""One gateway replica: the rates, the subscriber feeding them, the writer storing every tick,
retention and the warm start, started and stopped together (by the app's lifespan)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg
import zmq.asyncio

from gateway import history_table
from gateway.database import open_pool
from gateway.rates import Rates
from gateway.retention import run_retention
from gateway.served import Recording, ServedWriter
from gateway.settings import GatewaySettings
from gateway.subscriber import Subscriber
from gateway.warm import warm_start
from gateway.writer import TickWriter

log = logging.getLogger(__name__)


class Gateway:
    """Everything one replica runs.

    ``on_flush`` is told (batch size, seconds) after every batch the writer stores. ``on_fatal``
    is called once if a background task ends while the replica runs: without it the replica
    would serve frozen rates, so whoever runs the process should stop it and let its manager
    start a fresh one. Until then the replica reports itself not ready.
    """

    def __init__(
        self,
        settings: GatewaySettings,
        on_flush: Callable[[int, float], None] | None = None,
        on_fatal: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.rates = Rates(settings.budgets(), settings.guard())
        self.subscriber: Subscriber | None = None
        self.writer: TickWriter | None = None
        #: records what the API serves into the ``served`` table (with the tick writer)
        self.recording: Recording | None = None
        self.pool: asyncpg.Pool | None = None
        self.warmed = asyncio.Event()
        self.warm_start_seconds: float | None = None
        #: the name of the background task that ended, if one did
        self.failed: str | None = None
        self._on_flush = on_flush
        self._on_fatal = on_fatal
        self._context: zmq.asyncio.Context | None = None
        self._tasks: list[asyncio.Task[Any]] = []
        #: Told to stop: still serving, but no longer ready (see gateway.server.DrainingServer).
        self.draining = False

    def drain(self) -> None:
        """Stop being ready, keep serving: the balancer takes this replica out of rotation."""
        self.draining = True

    def ready(self) -> tuple[bool, str]:
        """Ready once warmed up from Postgres, with a forwarder connected and something to
        serve, until told to stop."""
        if self.draining:
            return False, "shutting down"
        if self.failed is not None:
            return False, f"{self.failed} ended"
        if not self.warmed.is_set():
            return False, "warming up from Postgres"
        if self.subscriber is None or not self.subscriber.connected:
            return False, "not connected to any forwarder"
        if not self.rates.has_data():
            return False, "no rates yet"
        return True, f"subscribed through {len(self.subscriber.connected)} forwarder(s)"

    async def start(self) -> None:
        """Subscribe first, then warm the book from Postgres, then keep following (the Clone
        pattern), storing every tick on the way."""
        settings = self.settings
        if settings.database_url is not None:
            self.pool = await open_pool(
                settings.database_url.get_secret_value(), settings.database_password_file
            )
            if settings.gateway_write_ticks:
                self.writer = TickWriter(
                    self.pool,
                    settings.writer_batch_size,
                    settings.writer_flush_interval,
                    settings.writer_buffer_limit,
                    on_flush=self._on_flush,
                )
                self.recording = Recording(
                    ServedWriter(
                        self.pool,
                        history_table.insert_rows,
                        batch_size=1000,
                        flush_interval=settings.writer_flush_interval,
                        buffer_limit=settings.writer_buffer_limit,
                    )
                )
                self.rates.on_change(self.recording.on_pricings)
        else:
            log.warning("no DATABASE_URL: ticks are not stored and the book starts empty")
        self._context = zmq.asyncio.Context()
        sinks = [self.writer.submit] if self.writer is not None else []
        self.subscriber = Subscriber(self._context, settings.zmq_sub_endpoints, self.rates, sinks)
        self._run_forever(self.subscriber.run(), "subscriber")
        log.info("subscribing to %s", ", ".join(settings.zmq_sub_endpoints))
        if self.pool is not None and self.writer is not None:
            self._run_forever(self.writer.run(), "writer")
            if self.recording is not None:
                self._run_forever(self.recording.writer.run(), "served-writer")
                self._run_forever(self.recording.run(), "recording")
            self._run_forever(
                run_retention(
                    self.pool,
                    settings.retention_days,
                    settings.retention_batch,
                    settings.retention_interval,
                    settings.minute_candles_days,
                ),
                "retention",
            )
        if self.pool is not None:
            self._tasks.append(asyncio.create_task(self._warm_up(self.pool), name="warm-start"))
        else:
            self.warmed.set()

    async def _warm_up(self, pool: asyncpg.Pool) -> None:
        started = time.monotonic()
        await warm_start(pool, self.rates, self.settings.warm_start_timeout)
        self.warm_start_seconds = time.monotonic() - started
        self.warmed.set()

    def _run_forever(self, coroutine: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(self._ended)
        self._tasks.append(task)

    def _ended(self, task: asyncio.Task[Any]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        log.critical(
            "%s ended: %r; the replica cannot go on", task.get_name(), error, exc_info=error
        )
        if self.failed is None:
            self.failed = task.get_name()
            if self._on_fatal is not None:
                self._on_fatal()

    async def stop(self) -> None:
        """Cancel every task (the writer stores what it holds first) and close connections."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self.pool is not None:
            await self.pool.close()
        if self._context is not None:
            self._context.destroy(linger=0)  # whatever is left open, never wait on it
            self._context = None
