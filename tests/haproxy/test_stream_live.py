"""The courses stream through HAProxy in front of the native stack (``make demo``): routed to
the replicas' stream servers unbuffered and uncached, and a replica that dies only makes its
clients reconnect to the other one."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from harness.procs import wait_for
from harness.stack import Demo

# The demo stack, shared by the module (a stack of its own: the fixture is module-scoped).
from tests.haproxy.test_haproxy_live import demo_fixture  # pylint: disable=unused-import
from tests.sse import ended, open_stream

pytestmark = pytest.mark.live
STREAM = "/api/v1/courses/stream"


def open_streams(demo: Demo, replicas: tuple[int, ...] = (0, 1)) -> list[int]:
    """Each replica's open streams, from its own metrics."""
    counts = []
    for port in (demo.gateway_ports[index] for index in replicas):
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
        (line,) = [line for line in text.splitlines() if line.startswith("rates_streams_open ")]
        counts.append(int(float(line.split()[1])))
    return counts


def test_the_stream_goes_through_haproxy_unbuffered_and_uncached(demo: Demo):
    with open_stream(f"{demo.api}{STREAM}") as stream:
        response = stream.response
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-store"
        assert "x-cache" not in response.headers  # the cache is never asked
        blocks = stream.blocks()
        assert next(blocks).fields == {"retry": "1000"}
        events = stream.events()
        first = next(events)
        assert len(json.loads(first.fields["data"])["courses"]) == 8
        # Changes arrive while the response is still open: nothing holds them back. The
        # comment's change time is this machine's clock, so the lag is real (bounded loosely:
        # the machine is shared).
        tags = {first.fields["id"]}
        while len(tags) < 3:
            event = next(events)
            assert event.fields["id"] not in tags
            tags.add(event.fields["id"])
            changed = float(event.fields[":"].removeprefix("changed "))
            assert 0 <= event.received_ms - changed < 2000
    # Ordinary requests still go through the cache.
    assert "x-cache" in httpx.get(f"{demo.api}/api/v1/courses", timeout=5).headers


def test_a_dead_replica_drops_its_streams_and_clients_reconnect_to_the_other(demo: Demo):
    url = f"{demo.api}{STREAM}"
    wait_for(lambda: open_streams(demo) == [0, 0], 10, what="earlier streams closed")
    with open_stream(url) as one, open_stream(url) as two:
        first = [next(s.events()).fields["id"] for s in (one, two)]
        assert open_streams(demo) == [1, 1]  # leastconn: one on each replica
        demo.ctl("stop", "gateway-1")
        stopped_ms = time.time() * 1000
        try:
            assert sorted([ended(one, stopped_ms), ended(two, stopped_ms)]) == [False, True]
            # The dropped client reconnects (a browser after retry:, 1 s) with its last tag,
            # and lands on the survivor at once (a refused connection is retried there), which
            # answers with the current courses straight away.
            started = time.monotonic()
            with open_stream(url, last_event_id=first[0]) as again:
                assert again.response.status_code == 200
                assert next(again.events()).fields["data"]
                assert time.monotonic() - started < 1.0
                assert open_streams(demo, (1,)) == [2]
        finally:
            demo.ctl("start", "gateway-1")
