"""Turning priced courses into response bytes, once per change of the book.

A :class:`Snapshot` holds the courses of one moment for every exchanger filter. Each query
shape asked of it is rendered once (body, tag, headers) and kept until the next snapshot, so the
hot path only looks things up.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import msgspec

from common.markets import BINANCE, COINGECKO
from gateway.etag import etag_of
from gateway.pricing import Course, Pricing
from gateway.query import Shape
from gateway.recipes import EXCHANGERS

_json = msgspec.json.Encoder(decimal_format="number")
JSON = b"application/json"


def iso_ms(epoch_ms: int) -> str:
    """``2026-11-24T10:00:00.123Z``."""
    seconds, millis = divmod(epoch_ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"


def course_json(course: Course) -> dict:
    """One course as the API shows it; ``via`` only for cross rates."""
    entry = {
        "direction": course.direction,
        "value": course.value,
        "exchanger": course.exchanger,
        "updated_at": iso_ms(course.updated_at),
        "stale": course.stale,
    }
    if course.via:
        entry["via"] = list(course.via)
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


def render_error(status: int, detail: str, extra: tuple[tuple[bytes, bytes], ...] = ()):
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
    etag = etag_of(body)
    headers = _headers(etag, cache_control, body)
    not_modified = ((b"etag", etag.encode()), (b"cache-control", cache_control))
    return Rendered(200, body, etag, headers, not_modified)


@dataclass(slots=True)
class Snapshot:
    """The courses at one moment, per exchanger filter, and what was rendered from them."""

    pricings: dict[str | None, Pricing]
    cache_control: bytes
    retry_after: int = 1
    rendered: dict[Shape, Rendered] = field(default_factory=dict)

    def answer(self, shape: Shape) -> Rendered:
        """The rendered answer for ``shape``: built on first use, then reused."""
        rendered = self.rendered.get(shape)
        if rendered is None:
            rendered = self.rendered[shape] = self._render(shape)
        return rendered

    def _render(self, shape: Shape) -> Rendered:
        by_direction = {
            course.direction: course
            for course in self.pricings[shape.exchanger].courses
            if course is not None
        }
        courses = [by_direction[d] for d in shape.directions if d in by_direction]
        if not courses and shape.directions:
            asked = ", ".join(shape.directions)
            where = f" from {shape.exchanger}" if shape.exchanger else ""
            return render_error(
                503,
                f"no rate known yet for {asked}{where}; retry shortly",
                ((b"retry-after", str(self.retry_after).encode()),),
            )
        return render_courses(courses, shape.exchanger, self.cache_control)

    def same_courses(self, other: Snapshot | None) -> bool:
        return other is not None and all(
            self.pricings[name].courses == other.pricings[name].courses for name in self.pricings
        )


FILTERS: tuple[str | None, ...] = (None, BINANCE, COINGECKO)
