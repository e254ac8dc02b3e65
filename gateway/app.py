"""The app factory: ``create_app(settings)`` builds one gateway replica's FastAPI app, whose
lifespan starts and stops the replica's background work."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from gateway.api import install_routes
from gateway.docs import install_docs
from gateway.faults import install_fault_injection
from gateway.history_api import install_history_routes
from gateway.metrics import (
    GatewayCollector,
    StreamCollector,
    WriterHistograms,
    install_metrics_route,
    instrument_http,
)
from gateway.render import Answers
from gateway.replica import Gateway
from gateway.settings import GatewaySettings
from gateway.stream_route import install_stream_route
from gateway.stream_server import StreamServer
from gateway.streams import StreamHub


async def beat(hub: StreamHub, seconds: float) -> None:
    """A comment on every stream every ``seconds``."""
    while True:
        await asyncio.sleep(seconds)
        hub.heartbeat()


def create_app(settings: GatewaySettings, on_fatal: Callable[[], None] | None = None) -> FastAPI:
    """A gateway app; nothing runs until its lifespan starts.

    ``on_fatal`` is called if a background task dies while the app runs (the entry point stops
    the server); the replica reports itself not ready from then on either way.
    """
    registry = CollectorRegistry()
    histograms = WriterHistograms(registry)
    gateway = Gateway(settings, on_flush=histograms.observe, on_fatal=on_fatal)
    registry.register(GatewayCollector(gateway))
    answers = Answers(settings.http_cache_max_age)
    gateway.rates.on_change(answers.update)
    # After answers.update: the hub reads the answers just rebuilt.
    hub = StreamHub(answers, settings.gateway_stream_buffer_limit, settings.gateway_stream_retry_ms)
    gateway.rates.on_change(hub.on_change)
    registry.register(StreamCollector(hub))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        server = None
        if settings.gateway_stream_port is not None:
            server = StreamServer(
                hub, settings.gateway_host, settings.gateway_stream_port, request_timeout=5.0
            )
            await server.start()
        app.state.stream_server = server
        heartbeat = asyncio.create_task(
            beat(hub, settings.gateway_stream_heartbeat_seconds), name="stream-heartbeat"
        )
        try:
            yield
        finally:
            heartbeat.cancel()
            if server is not None:
                await server.close()
            hub.close_all()
            await gateway.stop()

    app = FastAPI(
        title="Crypto exchange rates",
        version="1.0.0",
        description="BTC, ETH and USDT (TRC-20, ERC-20) against USD and RUB, from Binance with "
        "CoinGecko as failover. Every course says where it came from and how old it is.",
        lifespan=lifespan,
    )
    app.state.gateway = gateway
    app.state.streams = hub
    install_routes(app, gateway, answers)
    install_stream_route(app, hub)
    install_history_routes(
        app, gateway, settings.history_closed_max_age, settings.history_settle_seconds
    )
    install_docs(app)
    install_metrics_route(app, registry)
    if settings.gateway_http_metrics:
        instrument_http(app, registry)
    if settings.gateway_fault_injection:
        install_fault_injection(app)
    return app
