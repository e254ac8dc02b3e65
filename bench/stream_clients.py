"""The courses stream's load generator: thousands of SSE clients in one process, as asyncio
protocols on uvloop (a greenlet or a task per stream would cost more than what it measures).

A worker process opens its streams, reports when every one has its first event, and records
the events of the changes made in a window of time: per client how many it received and a
digest of their ids (every client of one replica must have the same), every event's lag
(receipt minus the ``: changed`` time the gateway wrote; one clock: the same machine) and the
streams that ended in the window. Driven over a
pipe by :mod:`bench.stream`; bounded (it only reads) and stopped by its parent.
"""

from __future__ import annotations

import asyncio
import gc
import os
import time
import zlib
from array import array
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import cast

import uvloop

#: An event's first line (the comment with its change's time), after a newline.
CHANGED = b"\n: changed "


@dataclass
class Tally:
    """What the clients of one worker received of the changes made in a window of time."""

    start_ms: float = float("inf")
    end_ms: float = float("inf")
    lags_ms: array = field(default_factory=lambda: array("f"))  # type: ignore[type-arg]
    dropped: int = 0


class Worker:
    """This process's clients and what they received."""

    def __init__(self) -> None:
        self.clients: set[StreamClient] = set()
        self.started = 0  # clients whose first event arrived
        self.refused = 0  # clients answered anything but 200, or cut before their first event
        self.tally = Tally()

    def event(self, client: StreamClient, data: bytes, at: int, now_ms: float) -> None:
        """A ``courses`` event for ``client``: its change comment at ``data[at:]``."""
        if not client.started:
            client.started = True  # the current answer: not a change, no lag
            self.started += 1
            return
        tally = self.tally
        start = at + len(CHANGED)
        end = data.index(b"\n", start)
        changed = float(data[start:end])
        if not tally.start_ms <= changed < tally.end_ms:
            return
        start = data.index(b"\nid: ", end) + 5
        # What the client received, order aside: every client of one replica gets the same.
        client.count += 1
        client.digest ^= zlib.crc32(data[start : data.index(b"\n", start)])
        tally.lags_ms.append(now_ms - changed)

    def lost(self, client: StreamClient) -> None:
        self.clients.discard(client)
        if not client.started:
            self.refused += 1
        elif self.tally.start_ms < time.time() * 1000 < self.tally.end_ms:
            self.tally.dropped += 1


class StreamClient(asyncio.Protocol):
    """One stream: sends the request, splits what comes into SSE blocks."""

    __slots__ = (
        "worker",
        "request",
        "buffer",
        "transport",
        "started",
        "head",
        "count",
        "digest",
    )

    def __init__(self, worker: Worker, request: bytes) -> None:
        self.worker = worker
        self.request = request
        self.buffer = b""
        self.transport: asyncio.Transport | None = None
        self.started = False
        self.head = True
        #: events of the window received, and the XOR of their ids' CRCs
        self.count = 0
        self.digest = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.request)
        self.worker.clients.add(self)

    def data_received(self, data: bytes) -> None:
        now_ms = time.time() * 1000
        if self.buffer:
            data = self.buffer + data
        # Whole events only; the rest waits for the next read. Searched in place, not split:
        # splitting every read into blocks was a fifth of this process's time.
        end = data.rfind(b"\n\n")
        if end < 0:
            self.buffer = data
            return
        # The last newline stays: it begins the change comment of an event that follows it.
        self.buffer = data[end + 1 :]
        at = 0
        if self.head:
            self.head = False
            if not data.startswith(b"HTTP/1.1 200"):
                assert self.transport is not None
                self.transport.close()
                return
            at = data.index(b"\r\n\r\n")
        # Every event's change comment follows a newline (a chunk's size line or the last event).
        at = data.find(CHANGED, at, end)
        while at >= 0:
            self.worker.event(self, data, at, now_ms)
            at = data.find(CHANGED, at + len(CHANGED), end)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost(self)


async def _open(worker: Worker, host: str, port: int, request: bytes, count: int) -> None:
    loop = asyncio.get_running_loop()
    gate = asyncio.Semaphore(200)  # connections being set up at once

    async def one() -> None:
        async with gate:
            try:
                await loop.create_connection(lambda: StreamClient(worker, request), host, port)
            except OSError:
                worker.refused += 1

    await asyncio.gather(*(one() for _ in range(count)))


async def _serve(pipe: Connection) -> None:
    """Obey the parent's commands until ``exit``."""
    worker = Worker()
    loop = asyncio.get_running_loop()
    while True:
        # In a thread: the pipe stays blocking (a big answer is written whole).
        command, *args = await loop.run_in_executor(None, pipe.recv)
        if command == "open":
            host, port, path, count = args
            request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode()
            await _open(worker, host, port, request, count)
            # The clients live until closed: kept out of the collector's full passes.
            gc.freeze()
            pipe.send(("opening", len(worker.clients)))
        elif command == "status":
            pipe.send(("status", worker.started, worker.refused, len(worker.clients)))
        elif command == "record":
            start_ms, end_ms = args
            worker.tally = Tally(start_ms, end_ms)
            for client in worker.clients:
                client.count = client.digest = 0
            pipe.send(("recording",))
        elif command == "stop":
            tally = worker.tally
            received = [(client.count, client.digest) for client in worker.clients]
            pipe.send(("stopped", received, tally.lags_ms.tobytes(), tally.dropped))
        elif command == "close":
            for client in list(worker.clients):
                if client.transport is not None:
                    client.transport.abort()
            await asyncio.sleep(0.5)
            gc.unfreeze()  # the closed clients' cycles are garbage now
            worker = Worker()
            pipe.send(("closed",))
        elif command == "exit":
            return


def run(pipe: Connection) -> None:
    """A worker process's entry point: a batch process, which the kernel does not let preempt
    a running one when an event wakes it. Clients are elsewhere in production; here, woken by
    every event HAProxy sent, they preempted it at once (about 11,000 switches a second per
    HAProxy thread at 8,000 streams) and added a quarter to the lag they measured."""
    os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    uvloop.run(_serve(pipe))
