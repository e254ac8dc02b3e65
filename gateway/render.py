"""Turning priced courses into response bytes, once per change of the book.

:class:`Answers` holds the courses of the current moment for every exchanger filter. Each
selection (query shape) asked of it is rendered once (body, tag, headers) and kept until the
pricings change, so the hot path only looks things up. This is the one place answers are built.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import msgspec

from gateway.etag import etag_of
from gateway.pricing import Course, Pricing
from gateway.recipes import EXCHANGERS

_json = msgspec.json.Encoder(decimal_format="number")
JSON = b"application/json"


@functools.lru_cache(maxsize=1024)
def iso_ms(epoch_ms: int) -> str:
    """``2026-11-24T10:00:00.123Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def course_json(course: Course) -> dict[str, object]:
    """One course as the API shows it; ``via`` only for cross rates, ``deviation`` only when
    both sources are fresh."""
    entry: dict[str, object] = {
        "direction": course.direction,
        "value": course.value,
        "exchanger": course.exchanger,
        "updated_at": iso_ms(course.updated_at),
        "stale": course.stale,
    }
    if course.via:
        entry["via"] = list(course.via)
    entry["legs"] = [
        {
            "source": leg.source,
            "instrument": leg.instrument,
            "price": leg.price,
            "at": iso_ms(leg.at),
        }
        for leg in course.legs
    ]
    if course.deviation is not None:
        entry["deviation"] = course.deviation
    entry["disputed"] = course.disputed
    return entry


@dataclass(frozen=True, slots=True)
class Rendered:
    """A ready answer: status, body, and the raw headers of the 200 and of the 304."""

    status: int
    body: bytes
    etag: str
    headers: tuple[tuple[bytes, bytes], ...]
    not_modified_headers: tuple[tuple[bytes, bytes], ...]


def _headers(etag: str, cache_control: bytes, body: bytes) -> tuple[tuple[bytes, bytes], ...]:
    return (
        (b"content-type", JSON),
        (b"content-length", str(len(body)).encode()),
        (b"etag", etag.encode()),
        (b"cache-control", cache_control),
    )


def render_error(status: int, detail: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Rendered:
    """An error answer in FastAPI's ``{"detail": ...}`` shape, never cached by anyone."""
    body = _json.encode({"detail": detail})
    headers = (
        (b"content-type", JSON),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    )
    return Rendered(status, body, "", headers, headers)


def render_courses(
    courses: list[Course], exchanger_filter: str | None, cache_control: bytes
) -> Rendered:
    """The 200 answer for ``courses`` (in the fixed order; none when the query's filters
    exclude each other: the top-level exchanger is then the one asked for, or null)."""
    if exchanger_filter is not None:
        top: str | None = exchanger_filter
    else:
        sources = {course.exchanger for course in courses}
        top = next((name for name in EXCHANGERS if name in sources), None)
    body = _json.encode({"exchanger": top, "courses": [course_json(c) for c in courses]})
    return render_ok(body, cache_control)


def render_ok(body: bytes, cache_control: bytes) -> Rendered:
    """A 200 answer of JSON ``body``, tagged by its content (and its 304's headers)."""
    etag = etag_of(body)
    headers = _headers(etag, cache_control, body)
    not_modified = ((b"etag", etag.encode()), (b"cache-control", cache_control))
    return Rendered(200, body, etag, headers, not_modified)


class Selection(Protocol):
    """What one answer is for: directions in the fixed order, and an exchanger (None: any).

    Hashable: answers are kept per selection. The API's parsed query is one.
    """

    @property
    def directions(self) -> tuple[str, ...]: ...

    @property
    def exchanger(self) -> str | None: ...

    def __hash__(self) -> int: ...


class Answers:
    """The answers of the current pricings, per selection: each rendered (body, tag, headers)
    the first time it is asked after a change, then reused until the next change."""

    __slots__ = ("cache_control", "retry_after", "_pricings", "_rendered")

    def __init__(self, cache_max_age: int = 1, retry_after: int = 1) -> None:
        self.cache_control = f"public, max-age={cache_max_age}".encode()
        self.retry_after = retry_after
        self._pricings: Mapping[str | None, Pricing] = {}
        self._rendered: dict[Selection, Rendered] = {}

    def update(self, pricings: Mapping[str | None, Pricing]) -> None:
        """Answer from ``pricings`` (exchanger filter -> pricing) from now on."""
        self._pricings = pricings
        self._rendered = {}

    def answer(self, selection: Selection) -> Rendered:
        """The rendered answer for ``selection``: built on first use, then reused."""
        rendered = self._rendered.get(selection)
        if rendered is None:
            rendered = self._rendered[selection] = self._render(selection)
        return rendered

    def _render(self, selection: Selection) -> Rendered:
        pricing = self._pricings.get(selection.exchanger)
        by_direction = {
            course.direction: course
            for course in (pricing.courses if pricing is not None else ())
            if course is not None
        }
        courses = [by_direction[d] for d in selection.directions if d in by_direction]
        if not courses and selection.directions:
            asked = ", ".join(selection.directions)
            where = f" from {selection.exchanger}" if selection.exchanger else ""
            return render_error(
                503,
                f"no rate known yet for {asked}{where}; retry shortly",
                ((b"retry-after", str(self.retry_after).encode()),),
            )
        return render_courses(courses, selection.exchanger, self.cache_control)
