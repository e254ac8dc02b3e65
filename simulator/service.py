"""The simulator assembled: market clock, the three exchange targets, faults and the control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from common.wire import now_ms
from simulator.binance_rest import BinanceRest
from simulator.binance_session import StreamConfig
from simulator.binance_ws import BinanceStreams
from simulator.coingecko_rest import CoinGeckoRest
from simulator.control import ControlApi
from simulator.faults import (
    BINANCE_REST,
    BINANCE_WS,
    COINGECKO,
    SERVER_ERROR,
    SHUTDOWN,
    Fault,
    FaultRegistry,
)
from simulator.http import MAX_HEAD, serve
from simulator.market import Market
from simulator.rest import RestTarget
from simulator.settings import SimulatorSettings
from simulator.snapshot import SnapshotCache
from simulator.tcp import Listener, reset

log = logging.getLogger(__name__)

#: How often expired faults are noticed and undone.
FAULT_POLL = 0.05


class Simulator:
    """Everything ``python -m simulator`` runs, started and stopped as one."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        host = settings.sim_host
        self.market = Market(settings.sim_seed, settings.sim_usd_rub)
        self.snapshots = SnapshotCache(settings.sim_coingecko_cache_seconds)
        self.faults = FaultRegistry(ports={BINANCE_WS: settings.ws_ports})
        config = StreamConfig(
            ping_interval=settings.sim_ping_interval,
            pong_timeout=settings.sim_pong_timeout,
            lifetime=settings.sim_connection_lifetime,
            message_limit=settings.sim_ws_message_limit,
            shutdown_grace=settings.sim_shutdown_grace,
        )
        retry_after = settings.sim_fault_retry_after
        self.binance_ws = BinanceStreams(
            host, settings.ws_ports, self.market, self.faults, config, retry_after
        )
        self.binance_api = BinanceRest(self.market, settings.sim_binance_weight_limit)
        self.coingecko_api = CoinGeckoRest(
            self.market, self.snapshots, settings.sim_coingecko_rate_limit
        )
        self.binance_rest = RestTarget(
            BINANCE_REST,
            host,
            settings.sim_binance_rest_port,
            self.binance_api,
            self.faults,
            retry_after,
        )
        self.coingecko = RestTarget(
            COINGECKO,
            host,
            settings.sim_coingecko_port,
            self.coingecko_api,
            self.faults,
            retry_after,
        )
        self.targets: dict[str, BinanceStreams | RestTarget] = {
            BINANCE_WS: self.binance_ws,
            BINANCE_REST: self.binance_rest,
            COINGECKO: self.coingecko,
        }
        self._control_api = ControlApi(self)
        self._control = Listener("control", host, settings.sim_control_port, self._control_server)
        self._control_writers: set[asyncio.StreamWriter] = set()
        self._loops: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Listen everywhere and start the clocks; raises ``OSError`` if a port is taken."""
        await self._control.open()
        await self.binance_ws.start()
        await self.binance_rest.start()
        await self.coingecko.start()
        self._loops = [
            asyncio.create_task(self._run_market(), name="market"),
            asyncio.create_task(self._run_faults(), name="faults"),
        ]
        settings = self.settings
        log.info(
            "simulating on %s: control :%d, binance-ws %s, binance-rest :%d, coingecko :%d; "
            "seed %d, tick %.3g s, ping %.3g s, pong timeout %.3g s, lifetime %.0f s, "
            "weight limit %d/min, coingecko %d calls/min, cache %.3g s",
            settings.sim_host,
            settings.sim_control_port,
            ",".join(f":{port}" for port in settings.ws_ports),
            settings.sim_binance_rest_port,
            settings.sim_coingecko_port,
            settings.sim_seed,
            settings.sim_tick_interval,
            settings.sim_ping_interval,
            settings.sim_pong_timeout,
            settings.sim_connection_lifetime,
            settings.sim_binance_weight_limit,
            settings.sim_coingecko_rate_limit,
            settings.sim_coingecko_cache_seconds,
        )

    async def stop(self) -> None:
        """Stop the clocks, close every listener and connection."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._control.close()
        for writer in list(self._control_writers):
            reset(writer.transport)
        await asyncio.gather(
            self.binance_ws.stop(), self.binance_rest.stop(), self.coingecko.stop()
        )
        log.info("stopped")

    async def inject(
        self,
        target: str,
        fault: str,
        seconds: float | None = None,
        port: int | None = None,
        status: int | None = None,
    ) -> Fault:
        """Put a fault in force and apply it at once."""
        if fault == SHUTDOWN and seconds is None:
            # A shutdown notice is an event: it lasts as long as the grace before the close.
            seconds = self.settings.sim_shutdown_grace
        injected = self.faults.inject(target, fault, seconds, port, status)
        log.warning("fault injected: %s", self._phrase(injected))
        if target == BINANCE_WS:
            await self.binance_ws.reconcile(fresh=True, port=port)
        else:
            await self.targets[target].reconcile(fresh=True)
        return injected

    async def clear(self, target: str | None = None, port: int | None = None) -> list[Fault]:
        """Remove faults and undo their effects."""
        cleared = self.faults.clear(target, port)
        for fault in cleared:
            log.warning("fault cleared: %s", self._phrase(fault))
        for name in {fault.target for fault in cleared}:
            await self.targets[name].reconcile()
        return cleared

    def active_faults(self) -> list[Fault]:
        return self.faults.faults()

    def describe(self, fault: Fault) -> dict[str, Any]:
        remaining = fault.remaining(self.faults.now())
        return {
            "target": fault.target,
            "fault": fault.name,
            "port": fault.port,
            "status": fault.status if fault.name == SERVER_ERROR else None,
            "remaining": None if remaining is None else round(remaining, 3),
        }

    def state(self) -> dict[str, Any]:
        """Everything a test or an operator may want to check, as JSON-ready values."""
        snapshot = self.snapshots.get(self.market)
        counters = self.binance_ws.counters
        return {
            "step": self.market.step,
            "binance": {symbol: f"{price:.8f}" for symbol, price in self.market.prices().items()},
            "usd_rub": str(self.market.usd_rub),
            "coingecko": {
                "last_updated_at": snapshot.last_updated_at,
                "step": snapshot.step,
                "values": {
                    coin: {vs: str(value) for vs, value in values.items()}
                    for coin, values in snapshot.values.items()
                },
            },
            "faults": [self.describe(fault) for fault in self.faults.faults()],
            "connections": {name: target.connections for name, target in self.targets.items()},
            "listening": {
                BINANCE_WS: {
                    str(number): port.listener.listening
                    for number, port in self.binance_ws.ports.items()
                },
                BINANCE_REST: self.binance_rest.listener.listening,
                COINGECKO: self.coingecko.listener.listening,
            },
            "ports": {
                BINANCE_WS: {
                    str(number): len(port.connections)
                    for number, port in self.binance_ws.ports.items()
                }
            },
            "frames_sent": {
                BINANCE_WS: counters.frames,
                BINANCE_REST: self.binance_rest.responses,
                COINGECKO: self.coingecko.responses,
            },
            "malformed_sent": {
                BINANCE_WS: counters.malformed,
                BINANCE_REST: self.binance_rest.malformed,
                COINGECKO: self.coingecko.malformed,
            },
            "pings_sent": counters.pings,
            "limits": {
                BINANCE_REST: {
                    "used_weight_1m": self.binance_api.budget.used(),
                    "weight_limit": self.binance_api.budget.limit,
                },
                COINGECKO: {
                    "calls_last_minute": self.coingecko_api.limit.count(),
                    "rate_limit": self.coingecko_api.limit.limit,
                    "calls_with_api_key": self.coingecko_api.with_api_key,
                },
            },
        }

    def _phrase(self, fault: Fault) -> str:
        remaining = fault.remaining(self.faults.now())
        until = "until cleared" if remaining is None else f"for {remaining:.3g} s"
        return f"{fault.scope} {fault.name} {until}"

    async def _control_server(self, host: str, port: int) -> asyncio.Server:
        return await asyncio.start_server(self._control_connected, host, port, limit=MAX_HEAD)

    async def _control_connected(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._control_writers.add(writer)
        try:
            await serve(reader, writer, self._control_api)
        finally:
            self._control_writers.discard(writer)

    async def _run_market(self) -> None:
        """One market step per tick interval, on a fixed schedule, then a tick to every stream."""
        loop = asyncio.get_running_loop()
        interval = self.settings.sim_tick_interval
        due = loop.time()
        while True:
            due += interval
            delay = due - loop.time()
            if delay < -interval:
                # Far behind (a paused process): skip the missed ticks rather than burst.
                due = loop.time()
                delay = 0.0
            await asyncio.sleep(max(0.0, delay))
            self.market.advance()
            # CoinGecko refreshes on its own schedule, whether anyone asks or not.
            self.snapshots.get(self.market)
            self.binance_ws.tick(now_ms())

    async def _run_faults(self) -> None:
        """Notice expired faults and undo their effects."""
        while True:
            await asyncio.sleep(FAULT_POLL)
            for fault in self.faults.expire():
                log.warning("fault expired: %s %s", fault.scope, fault.name)
            for target in self.targets.values():
                await target.reconcile()
