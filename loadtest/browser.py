"""Screenshots with headless Chromium (Debian's package), driven over the DevTools protocol with
the websockets client the project already has: no browser download, no extra dependency."""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from websockets.sync.client import connect

from harness.procs import wait_for

#: What a machine with no internet needs for Chromium to start quietly and quickly.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class Browser:
    """One headless Chromium and one page in it."""

    def __init__(self, width: int = 1440, height: int = 1000, flags: tuple[str, ...] = ()) -> None:
        chromium = shutil.which("chromium")
        if chromium is None:
            raise SystemExit("chromium is not installed: run `make install`")
        self._profile = tempfile.mkdtemp(prefix="chromium-")
        self._process = subprocess.Popen(  # pylint: disable=consider-using-with
            [
                chromium,
                *FLAGS,
                *flags,
                "--remote-debugging-port=0",  # it writes the port it chose to DevToolsActivePort
                f"--user-data-dir={self._profile}",
            ]
            + [f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port = wait_for(self._devtools_port, 20, what="chromium's DevTools port")
        devtools = f"http://127.0.0.1:{port}"
        pages = wait_for(lambda: self._pages(devtools), 20, what="chromium's DevTools")
        # DevTools does not answer websocket pings; the connection is local and short-lived.
        self._resources = contextlib.ExitStack()
        self._ws = self._resources.enter_context(
            connect(pages[0]["webSocketDebuggerUrl"], max_size=64 * 2**20, ping_interval=None)
        )
        self._ids = itertools.count(1)
        #: DevTools events (``Network.requestWillBeSent``, ...) received so far, in order
        self.events: list[dict[str, Any]] = []
        self.call("Page.enable")
        self.call("Network.enable")
        self.resize(width, height)

    def _devtools_port(self) -> int | None:
        try:
            return int((Path(self._profile) / "DevToolsActivePort").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    @staticmethod
    def _pages(devtools: str) -> list[dict[str, Any]]:
        try:
            targets = httpx.get(f"{devtools}/json/list", timeout=1).json()
        except httpx.HTTPError:
            return []
        return [t for t in targets if t.get("type") == "page"]

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result (events in between go to :attr:`events`)."""
        number = next(self._ids)
        self._ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(self._ws.recv(timeout=60))
            if message.get("id") == number:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result
            if "method" in message:
                self.events.append(message)

    def resize(self, width: int, height: int) -> None:
        """The page's viewport, in CSS pixels."""
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def open(self, url: str, headers: dict[str, str] | None = None, settle: float = 2.0) -> None:
        """Load ``url`` (with extra request headers) and give it ``settle`` seconds to draw."""
        self.call("Network.setExtraHTTPHeaders", headers=headers or {})
        self.call("Page.navigate", url=url)
        time.sleep(settle)

    def screenshot(self, path: Path) -> None:
        """The page as it looks now, as a PNG."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        path.write_bytes(base64.b64decode(data))

    def close(self) -> None:
        self._resources.close()
        self._process.terminate()
        self._process.wait(10)
        shutil.rmtree(self._profile, ignore_errors=True)


def basic_auth(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}
