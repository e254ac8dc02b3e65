"""One gateway replica against a bare FastAPI app answering the same bytes, same server
settings, same load tool (wrk), in the same run: requests per second for 200 and for 304. A
second replica with its per-route HTTP metrics off (GATEWAY_HTTP_METRICS=false) shows what the
instrumentation costs.

``python -m bench.http_ratio [--seconds 10] [--rounds 3]`` (``make bench-http``)

The gateway is fed one set of ticks and then nothing, so its body (and tag) stay put for the
304 runs; its hot path is the same whether the body changes once a second or never.
"""

from __future__ import annotations

import statistics
import tempfile
from decimal import Decimal
from pathlib import Path

import httpx
import zmq

from bench.wrk import alternate, print_medians, wrk_arguments
from common.markets import BINANCE_SYMBOLS, COINGECKO_INSTRUMENTS
from common.wire import Tick, encode, now_ms
from harness.ports import listening_ports
from harness.procs import ProcessGroup, wait_for
from harness.stack import start_forwarder, start_gateway

PRICES = {"BTCUSDT": "97000.5", "ETHUSDT": "3400.25", "USDCUSDT": "1.0001"}
COINGECKO = {"bitcoin": "96990", "ethereum": "3399", "tether": "0.9999"}
USD_RUB = Decimal("92.5")


def frozen_ticks() -> list[Tick]:
    """One tick per instrument, at a fixed moment."""
    stamp = now_ms()
    ticks: list[Tick] = []
    for instrument in (*BINANCE_SYMBOLS, *COINGECKO_INSTRUMENTS):
        source = "binance" if instrument in BINANCE_SYMBOLS else "coingecko"
        if source == "binance":
            price = Decimal(PRICES[instrument])
        else:
            coin, vs_currency = instrument.split(".")
            price = Decimal(COINGECKO[coin]) * (USD_RUB if vs_currency == "rub" else 1)
        ticks.append(
            Tick(
                source=source,
                instrument=instrument,
                price=price,
                exchange_ts=stamp,
                received_ts=stamp,
                feeder_id="bench",
                seq=len(ticks) + 1,
                transport="bench",
            )
        )
    return ticks


def feed(xsub: str, ticks: list[Tick], url: str) -> None:
    """Publish ``ticks`` until the gateway answers 200 with all eight directions."""
    context = zmq.Context()
    socket = context.socket(zmq.PUB)
    socket.connect(xsub)

    def served() -> bool:
        for tick in ticks:
            socket.send_multipart(encode(tick))
        response = httpx.get(url, timeout=2)
        return response.status_code == 200 and len(response.json()["courses"]) == 8

    try:
        wait_for(served, 15, interval=0.2, what="gateway serving")
    finally:
        socket.close(0)
        context.term()


def start_all(group: ProcessGroup, workdir: Path) -> tuple[dict[str, str], str]:
    """Two fed gateways (HTTP metrics on and off) and the reference app with their body;
    their URLs by name, and the tag."""
    forwarder = start_forwarder(group)
    gateways = {
        "gateway": start_gateway(group, [forwarder], "gateway", LOG_LEVEL="WARNING"),
        "no metrics": start_gateway(
            group, [forwarder], "gateway-bare", LOG_LEVEL="WARNING", GATEWAY_HTTP_METRICS="false"
        ),
    }
    urls = {name: f"{gateway.url}/api/v1/courses" for name, gateway in gateways.items()}
    for url in urls.values():
        feed(forwarder.xsub, frozen_ticks(), url)
    first = httpx.get(urls["gateway"])
    body, etag = first.content, first.headers["etag"]
    (workdir / "body.json").write_bytes(body)
    reference = group.spawn(
        "reference",
        ["bench.reference_app", str(workdir / "body.json"), etag, "0"],
        env={"PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    (port,) = reference.wait_for(lambda: listening_ports(reference.pid), 15, what="listening")
    urls["reference"] = f"http://127.0.0.1:{port}/api/v1/courses"
    for url in urls.values():
        answer = httpx.get(url)
        assert answer.content == body, "every app must answer the same bytes"
        assert httpx.get(url, headers={"If-None-Match": etag}).status_code == 304
    return urls, etag


def main() -> None:
    """Measure and print the table."""
    args = wrk_arguments(__doc__, rounds=5)
    with tempfile.TemporaryDirectory() as workdir:
        group = ProcessGroup(Path(workdir))
        try:
            urls, etag = start_all(group, Path(workdir))
            results = alternate(urls, lambda: {"200": {}, "304": {"If-None-Match": etag}}, args)
        finally:
            group.stop_all()
    print(f"wrk -t1 -c{args.connections} -d{args.seconds}s, median of {args.rounds} rounds")
    print_medians(results, "answer")
    for mode in ("200", "304"):
        for name in ("gateway", "no metrics"):
            ratio = statistics.median(
                g.requests_per_second / ref.requests_per_second
                for g, ref in zip(results[(name, mode)], results[("reference", mode)])
            )
            print(f"{mode:<15}{name + ' / reference':<26}{ratio:.2f}")


if __name__ == "__main__":
    main()
