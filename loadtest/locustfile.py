"""Users of the rates API, as a crypto exchanger's apps use it.

* Pollers (most): the full list, again and again, with the ``If-None-Match`` of their last
  answer.
* Filterers: one direction, a base, a quote or an exchanger, sometimes through ``/courses``.
* Misusers (a few): invalid values, which must be refused with 422 and the valid ones listed.

Every answer is checked (status, shape, tag) by ``contract.py``, the API's contract written
out as a client knows it (a test keeps it equal to the gateway's); a wrong answer counts as a
failure. This folder stands alone: it runs in locust's own image too.

``LOADTEST_USER_RPS`` sets each user's pace (requests a second, 1 by default; 0: flat out).
A user stands for one client service: ``make bench`` runs 100 of them at 17 a second.

* Streamers (``LOADTEST_STREAMERS``, none by default): each holds the courses stream open for
  one query shape and checks every event (``event_stream.py`` reads it, ``contract.py`` checks
  it). Each event is a request of type ``SSE`` in locust's statistics, its response time the
  event's lag behind the gateway's change; they come on top of ``--users``' other users.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import socket
import time
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import urlsplit

from contract import DIRECTIONS, event_problems, problems  # pylint: disable=import-error
from event_stream import (  # pylint: disable=import-error
    ChunkedDecoder,
    Event,
    EventParser,
    StreamError,
    parse_head,
)
from locust import FastHttpUser, User, constant, constant_throughput, events, task
from locust.env import Environment
from locust.runners import Runner, WorkerRunner


def pace() -> Callable[[User], float]:
    """Each user's wait between requests: ``LOADTEST_USER_RPS`` a second, or none at 0."""
    rate = float(os.environ.get("LOADTEST_USER_RPS", "1"))
    return constant_throughput(rate) if rate > 0 else constant(0)


class RatesUser(FastHttpUser):
    """A client that remembers its last tag per query and checks every answer."""

    abstract = True
    wait_time = pace()

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        #: query -> the tag of its last 200
        self.tags: dict[str, str] = {}

    def courses(
        self,
        path: str,
        name: str,
        directions: tuple[str, ...] = DIRECTIONS,
        exchanger: str | None = None,
        conditional: bool = True,
    ) -> None:
        """GET ``path``, conditionally on the last tag seen for it, and check the answer."""
        sent = self.tags.get(path) if conditional else None
        headers = {"If-None-Match": sent} if sent else {}
        with self.client.get(path, headers=headers, name=name, catch_response=True) as response:
            if response.status_code == 304:
                if sent is None:
                    response.failure("304 without If-None-Match")
                elif response.content:
                    response.failure("304 with a body")
                elif response.headers.get("etag") != sent:
                    response.failure("304 with another tag")
                else:
                    response.success()
            elif response.status_code == 200:
                problem = problems(response, directions, exchanger)
                if problem:
                    response.failure(problem)
                else:
                    self.tags[path] = response.headers["etag"]
                    response.success()
            else:
                response.failure(f"status {response.status_code}")


class Poller(RatesUser):
    """The full list, polled with If-None-Match."""

    weight = 16

    @task
    def poll(self) -> None:
        self.courses("/api/v1/courses", "/api/v1/courses (poll)")


class Filterer(RatesUser):
    """Narrower questions."""

    weight = 3

    @task(3)
    def direction(self) -> None:
        chosen = tuple(sorted(random.sample(DIRECTIONS, 2), key=DIRECTIONS.index))
        self.courses(f"/api/v1/courses?direction={','.join(chosen)}", "?direction", chosen)

    @task(2)
    def base(self) -> None:
        base = random.choice(("BTC", "ETH", "USDTTRC", "USDTERC"))
        expected = tuple(d for d in DIRECTIONS if d.startswith(base + "-"))
        self.courses(f"/api/v1/courses?base={base}", "?base", expected)

    @task(2)
    def quote(self) -> None:
        quote = random.choice(("USD", "RUB"))
        expected = tuple(d for d in DIRECTIONS if d.endswith("-" + quote))
        self.courses(f"/courses?quote={quote}", "/courses?quote", expected)

    @task(1)
    def exchanger(self) -> None:
        exchanger, spelling = random.choice(
            (("binance", "binance"), ("coingecko", "coingecko"), ("coingecko", "coingeko"))
        )
        self.courses(f"/api/v1/courses?exchanger={spelling}", "?exchanger", exchanger=exchanger)


