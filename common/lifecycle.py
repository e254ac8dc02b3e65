"""Stopping on SIGINT or SIGTERM: the one way every process waits for its stop signal, and
running a process's tasks until then."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: What asks a process to stop: Ctrl-C, and process managers (supervisord, Docker).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TaskDied(Exception):
    """A task that should run forever returned or raised."""


@contextmanager
def on_stop_signal(callback: Callable[[], None]) -> Iterator[None]:
    """Call ``callback`` on SIGINT or SIGTERM while the block runs (from the main thread).

    Inside a running event loop the loop's own signal handling is used, so ``callback`` runs in
    the loop (``asyncio.Event().set`` fits); outside one, plain signal handlers are installed
    (``threading.Event().set`` fits, for a process whose work runs in threads). Either way the
    previous handling is restored on exit.
    """
    try:
        loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    try:
        for signum in STOP_SIGNALS:
            if loop is not None:
                loop.add_signal_handler(signum, callback)
            else:
                signal.signal(signum, lambda *_: callback())
        yield
    finally:
        for signum, handler in previous.items():
            if loop is not None:
                loop.remove_signal_handler(signum)
            signal.signal(signum, handler)


async def run_until_signalled(tasks: dict[str, Coroutine[Any, Any, None]]) -> None:
    """Run ``tasks`` (by name) until SIGINT or SIGTERM, then cancel them and wait for them.

    A task that ends by itself is a bug or a fatal condition: it is logged at CRITICAL, the
    others are cancelled, and :class:`TaskDied` is raised so the process exits non-zero and its
    process manager restarts it.
    """
    stop = asyncio.Event()
    with on_stop_signal(stop.set):
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
