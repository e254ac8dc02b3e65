"""make bench's report: what the faults did is counted from the load's start, not the stack's."""

from __future__ import annotations

from loadtest.run import fault_evidence

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
