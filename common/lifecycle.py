"""Running a process's tasks until SIGINT or SIGTERM, and stopping them cleanly."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Coroutine
from typing import Any

log = logging.getLogger(__name__)


class TaskDied(Exception):
    """A task that should run forever returned or raised."""


async def run_until_signalled(tasks: dict[str, Coroutine[Any, Any, None]]) -> None:
    """Run ``tasks`` (by name) until SIGINT or SIGTERM, then cancel them and wait for them.

    A task that ends by itself is a bug or a fatal condition: it is logged at CRITICAL, the
    others are cancelled, and :class:`TaskDied` is raised so the process exits non-zero and its
    process manager restarts it.
    """
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = [asyncio.create_task(coro, name=name) for name, coro in tasks.items()]
    stopping = asyncio.create_task(stop.wait(), name="signal")
    try:
        done, _ = await asyncio.wait([*running, stopping], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is stopping:
                continue
            error = task.exception()
            log.critical("%s ended: %r", task.get_name(), error, exc_info=error)
            raise TaskDied(task.get_name())
    finally:
        for task in (*running, stopping):
            task.cancel()
        await asyncio.gather(*running, stopping, return_exceptions=True)
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
