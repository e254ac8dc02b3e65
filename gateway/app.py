"""The app factory: ``create_app(settings)`` builds one gateway whose lifespan owns every
background task: the subscriber, the writer, retention and the warm start."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import time
from collections.abc import Coroutine
from contextlib import asynccontextmanager

import asyncpg
import zmq.asyncio
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from gateway.api import install_routes
from gateway.database import open_pool
from gateway.docs import install_docs
from gateway.metrics import (
    GatewayCollector,
    WriterHistograms,
    install_metrics_route,
    instrument_http,
)
from gateway.rates import Rates
from gateway.retention import run_retention
from gateway.settings import GatewaySettings
from gateway.subscriber import Subscriber
from gateway.warm import warm_start
from gateway.writer import TickWriter

log = logging.getLogger(__name__)


class Gateway:
    """Everything one replica runs, started and stopped by the app's lifespan."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.rates = Rates(settings.budgets(), settings.http_cache_max_age)
        self.subscriber: Subscriber | None = None
        self.writer: TickWriter | None = None
        self.pool: asyncpg.Pool | None = None
        self.warmed = asyncio.Event()
        self.warm_start_seconds: float | None = None
        self.registry = CollectorRegistry()
        self.registry.register(GatewayCollector(self))
        self._writer_histograms = WriterHistograms(self.registry)
        self._context: zmq.asyncio.Context | None = None
        self._tasks: list[asyncio.Task] = []

    def ready(self) -> tuple[bool, str]:
        """Ready once warmed up from Postgres, with a forwarder connected and something to
        serve."""
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
            self.pool = await open_pool(settings.database_url.get_secret_value())
            if settings.gateway_write_ticks:
                self.writer = TickWriter(
                    self.pool,
                    settings.writer_batch_size,
                    settings.writer_flush_interval,
                    settings.writer_buffer_limit,
                    on_flush=self._writer_histograms.observe,
                )
        else:
            log.warning("no DATABASE_URL: ticks are not stored and the book starts empty")
        self._context = zmq.asyncio.Context()
        sinks = [self.writer.submit] if self.writer is not None else []
        self.subscriber = Subscriber(self._context, settings.zmq_sub_endpoints, self.rates, sinks)
        self._run_forever(self.subscriber.run(), "subscriber")
        log.info("subscribing to %s", ", ".join(settings.zmq_sub_endpoints))
        if self.writer is not None:
            self._run_forever(self.writer.run(), "writer")
            self._run_forever(
                run_retention(
                    self.pool,
                    settings.retention_days,
                    settings.retention_batch,
                    settings.retention_interval,
                ),
                "retention",
            )
        if self.pool is not None:
            self._tasks.append(asyncio.create_task(self._warm_up(), name="warm-start"))
        else:
            self.warmed.set()
        # Everything built so far lives as long as the process: keep it out of the garbage
        # collector's full passes, which otherwise stall requests (a p99 three times the p90).
        gc.collect()
        gc.freeze()

    async def _warm_up(self) -> None:
        started = time.monotonic()
        await warm_start(self.pool, self.rates, self.settings.warm_start_timeout)
        self.warm_start_seconds = time.monotonic() - started
        self.warmed.set()

    def _run_forever(self, coroutine: Coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(_exit_if_died)
        self._tasks.append(task)

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


def _exit_if_died(task: asyncio.Task) -> None:
    """A background task ended while the app runs: without it the replica would serve frozen
    rates, so stop the process and let its manager start a fresh one."""
    if task.cancelled():
        return
    log.critical(
        "%s ended: %r; stopping the process",
        task.get_name(),
        task.exception(),
        exc_info=task.exception(),
    )
    os.kill(os.getpid(), signal.SIGTERM)


def create_app(settings: GatewaySettings) -> FastAPI:
    """A gateway app; nothing runs until its lifespan starts."""
    gateway = Gateway(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        await gateway.start()
        try:
            yield
        finally:
            await gateway.stop()

    app = FastAPI(
        title="Crypto exchange rates",
        version="1.0.0",
        description="BTC, ETH and USDT (TRC-20, ERC-20) against USD and RUB, from Binance with "
        "CoinGecko as failover. Every course says where it came from and how old it is.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    install_routes(app, gateway)
    install_docs(app)
    install_metrics_route(app, gateway.registry)
    if settings.gateway_http_metrics:
        instrument_http(app, gateway.registry)
    return app
