"""The simulator assembled: market clock, the three exchange targets, faults and the control API."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from common.markets import BINANCE_REST, BINANCE_WS
from common.wire import now_ms
from simulator.binance import BinanceApi
from simulator.coingecko import CoinGeckoApi, SnapshotCache
from simulator.control import ControlApi
from simulator.faults import COINGECKO, KINDS, Fault, FaultRegistry
from simulator.http import MAX_HEAD, serve
from simulator.market import Market
from simulator.rest import RestTarget
from simulator.settings import SimulatorSettings
from simulator.streams import BinanceStreams
from simulator.tcp import Listener, reset

log = logging.getLogger(__name__)


class Simulator:  # pylint: disable=too-many-instance-attributes
    """Everything ``python -m simulator`` runs, started and stopped as one."""

    def __init__(self, settings: SimulatorSettings) -> None:
        self.settings = settings
        host = settings.sim_host
        self.market = Market(settings.sim_seed, settings.sim_usd_rub)
        self.snapshots = SnapshotCache(settings.sim_coingecko_cache_seconds)
        self.faults = FaultRegistry()
        self.binance_ws = BinanceStreams(settings, self.market, self.faults)
        self.coingecko_api = CoinGeckoApi(
            self.market, self.snapshots, settings.sim_coingecko_rate_limit
        )
        rest_port, binance_api = settings.sim_binance_rest_port, BinanceApi(self.market)
        self.binance_rest = RestTarget(BINANCE_REST, rest_port, binance_api, self.faults, settings)
        coingecko_port = settings.sim_coingecko_port
        self.coingecko = RestTarget(
            COINGECKO, coingecko_port, self.coingecko_api, self.faults, settings
        )
        self.targets: dict[str, BinanceStreams | RestTarget] = {
            BINANCE_WS: self.binance_ws,
            BINANCE_REST: self.binance_rest,
            COINGECKO: self.coingecko,
        }
        self._control_api = ControlApi(self)
        self.control = Listener("control", host, settings.sim_control_port, self._control_server)
        self._control_writers: set[asyncio.StreamWriter] = set()
        self._faults_changed = asyncio.Event()
        self._loops: list[asyncio.Task[None]] = []

    def ports(self) -> dict[str, Any]:
        """The ports bound, by target (``control`` too)."""
        return {
            "control": self.control.port,
            BINANCE_WS: list(self.binance_ws.bound()),
            BINANCE_REST: self.binance_rest.listener.port,
            COINGECKO: self.coingecko.listener.port,
        }

    async def start(self) -> None:
        """Listen everywhere and start the clocks; raises ``OSError`` if a port is taken."""
        await self.control.open()
        await self.binance_ws.start()
        await self.binance_rest.start()
        await self.coingecko.start()
        self.faults.ports[BINANCE_WS] = self.binance_ws.bound()
        self._loops = [
            asyncio.create_task(self._run_market(), name="market"),
            asyncio.create_task(self._run_faults(), name="faults"),
        ]
        ports = self.ports()
        # The test harness reads the ports bound from this line.
        log.info(
            "listening on %s: control :%d, binance-ws %s, binance-rest :%d, coingecko :%d; "
            "seed %d, tick %.3g s",
            self.settings.sim_host,
            ports["control"],
            ",".join(f":{port}" for port in ports[BINANCE_WS]),
            ports[BINANCE_REST],
            ports[COINGECKO],
            self.settings.sim_seed,
            self.settings.sim_tick_interval,
        )

    async def stop(self) -> None:
        """Stop the clocks, close every listener and connection."""
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.control.close()
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
        *,
        percent: float | None = None,
        instruments: tuple[str, ...] = (),
    ) -> Fault:
        """Put a fault in force and apply it at once."""
        kind = KINDS.get(fault)
        if kind is not None and kind.shuts_down and seconds is None:
            # A shutdown notice is an event: it lasts as long as the grace before the close.
            seconds = self.settings.sim_shutdown_grace
        injected = self.faults.inject(
            target, fault, seconds, port, status, percent=percent, instruments=instruments
        )
        log.warning("fault injected: %s", self._phrase(injected))
        if target == BINANCE_WS:
            await self.binance_ws.reconcile(fresh=True, port=port)
        else:
            await self.targets[target].reconcile(fresh=True)
        self._faults_changed.set()
        return injected

    async def clear(self, target: str | None = None, port: int | None = None) -> list[Fault]:
        """Remove faults and undo their effects."""
        cleared = self.faults.clear(target, port)
        for fault in cleared:
            log.warning("fault cleared: %s", self._phrase(fault))
        for name in {fault.target for fault in cleared}:
            await self.targets[name].reconcile()
        self._faults_changed.set()
        return cleared

    def active_faults(self) -> list[Fault]:
        return self.faults.faults()

    def describe(self, fault: Fault) -> dict[str, Any]:
        remaining = fault.remaining(self.faults.now())
        return {
            "target": fault.target,
            "fault": fault.name,
            "port": fault.port,
            "status": fault.status if fault.kind.statuses else None,
            "remaining": None if remaining is None else round(remaining, 3),
            "percent": None if fault.percent is None else float(fault.percent),
            "instruments": list(fault.instruments),
        }

    def state(self) -> dict[str, Any]:
        """Everything a test or an operator may want to check, as JSON-ready values."""
        snapshot = self.snapshots.get(self.market)
        streams = self.binance_ws
        return {
            "ports": self.ports(),
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
                "calls_last_minute": self.coingecko_api.calls_last_minute(),
            },
            "faults": [self.describe(fault) for fault in self.faults.faults()],
            "connections": {name: target.connections for name, target in self.targets.items()},
            "held": {
                BINANCE_WS: sum(len(port.held) for port in streams.ports),
                BINANCE_REST: self.binance_rest.held,
                COINGECKO: self.coingecko.held,
            },
            "listening": {
                BINANCE_WS: {str(p.listener.port): p.listener.listening for p in streams.ports},
                BINANCE_REST: self.binance_rest.listener.listening,
                COINGECKO: self.coingecko.listener.listening,
            },
            "frames_sent": {
                BINANCE_WS: streams.frames,
                BINANCE_REST: self.binance_rest.responses,
                COINGECKO: self.coingecko.responses,
            },
            "malformed_sent": {
                BINANCE_WS: streams.malformed,
                BINANCE_REST: self.binance_rest.malformed,
                COINGECKO: self.coingecko.malformed,
            },
            "pings_sent": streams.pings,
        }

    def _phrase(self, fault: Fault) -> str:
        remaining = fault.remaining(self.faults.now())
        until = "until cleared" if remaining is None else f"for {remaining:.3g} s"
        size = "" if fault.percent is None else f" {fault.percent:+}%"
        which = f" of {', '.join(fault.instruments)}" if fault.instruments else ""
        return f"{fault.scope} {fault.name}{size}{which} {until}"

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
        """Undo the effects of each fault when it expires: wait for the next expiry, or for
        the faults to change."""
        while True:
            expiry = self.faults.next_expiry()
            timeout = None if expiry is None else max(0.0, expiry - self.faults.now())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._faults_changed.wait(), timeout)
            self._faults_changed.clear()
            for fault in self.faults.expire():
                log.warning("fault expired: %s %s", fault.scope, fault.name)
                await self.targets[fault.target].reconcile()
