"""``/docs`` in a real headless browser (Debian's Chromium) that can reach nothing but
127.0.0.1: the page renders the courses operation, and every request it made went to the
gateway itself."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import httpx
import pytest

from harness.procs import ProcessGroup, wait_for
from harness.stack import Gateway, start_forwarder, start_gateway
from loadtest.browser import Browser

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium: make install"),
]

#: Every host name but 127.0.0.1 fails to resolve: a page needing a CDN cannot render.
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"

SWAGGER_PATHS = (
    "Array.from(document.querySelectorAll('.opblock-summary-path'))"
    ".map(element => element.getAttribute('data-path'))"
)


@pytest.fixture(name="gateway")
def gateway_fixture(procs: ProcessGroup) -> Gateway:
    """A gateway process (no rates needed: the pages document the API)."""
    return start_gateway(procs, [start_forwarder(procs)])


@pytest.fixture(name="browser")
def browser_fixture() -> Iterator[Browser]:
    browser = Browser(flags=(OFFLINE,))
    yield browser
    browser.close()


def _evaluate(browser: Browser, expression: str):
    return browser.call("Runtime.evaluate", expression=expression, returnByValue=True)[
        "result"
    ].get("value")


def _requests(browser: Browser) -> list[str]:
    """Every URL the page asked for, but inline ``data:`` ones (ReDoc's icons): no network."""
    return [
        event["params"]["request"]["url"]
        for event in browser.events
        if event["method"] == "Network.requestWillBeSent"
        and not event["params"]["request"]["url"].startswith("data:")
    ]


def _failures(browser: Browser) -> list[dict[str, object]]:
    return [e["params"] for e in browser.events if e["method"] == "Network.loadingFailed"]


def test_swagger_ui_renders_the_courses_operation_offline(gateway: Gateway, browser: Browser):
    browser.call("Page.navigate", url=f"{gateway.url}/docs")

    def listed() -> list[str] | None:
        paths = _evaluate(browser, SWAGGER_PATHS) or []
        return paths if "/api/v1/courses" in paths else None

    paths = wait_for(listed, 30, interval=0.1, what="Swagger UI listing /api/v1/courses")
    assert "/courses" in paths
    requests = _requests(browser)
    assert f"{gateway.url}/docs/assets/swagger-ui-bundle.js" in requests
    assert f"{gateway.url}/openapi.json" in requests
    assert all(url.startswith(f"{gateway.url}/") for url in requests), requests
    assert not _failures(browser)


def test_redoc_is_not_served(gateway: Gateway):
    """Its page loads Redocly's logo from their CDN, whatever it is told."""
    assert httpx.get(f"{gateway.url}/redoc", timeout=5).status_code == 404
