"""``python -m simulator``: serve simulated Binance and CoinGecko until SIGINT or SIGTERM."""

from __future__ import annotations

import asyncio
import logging

from common.lifecycle import on_stop_signal
from common.settings import load_settings
from simulator.service import Simulator
from simulator.settings import SimulatorSettings

log = logging.getLogger("simulator")


async def run(settings: SimulatorSettings) -> int:
    """Serve until a stop signal; returns the exit status."""
    stop = asyncio.Event()
    with on_stop_signal(stop.set):
        simulator = Simulator(settings)
        try:
            await simulator.start()
        except OSError as error:
            log.critical("cannot listen: %s", error)
            await simulator.stop()
            return 1
        await stop.wait()
        log.info("stopping")
        await simulator.stop()
    return 0


def main() -> None:
    settings = load_settings(SimulatorSettings)
    settings.setup_logging("simulator")
    raise SystemExit(asyncio.run(run(settings)))


if __name__ == "__main__":
    main()
