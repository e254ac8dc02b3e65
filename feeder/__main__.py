"""``python -m feeder binance-ws | binance-rest | coingecko``."""

from __future__ import annotations

import argparse

import uvloop

from common.lifecycle import TaskDied
from common.markets import TRANSPORTS
from common.settings import load_settings
from feeder.runner import run_feeder
from feeder.settings import FeederSettings


def main() -> None:
    """Feed one transport until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m feeder", description=__doc__)
    parser.add_argument("transport", choices=TRANSPORTS)
    args = parser.parse_args()
    settings = load_settings(FeederSettings)
    settings.setup_logging(f"feeder-{args.transport}")
    try:
        uvloop.run(run_feeder(args.transport, settings))
    except TaskDied:
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
