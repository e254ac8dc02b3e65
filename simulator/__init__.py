"""A local stand-in for Binance and CoinGecko, speaking their real wire formats, with faults on tap.

It simulates what the feeders read and what the faults need, nothing more. Pure logic, tested
without sockets::

    market.py      seeded random walk of BTCUSDT, ETHUSDT, USDCUSDT and USD-RUB
    faults.py      the fault table (what each does) and the registry (target, fault, expiry)
    binance.py     Binance's stream events, stream paths and ticker/price answers
    coingecko.py   CoinGecko's values from the walk, cached; simple/price; its rate limit
    malformed.py   the bad payloads of the malformed fault

I/O, thin::

    tcp.py         reset a connection; a port that can stop listening
    http.py        HTTP/1.1 connections through h11
    rest.py        a REST target: an exchange API with faults applied
    streams.py     Binance's stream servers, one listener per host, and each connection's life
    control.py     the control API
    service.py     everything assembled
    settings.py    SIM_* settings
    __main__.py    the entry point
"""
