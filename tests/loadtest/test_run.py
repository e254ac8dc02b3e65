"""make bench's report: what the faults did is counted from the load's start, not the stack's."""

from __future__ import annotations

from collections import Counter

from loadtest.run import SSE, WINDOW, fault_evidence, figures, stream_summary, windows

AT_START = (
    {
        "gateway-1 chkdown": 1.0,
        "gateway-1 wretr": 0.0,
        "gateway-1 wredis": 0.0,
        "gateway-2 chkdown": 1.0,
        "gateway-2 wretr": 0.0,
        "gateway-2 wredis": 0.0,
    },
    {"nothing -> binance (stale)": 8.0, "binance (stale) -> binance": 8.0},
)
AT_END = (
    {
        "gateway-1 chkdown": 2.0,
        "gateway-1 wretr": 3.0,
        "gateway-1 wredis": 171.0,
        "gateway-2 chkdown": 1.0,
        "gateway-2 wretr": 0.0,
        "gateway-2 wredis": 0.0,
    },
    {
        "nothing -> binance (stale)": 8.0,
        "binance (stale) -> binance": 8.0,
        "binance -> coingecko": 8.0,
        "coingecko -> binance": 8.0,
    },
)


def test_only_what_happened_under_load_is_reported():
    assert fault_evidence(AT_START, AT_END) == [
        "HAProxy: gateway-1 marked down 1 time(s), 3 retries, 171 redispatches",
        "HAProxy: gateway-2 marked down 0 time(s), 0 retries, 0 redispatches",
        "gateway-2's directions switched: binance -> coingecko: 8, coingecko -> binance: 8",
    ]


def test_a_quiet_run_says_so():
    assert fault_evidence(AT_START, AT_START)[-1] == "gateway-2's directions switched: never"


def entry(name: str, method: str, times: dict[int, int], failures: int = 0) -> dict[str, object]:
    """One of locust's entries as the locustfile saves it (JSON: string keys)."""
    count = sum(times.values())
    return {
        "name": name,
        "method": method,
        "num_requests": count,
        "num_failures": failures,
        "response_times": {str(ms): n for ms, n in times.items()},
        # all in one second, 1000.0 to 1010.0
        "num_reqs_per_sec": {"1000": count},
        "start_time": 1000.0,
        "last_request_timestamp": 1010.0,
    }


def test_the_rest_figures_leave_the_streams_out_and_merge_histograms():
    entries = [
        entry("/api/v1/courses (poll)", "GET", {5: 98, 40: 2}),
        entry("?base", "GET", {5: 99, 50: 1}, failures=1),
        entry("stream", "SSE", {900: 1000}),
    ]
    rest = figures((e for e in entries if e["method"] != SSE), ramp=0)
    assert (rest.requests, rest.failures, rest.rps) == (200, 1, 20.0)
    # Of the 200 merged times, 3 are above 5 ms: p99 is the third-largest (40), as locust says.
    assert (rest.p50, rest.p95, rest.p99) == (5.0, 5.0, 40.0)


def test_windows_are_whole_seconds_after_the_ramp():
    per_second = Counter({1000 + s: 10 for s in range(30)})
    per_second[1005] = 0  # a stall, inside the ramp-up: left out
    assert windows(per_second, ramp=6) == [10.0] * (30 - 7 - WINDOW)
    assert min(windows(per_second, ramp=0)) == 9.0


def test_the_streams_are_reported_apart_by_shape_with_their_lag():
    entries = [
        entry("/api/v1/courses (poll)", "GET", {5: 100}),
        entry("stream", "SSE", {20: 90, 300: 10}),
        entry("stream?base=BTC", "SSE", {30: 100}),
        entry("stream (first)", "SSE", {2: 5}),
        entry("stream?base=BTC (first)", "SSE", {3: 5}),
        entry("reconnect", "SSE", {1100: 4}),
        entry("connection", "SSE", {1: 1}, failures=1),
    ]
    report = stream_summary(entries, ramp=0)
    assert (
        "200 change events (stream 100, stream?base=BTC 100), 1 failed, 4 reconnections" in report
    )
    assert "20 events/s (after the ramp-up" in report
    assert "lag p50 30 ms, p99 300 ms; 10 first events, p50 3 ms" in report
