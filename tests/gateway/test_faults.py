"""The injected delay (gateway/faults.py): a slow replica on purpose, reachable only locally."""

from __future__ import annotations

import time

import httpx
import pytest

from gateway.app import create_app
from gateway.faults import CONTROL_PATH, MAX_DELAY_MS, is_loopback, parse_delay
from gateway.settings import GatewaySettings

LOCAL = ("127.0.0.1", 40000)
REMOTE = ("10.1.2.3", 40000)


def client(fault_injection: bool, peer: tuple[str, int] = LOCAL) -> httpx.AsyncClient:
    """A client of an app (lifespan not started: /healthz needs none) seen from ``peer``."""
    app = create_app(GatewaySettings(gateway_fault_injection=fault_injection))
    transport = httpx.ASGITransport(app=app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://gw")


def test_only_loopback_addresses_are_local():
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("127.0.0.9")
    assert not is_loopback("10.1.2.3") and not is_loopback("172.18.0.5")
    assert not is_loopback(None) and not is_loopback("testclient")


@pytest.mark.parametrize(
    "body", [None, [], {}, {"milliseconds": -1}, {"milliseconds": MAX_DELAY_MS + 1}]
)
def test_a_delay_must_be_a_bounded_whole_number_of_milliseconds(body):
    assert isinstance(parse_delay(body), str)


@pytest.mark.parametrize("body", [{"milliseconds": True}, {"milliseconds": 1.5}])
def test_a_delay_is_not_a_boolean_or_a_fraction(body):
    assert isinstance(parse_delay(body), str)


def test_a_valid_delay_is_read():
    assert parse_delay({"milliseconds": 0}) == 0
    assert parse_delay({"milliseconds": 250}) == 250


async def test_without_the_setting_there_is_no_control_route():
    async with client(fault_injection=False) as http:
        assert (await http.put(CONTROL_PATH, json={"milliseconds": 100})).status_code == 404


async def test_a_delay_slows_every_request_until_it_is_set_back_to_zero():
    async with client(fault_injection=True) as http:
        assert (await http.get(CONTROL_PATH)).json() == {"milliseconds": 0}
        answer = await http.put(CONTROL_PATH, json={"milliseconds": 300})
        assert answer.status_code == 200 and answer.json() == {"milliseconds": 300}
        for path in ("/healthz", "/readyz"):
            started = time.monotonic()
            await http.get(path)
            assert time.monotonic() - started >= 0.3
        # The control route itself is never delayed (it would be slow to undo).
        assert (await http.put(CONTROL_PATH, json={"milliseconds": 0})).status_code == 200
        assert (await http.get(CONTROL_PATH)).json() == {"milliseconds": 0}


async def test_a_bad_delay_is_refused_and_changes_nothing():
    async with client(fault_injection=True) as http:
        answer = await http.put(CONTROL_PATH, content=b"not json")
        assert answer.status_code == 422
        answer = await http.put(CONTROL_PATH, json={"milliseconds": "lots"})
        assert answer.status_code == 422
        assert (await http.get(CONTROL_PATH)).json() == {"milliseconds": 0}


async def test_only_local_clients_may_set_a_delay():
    async with client(fault_injection=True, peer=REMOTE) as http:
        assert (await http.put(CONTROL_PATH, json={"milliseconds": 100})).status_code == 404
        assert (await http.get(CONTROL_PATH)).status_code == 404
