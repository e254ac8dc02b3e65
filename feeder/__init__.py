"""Feeders: one process per exchange transport, publishing ticks and heartbeats on the mesh.

Errors a feeder meets, and what it does::

    ConnectionError / OSError / websockets.InvalidHandshake / httpx.TransportError
        -> logged at ERROR, retried after a jittered, capped backoff, on the next endpoint
    stalled stream (no data for BINANCE_WS_STALL_SECONDS)
        -> logged at WARNING, reconnected at once
    serverShutdown event
        -> logged at WARNING, a new connection opened at once
    HTTP 429 / 418
        -> logged at WARNING, the next request waits for Retry-After
    MalformedMessage (invalid JSON, wrong types, unknown events or symbols)
        -> counted, dropped, logged at WARNING at most once per interval; never fatal
"""