class Misuser(RatesUser):
    """Invalid values: 422, naming the valid ones."""

    weight = 1

    @task
    def invalid(self) -> None:
        """One invalid value of the four parameters."""
        query, listed = random.choice(
            (
                ("direction=BTC-EUR", "BTC-USD"),
                ("base=DOGE", "USDTTRC"),
                ("quote=EUR", "RUB"),
                ("exchanger=kraken", "coingeko"),
            )
        )
        with self.client.get(
            f"/api/v1/courses?{query}", name="invalid (422)", catch_response=True
        ) as response:
            if response.status_code == 422 and listed in response.json().get("detail", ""):
                response.success()
            else:
                response.failure(f"status {response.status_code} for {query}")


class Shape(NamedTuple):
    """A query the streamers hold open, and what its answers must hold."""

    query: str
    directions: tuple[str, ...] = DIRECTIONS
    exchanger: str | None = None

    @property
    def name(self) -> str:
        return f"stream{self.query}"


STREAM_PATH = "/api/v1/courses/stream"
SHAPES = (
    Shape(""),
    Shape("?base=BTC", tuple(d for d in DIRECTIONS if d.startswith("BTC-"))),
    Shape("?quote=RUB", tuple(d for d in DIRECTIONS if d.endswith("-RUB"))),
    Shape("?exchanger=coingecko", exchanger="coingecko"),
    Shape("?direction=ETH-USD,USDTTRC-RUB", ("ETH-USD", "USDTTRC-RUB")),
)
#: The server sends a keep-alive comment at least every 15 s: twice that in silence is a stall.
STALL_SECONDS = 30.0
READ_SIZE = 65536
MAX_HEAD = 16384


class StreamFailure(Exception):
    """What a streamer reports as a failed request."""


def streamers() -> int:
    """How many streamers run: ``LOADTEST_STREAMERS``, none by default."""
    return int(os.environ.get("LOADTEST_STREAMERS", "0"))


