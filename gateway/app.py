"""The app factory: ``create_app(settings)`` builds one gateway whose lifespan owns every
background task (the subscriber now; the writer and the warm start with persistence)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import asynccontextmanager

import zmq.asyncio
from fastapi import FastAPI

from gateway.api import install_routes
from gateway.rates import Rates
from gateway.settings import GatewaySettings
from gateway.subscriber import Subscriber

log = logging.getLogger(__name__)


class Gateway:
    """Everything one replica runs, started and stopped by the app's lifespan."""

    def __init__(self, settings: GatewaySettings) -> None:
        self.settings = settings
        self.rates = Rates(settings.budgets(), settings.http_cache_max_age)
        self.subscriber: Subscriber | None = None
        self._context: zmq.asyncio.Context | None = None
        self._tasks: list[asyncio.Task] = []

    def ready(self) -> tuple[bool, str]:
        """Ready once the book can price something and a forwarder is connected."""
        if self.subscriber is None or not self.subscriber.connected:
            return False, "not connected to any forwarder"
        if not self.rates.has_data():
            return False, "no rates yet"
        return True, f"subscribed through {len(self.subscriber.connected)} forwarder(s)"

    async def start(self) -> None:
        self._context = zmq.asyncio.Context()
        self.subscriber = Subscriber(self._context, self.settings.zmq_sub_endpoints, self.rates)
        self._run_forever(self.subscriber.run(), "subscriber")
        log.info("subscribing to %s", ", ".join(self.settings.zmq_sub_endpoints))

    def _run_forever(self, coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=name)
        task.add_done_callback(_exit_if_died)
        self._tasks.append(task)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._context is not None:
            self._context.term()
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
    install_routes(app, gateway.rates, gateway.ready)
    return app
