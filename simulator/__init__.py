"""A local stand-in for Binance and CoinGecko, speaking their real wire formats, with faults on tap.

Pure logic, tested without sockets::

    market.py             seeded random walk of BTCUSDT, ETHUSDT, USDCUSDT and USD-RUB
    snapshot.py           CoinGecko values derived from the walk, cached per period
    faults.py             the fault registry (target, fault, expiry)
    limits.py             weight budget, rolling rate limits
    binance_payloads.py   Binance stream events, REST bodies and errors
    binance_streams.py    stream paths, subscriptions and live requests
    coingecko_payloads.py CoinGecko simple/price, ping and errors
    malformed.py          the bad payloads of the malformed fault

I/O, thin::

    tcp.py                reset a connection; a port that can stop listening
    http.py               a small HTTP/1.1 server on asyncio streams
    rest.py               a REST target: an exchange API with faults applied
    binance_rest.py       Binance's ticker/price, ping and time
    coingecko_rest.py     CoinGecko's simple/price and ping
    binance_session.py    one stream connection's life
    binance_ws.py         the stream servers, one listener per host
    control.py            the control API
    service.py            everything assembled
    settings.py           SIM_* settings
    __main__.py           the entry point
"""