class Streamer(User):
    """A client holding the courses stream open for one query shape, checking every event, and
    reconnecting with ``Last-Event-ID`` after the server's ``retry:`` when the stream drops.

    Only ``fixed_count`` of them ever run. locust treats a fixed count of 0 as "weighted", not
    "none", and removes a class only when both its weight and its fixed count are 0: hence
    ``weight = 0``, so that no ``LOADTEST_STREAMERS`` means no streamer at all."""

    fixed_count = streamers()
    weight = 0
    #: each new streamer takes the next shape, so every shape is held
    _shapes = itertools.cycle(SHAPES)

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.shape: Shape = next(Streamer._shapes)
        #: the stream's own parser: the ``retry:`` and the last id outlive a connection
        self.parser = EventParser()
        #: the id of the last event received, on any connection (a repeat is a duplicate)
        self.previous_id: str | None = None
        #: when the last stream dropped (``time.monotonic()``), None before any did
        self.dropped_at: float | None = None

    def wait_time(self) -> float:
        """Between two connections: the server's ``retry:`` (1 s until it sent one)."""
        return (self.parser.retry_ms or 1000) / 1000

    def stop(self, force: bool = False) -> bool:
        """Stopped at once: its task, reading a stream, never ends by itself (the socket
        closes as the killed greenlet leaves its ``with``)."""
        killed: bool = super().stop(force=True)
        return killed

    @task
    def listen(self) -> None:
        """One connection, read until it drops; locust runs it again after ``wait_time``."""
        started = time.monotonic()
        url = urlsplit(str(self.host))
        try:
            with socket.create_connection(
                (url.hostname, url.port or 80), timeout=STALL_SECONDS
            ) as connection:
                body = self.open(connection, url.netloc)
                self.follow(connection, body, started)
        except TimeoutError:
            self.fail("connection", started, f"nothing received for {STALL_SECONDS:.0f} s")
        except (OSError, StreamError, StreamFailure) as error:
            self.fail("connection", started, f"{type(error).__name__}: {error}")
        self.dropped_at = time.monotonic()

    def request_bytes(self, host: str) -> bytes:
        last = self.parser.last_event_id
        return (
            f"GET {STREAM_PATH}{self.shape.query} HTTP/1.1\r\nHost: {host}\r\n"
            "Accept: text/event-stream\r\n"
            + (f"Last-Event-ID: {last}\r\n" if last is not None else "")
            + "\r\n"
        ).encode("latin-1")

    def open(self, connection: socket.socket, host: str) -> bytes:
        """Send the request and check the response head; the body's bytes read with it."""
        connection.sendall(self.request_bytes(host))
        received = b""
        while b"\r\n\r\n" not in received:
            data = connection.recv(READ_SIZE)
            if not data:
                raise StreamFailure("closed before the response head")
            received += data
            if len(received) > MAX_HEAD:
                raise StreamError("response head too large")
        head_bytes, _, body = received.partition(b"\r\n\r\n")
        head = parse_head(head_bytes)
        if head.status != 200:
            raise StreamFailure(f"status {head.status}")
        if not head.chunked:
            raise StreamFailure("the stream's body is not chunked")
        if self.dropped_at is not None:
            self.report("reconnect", (time.monotonic() - self.dropped_at) * 1000, 0)
        return body

    def follow(self, connection: socket.socket, body: bytes, started: float) -> None:
        """Decode and check events until the server ends or drops the stream (a replica
        killed, or restarted: then it is a reconnection, not a failure)."""
        decoder = ChunkedDecoder()
        self.parser.reconnected()
        first: float | None = started
        while not decoder.ended:
            for event in self.parser.feed(decoder.feed(body)):
                self.check(event, first)
                first = None
            try:
                body = connection.recv(READ_SIZE)
            except ConnectionError:
                return
            if not body:
                return

    def check(self, event: Event, connected: float | None) -> None:
        """Report one event: its lag behind the gateway's change, or, for the first event of a
        connection (the shape's "(first)" row), the time since connecting; and whatever is
        wrong with it."""
        problem = event_problems(
            event, self.previous_id, self.shape.directions, self.shape.exchanger
        )
        self.previous_id = event.id
        if connected is not None:
            name, took = f"{self.shape.name} (first)", (time.monotonic() - connected) * 1000
        else:
            # The gateway's clock is this machine's; a lag cannot be negative.
            name, took = self.shape.name, max(0.0, time.time() * 1000 - (event.changed_ms or 0))
        self.report(name, took, len(event.data), StreamFailure(problem) if problem else None)

    def fail(self, name: str, started: float, problem: str) -> None:
        """A failure of the connection, timed from ``started``."""
        took = (time.monotonic() - started) * 1000
        self.report(name, took, 0, StreamFailure(problem))

    def report(
        self, name: str, milliseconds: float, length: int, failure: Exception | None = None
    ) -> None:
        """One request in locust's statistics, of type ``SSE``."""
        self.environment.events.request.fire(
            request_type="SSE",
            name=name,
            response_time=milliseconds,
            response_length=length,
            exception=failure,
            context={},
        )


def save_entries(environment: Environment, runner: Runner, **_kwargs: object) -> None:
    """With ``--csv PREFIX``, every entry's statistics, histograms included, written to
    ``PREFIX_entries.json`` when locust quits: ``loadtest.run`` sums them into REST and SSE
    figures apart (the CSV's "Aggregated" row mixes the two, and its percentiles cannot be
    merged)."""
    prefix = getattr(environment.parsed_options, "csv_prefix", None)
    if not prefix or isinstance(runner, WorkerRunner):
        return

    def save(**_quit: object) -> None:
        entries = [entry.serialize() for entry in environment.stats.entries.values()]
        with open(f"{prefix}_entries.json", "w", encoding="utf-8") as file:
            json.dump(entries, file)

    # locust's EventHook.add_listener has no annotations.
    environment.events.quit.add_listener(save)  # type: ignore[no-untyped-call]


events.init.add_listener(save_entries)  # type: ignore[no-untyped-call]
