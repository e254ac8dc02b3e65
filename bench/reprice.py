"""What one change of the book costs the gateway: re-pricing every direction for every
exchanger filter (the guard included), then rendering the full answer, as a tick arrives.

``python -m bench.reprice [--ticks 20000] [--rounds 5]`` (``make bench-reprice``)

Only public names that every version of the gateway has (``Rates``, ``Budgets``, ``Answers``,
the parsed query ``ALL``), so the same file measures an older checkout too:
``PYTHONPATH=<checkout> .venv/bin/python <checkout-or-this>/bench/reprice.py``. Serving a
request costs a dictionary lookup either way (answers are rendered once per change); this is
the cost paid once per change, off the request path.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from decimal import Decimal

from common.markets import BINANCE_SYMBOLS, COINGECKO_INSTRUMENTS
from common.wire import Tick
from gateway.pricing import Budgets
from gateway.query import ALL
from gateway.rates import Rates
from gateway.render import Answers

START = {"BTCUSDT": 97000, "ETHUSDT": 3400, "USDCUSDT": 1}
T0 = 1_764_000_000_000


def _tick(source: str, transport: str, instrument: str, price: Decimal, at: int) -> Tick:
    return Tick(
        source=source,
        instrument=instrument,
        price=price,
        exchange_ts=at,
        received_ts=at,
        feeder_id=f"{transport}-1",
        seq=1,
        transport=transport,
    )


def _stream(count: int) -> list[Tick]:
    """``count`` Binance ticks, each moving one book by up to a few ticks."""
    rng = random.Random(7)
    prices = {symbol: Decimal(START[symbol]) for symbol in BINANCE_SYMBOLS}
    ticks = []
    for n in range(count):
        symbol = BINANCE_SYMBOLS[n % len(BINANCE_SYMBOLS)]
        prices[symbol] *= Decimal(1) + Decimal(rng.randint(-5, 5)) / 100_000
        ticks.append(_tick("binance", "binance-ws", symbol, prices[symbol], T0 + n))
    return ticks


def _loaded() -> Rates:
    rates = Rates(Budgets(live=1e9, slow=1e9, fiat=1e9))  # nothing goes stale meanwhile
    usd = {"bitcoin": 97000, "ethereum": 3400, "tether": 1}
    for instrument in COINGECKO_INSTRUMENTS:
        coin, _, vs = instrument.partition(".")
        value = Decimal(usd[coin]) * (Decimal("92.5") if vs == "rub" else 1)
        rates.apply(_tick("coingecko", "coingecko", instrument, value, T0 - 30_000), 0.0)
    return rates


def measure(count: int) -> tuple[float, int]:
    """Microseconds per tick (apply, re-price, render the full answer), and its size."""
    rates, stream = _loaded(), _stream(count)
    answers = Answers()
    rates.on_change(answers.update)
    started = time.perf_counter()
    for tick in stream:
        rates.apply(tick, 1.0)
        rates.reprice(1.0)
        body = answers.answer(ALL).body
    elapsed = time.perf_counter() - started
    return elapsed / count * 1e6, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--ticks", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    runs = [measure(args.ticks) for _ in range(args.rounds)]
    micros = [us for us, _ in runs]
    print(
        f"{args.ticks} ticks x {args.rounds} rounds: median {statistics.median(micros):.1f} us "
        f"per tick (fastest {min(micros):.1f}) to re-price and render; "
        f"full answer {runs[-1][1]} bytes"
    )


if __name__ == "__main__":
    main()
