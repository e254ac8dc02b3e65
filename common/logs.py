"""Logging setup for entry points, and the one policy every process follows.

Levels mean the same thing everywhere:

* ``CRITICAL``: the service cannot do its job and no automatic recovery is under way: every source
  for a direction is down, a process cannot start (invalid settings), data is being lost.
* ``ERROR``: an operation failed and will be retried, but an operator should look: a feeder's
  connection error, a database write that failed, ticks dropped past a buffer.
* ``WARNING``: degraded but handled: a source down and a failover to the next, a stalled stream
  reconnected, a 429 honoured, malformed messages dropped, a value served stale.
* ``INFO``: lifecycle: startup with the effective settings, connected, recovered, shutdown.
* ``DEBUG``: per-message detail: every tick, every heartbeat.

Libraries (every module but an entry point) only call ``logging.getLogger(__name__)``; the entry
point calls :func:`setup_logging` once. Output goes to stdout only, as text prefixed by the process
name (so a process manager's merged output stays readable) or as JSON lines.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import msgspec

TEXT_FORMAT = "%(asctime)s.%(msecs)03d %(levelname)-8s [%(service)s] %(name)s: %(message)s"
TEXT_DATEFMT = "%Y-%m-%dT%H:%M:%S"


class _ServiceFilter(logging.Filter):
    """Stamps every record with the process name."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, service, logger, message, exception."""

    _encoder = msgspec.json.Encoder()

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "service": getattr(record, "service", ""),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry).decode()


def setup_logging(level: str, json_lines: bool, service: str) -> None:
    """Send every logger's records at ``level`` and above to stdout, replacing prior handlers."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(_ServiceFilter(service))
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        formatter = logging.Formatter(TEXT_FORMAT, TEXT_DATEFMT)
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Third-party chatter at INFO (every HTTP request, every websocket frame) drowns ours.
    for noisy in ("websockets", "httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.getLogger().level, logging.WARNING))


class Throttle:
    """Lets one event through per ``interval`` seconds and counts the ones it held back.

    Used so that a flood (a thousand malformed frames) costs one log line per interval, with the
    count, rather than a thousand.
    """

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = 0.0
        self.suppressed = 0

    def held_back_if_due(self) -> int | None:
        """Whether this event may pass and, if so, how many were held back before it: ``None``
        while throttled (this event is held back too), else the count since the last one."""
        now = self._clock()
        if now < self._next:
            self.suppressed += 1
            return None
        self._next = now + self.interval
        held, self.suppressed = self.suppressed, 0
        return held
