"""Runs one feeder: its transport, the heartbeat, and a clean stop on SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import os
import socket

import zmq
from prometheus_client import CollectorRegistry

from common.backoff import Backoff
from common.lifecycle import run_until_signalled
from common.markets import (
    BINANCE_REST,
    BINANCE_WS,
    COINGECKO_REST,
    SOURCE_INSTRUMENTS,
    TRANSPORT_SOURCE,
    TRANSPORTS,
)
from common.mesh import pub_socket
from common.metrics import serve_metrics
from feeder.binance_ws import BinanceWsFeed
from feeder.health import FeedHealth
from feeder.metrics import FeederCollector
from feeder.polling import Poller
from feeder.publisher import Publisher
from feeder.settings import FeederSettings
from feeder.transports import binance_rest_target, coingecko_target

log = logging.getLogger(__name__)


def build_feed(
    transport: str, settings: FeederSettings, publisher: Publisher, health: FeedHealth
) -> BinanceWsFeed | Poller:
    """The object whose ``run()`` reads ``transport`` forever."""
    backoff = Backoff(settings.feeder_backoff_base, settings.feeder_backoff_cap)
    if transport == BINANCE_WS:
        return BinanceWsFeed(settings, publisher, health)
    if transport == BINANCE_REST:
        target, interval = binance_rest_target(settings), settings.binance_rest_interval
    elif transport == COINGECKO_REST:
        target, interval = coingecko_target(settings), settings.coingecko_interval
    else:
        raise ValueError(f"unknown transport {transport!r}; expected one of {TRANSPORTS}")
    return Poller(target, interval, settings.feeder_http_timeout, backoff, publisher, health)


async def _heartbeat(publisher: Publisher, interval: float) -> None:
    while True:
        publisher.heartbeat()
        await asyncio.sleep(interval)


async def run_feeder(transport: str, settings: FeederSettings) -> None:
    """Feed until SIGINT or SIGTERM."""
    feeder_id = settings.feeder_id or f"{transport}@{socket.gethostname()}:{os.getpid()}"
    source = TRANSPORT_SOURCE[transport]
    health = FeedHealth(source, transport, feeder_id)
    context = zmq.Context()
    sock = pub_socket(context, settings.zmq_pub_endpoints)
    publisher = Publisher(sock, health, SOURCE_INSTRUMENTS[source])
    feed = build_feed(transport, settings, publisher, health)
    registry = CollectorRegistry()
    registry.register(FeederCollector(health))
    serve_metrics(registry, settings.metrics_host, settings.metrics_port)
    log.info(
        "feeder %s starting: publishing to %s",
        feeder_id,
        ", ".join(settings.zmq_pub_endpoints),
    )
    try:
        await run_until_signalled(
            {
                transport: feed.run(),
                "heartbeat": _heartbeat(publisher, settings.feeder_heartbeat_interval),
            }
        )
    finally:
        publisher.heartbeat()  # the last word: disconnected
        sock.close(linger=200)
        context.term()
        log.info("feeder %s stopped", feeder_id)
