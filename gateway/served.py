"""Recording what the API served: which courses become rows of the ``served`` table, and when.

A course is recorded when it differs from the last one recorded for its direction (its value,
exchanger, freshness, ``via`` or ``disputed``; not merely a newer ``updated_at`` or a leg's
price that left the value as it was), at most once per second:

* the first change within a second is recorded at once, with that second;
* changes after it within the same second wait: the next :meth:`ServedRecorder.due` in a later
  second records the course then held, with that later second (it was still being served).

So a value changing all the time costs one row per second, and a change of source is recorded
within a second (one reverted within the same second is not). Every replica serves the same
courses and records the same seconds, mostly: the table's key (direction, second) keeps the
first row written for each, whoever wrote it.

Pure: callers pass the time. :func:`run_recording` drives it on a one-second clock.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping

from common.wire import now_ms
from gateway import history_table
from gateway.pricing import Course, Pricing
from gateway.writer import BatchWriter

#: What makes a course a different one to record.
Identity = tuple[object, ...]


def identity(course: Course) -> Identity:
    return (course.value, course.exchanger, course.stale, course.via, course.disputed)


def row_of(course: Course, second: int) -> history_table.Row:
    return (
        second,
        course.updated_at,
        history_table.DIRECTION_IDS[course.direction],
        history_table.EXCHANGER_IDS[course.exchanger],
        course.stale,
        course.disputed,
        str(course.value),
        history_table.via_mask(course.via),
    )


class ServedRecorder:
    """Holds the courses being served and decides which to record."""

    def __init__(self) -> None:
        #: direction -> the course served now
        self._current: dict[str, Course] = {}
        #: direction -> (identity, second) of the last course recorded
        self._recorded: dict[str, tuple[Identity, int]] = {}

    def observe(self, courses: Iterable[Course | None]) -> None:
        """The courses served from now on (None: nothing for that direction)."""
        for course in courses:
            if course is not None:
                self._current[course.direction] = course

    def due(self, at_ms: int) -> list[history_table.Row]:
        """The rows to record at ``at_ms``: each direction whose course changed since it was
        last recorded, unless that was within the same second."""
        second = at_ms // 1000
        rows = []
        for direction, course in self._current.items():
            recorded = self._recorded.get(direction)
            key = identity(course)
            if recorded is not None and (recorded[0] == key or recorded[1] >= second):
                continue
            self._recorded[direction] = (key, second)
            rows.append(row_of(course, second))
        return rows


class ServedWriter(BatchWriter[history_table.Row]):
    """The served values' writer: a batch is stored and folded into the candles at once."""

    what = ("served values", "served value")

    def describe(self, row: history_table.Row) -> str:
        return f"direction {row[2]} at {row[0]} s: {row[6]} from exchanger {row[3]}"


class Recording:
    """Wires a recorder to the pricings and to a writer: the rates' listener records the first
    change of a second at once, :meth:`run` records the rest at each second's turn."""

    def __init__(self, writer: ServedWriter, clock: Callable[[], int] = now_ms) -> None:
        self.recorder = ServedRecorder()
        self.writer = writer
        self._clock = clock

    def on_pricings(self, pricings: Mapping[str | None, Pricing]) -> None:
        """A listener for ``Rates.on_change``: what the unfiltered courses serve."""
        self.recorder.observe(pricings[None].courses)
        self._record()

    def _record(self) -> None:
        for row in self.recorder.due(self._clock()):
            self.writer.stats.submitted += 1
            self.writer.append(row)

    async def run(self) -> None:
        """Record what waits at the start of every second, until cancelled."""
        while True:
            await asyncio.sleep(1.0 - (self._clock() % 1000) / 1000 + 0.001)
            self._record()
