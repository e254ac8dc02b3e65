"""The locustfile's streamers: none unless asked for, exactly as many as asked for; against a
scripted stream they reconnect with ``Last-Event-ID`` after the server's ``retry:`` and count a
repeated event as a failure; against the demo stack every shape gets its events, with none
failing, through a replica's death."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from harness.procs import ProcessGroup, wait_for
from harness.stack import Demo, remove_private_cluster, start_demo
from tests.loadtest import headless
from tests.loadtest.test_locustfile import GOOD

#: How many users of each class locust's own dispatcher starts: the classes locust finds in the
#: locustfile, in the Environment that drops the ones that must not run, for 21 users.
DISPATCH = """
import json, sys
sys.path.insert(0, sys.argv[1])
from locust.dispatch import UsersDispatcher
from locust.env import Environment
from locust.runners import WorkerNode
from locust.util.load_locustfile import load_locustfile
classes, _ = load_locustfile(sys.argv[1] + "/locustfile.py")
environment = Environment(user_classes=list(classes.values()))
dispatcher = UsersDispatcher([WorkerNode("w")], environment.user_classes)
dispatcher.new_dispatch(target_user_count=int(sys.argv[2]), spawn_rate=100)
print(json.dumps(next(dispatcher)["w"]))
"""


def dispatched(users: int, streamers: str | None) -> dict[str, int]:
    """Users per class for ``users``, with ``LOADTEST_STREAMERS`` unset (None) or set."""
    env = {"LOADTEST_STREAMERS": streamers} if streamers is not None else {}
    answer = subprocess.run(
        [sys.executable, "-c", DISPATCH, str(headless.LOCUSTFILE.parent), str(users)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    counts: dict[str, int] = json.loads(answer.stdout)
    return counts


@pytest.mark.parametrize("streamers", [None, "0"])
def test_no_streamer_runs_unless_asked_for(streamers):
    counts = dispatched(21, streamers)
    assert counts.get("Streamer", 0) == 0
    assert sum(counts.values()) == 21


def test_streamers_gives_exactly_that_many_besides_the_users():
    counts = dispatched(21 + 3, "3")
    assert counts["Streamer"] == 3
    assert sum(counts.values()) - counts["Streamer"] == 21


HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def event(tag: str) -> bytes:
    changed = b"%.1f" % (time.time() * 1000)
    body = json.dumps(GOOD, separators=(",", ":")).encode()
    return chunk(
        b": changed %s\nevent: courses\nid: %s\ndata: %s\n\n" % (changed, tag.encode(), body)
    )


class ScriptedStream:
    """A stream server on 127.0.0.1 answering its Nth connection with ``scripts[N]``: it closes
    all but the last one after its script, and holds the last one open. The request heads it
    received are kept."""

    def __init__(self, scripts: list[bytes]) -> None:
        self.scripts = scripts
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.requests: list[bytes] = []
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        """Each connection in turn: read its request head, send its script."""
        for number, script in enumerate(self.scripts):
            try:
                connection, _ = self.server.accept()
            except OSError:  # closed: the test is over
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += connection.recv(4096)
            self.requests.append(head)
            connection.sendall(script)
            if number < len(self.scripts) - 1:
                connection.close()
            else:
                self.held.append(connection)

    def close(self) -> None:
        self.server.close()
        for connection in self.held:
            connection.close()
        self.thread.join(5)


@pytest.fixture(name="scripted")
def scripted_fixture() -> Iterator[ScriptedStream]:
    """The first connection: the retry, one event, closed. The second: that event again (a
    duplicate), then a new one, held open."""
    server = ScriptedStream(
        [
            HEAD + chunk(b"retry: 200\n\n") + event('"first"'),
            HEAD + event('"first"') + event('"second"'),
        ]
    )
    yield server
    server.close()


def test_a_dropped_stream_is_resumed_and_a_repeated_event_is_a_failure(
    procs: ProcessGroup, tmp_path: Path, scripted: ScriptedStream
):
    run = headless.start(
        procs, f"http://127.0.0.1:{scripted.port}", tmp_path / "s", 3, 1, LOADTEST_STREAMERS="1"
    )
    started = time.monotonic()
    assert run.finish() == 1  # locust's status when a request failed
    # Stopped with the run (its task never ends by itself), not after --stop-timeout.
    assert time.monotonic() - started < 3 + 10
    assert len(scripted.requests) == 2
    assert b'\r\nLast-Event-ID: "first"\r\n' in scripted.requests[1]
    assert b"Last-Event-ID" not in scripted.requests[0]
    rows = run.rows()
    first = rows["stream (first)"]
    assert (first["Request Count"], first["Failure Count"]) == ("2", "1")
    assert "duplicate" in run.failures()
    assert (rows["stream"]["Request Count"], rows["stream"]["Failure Count"]) == ("1", "0")
    assert rows["reconnect"]["Request Count"] == "1"
    # After the server's retry (200 ms), not locust's default of none.
    assert float(rows["reconnect"]["Min Response Time"]) >= 200


#: The locustfile's shapes' names, CoinGecko's last.
SHAPES = (
    "stream",
    "stream?base=BTC",
    "stream?quote=RUB",
    "stream?direction=ETH-USD,USDTTRC-RUB",
    "stream?exchanger=coingecko",
)


@pytest.mark.live
def test_against_the_stack_every_shape_streams_through_a_replicas_death(
    procs: ProcessGroup, tmp_path: Path
):
    demo = start_demo(procs, tmp_path / "run", LOG_LEVEL="WARNING")
    try:
        run = headless.start(procs, demo.api, tmp_path / "streams", 25, 10, LOADTEST_STREAMERS="10")
        # Once the streams are open (HAProxy spreads them over both replicas), kill one.
        wait_for(lambda: open_streams(demo) >= 10, 20, what="10 streams open")
        subprocess.run(["kill", "-9", str(demo.pid("gateway-1"))], check=True)
        assert run.finish() == 0
        rows = run.rows()
    finally:
        demo.process.stop()
        remove_private_cluster(tmp_path / "run")
    print(json.dumps({name: row["Request Count"] for name, row in rows.items()}))
    # Two streamers a shape: each got its first event on every shape...
    for shape in SHAPES:
        assert int(rows[f"{shape} (first)"]["Request Count"]) >= 2, shape
    # ...and changes, but on CoinGecko's alone (polled every 10 s in the demo: a change or
    # none in the window).
    for shape in SHAPES[:-1]:
        assert int(rows[shape]["Request Count"]) > 0, shape
    # The killed replica's streams came back (on the other one), and nothing failed.
    assert int(rows["reconnect"]["Request Count"]) > 0
    assert int(rows["Aggregated"]["Failure Count"]) == 0


def open_streams(demo: Demo) -> int:
    """Streams both replicas hold, from their metrics."""
    total = 0.0
    for port in demo.gateway_ports:
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        total += sum(
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("rates_streams_open")
        )
    return int(total)
