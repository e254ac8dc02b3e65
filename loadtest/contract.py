"""The rates API's contract as a client checks it: what a right answer looks like.

Kept apart from the locustfile so it can be tested without importing locust (which patches the
standard library with gevent on import). The load test reads it as ``contract``: locust puts the
locustfile's folder on the import path, here and in locust's own image.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, Protocol

DIRECTIONS = (
    "BTC-USD",
    "BTC-RUB",
    "ETH-USD",
    "ETH-RUB",
    "USDTTRC-USD",
    "USDTTRC-RUB",
    "USDTERC-USD",
    "USDTERC-RUB",
)
EXCHANGERS = ("binance", "coingecko")
ETAG = re.compile(r'^"[A-Za-z0-9_-]+"$')
#: What a course holds: every field always, but ``via`` (on cross rates only) and
#: ``deviation`` (while both sources are fresh).
COURSE_FIELDS = (
    "direction",
    "value",
    "exchanger",
    "updated_at",
    "stale",
    "via",
    "legs",
    "deviation",
    "disputed",
)
OPTIONAL_FIELDS = ("via", "deviation")


def _course_problems(course: dict[str, Any], exchanger: str | None) -> Iterator[str]:
    direction = course.get("direction")
    missing = [f for f in COURSE_FIELDS if f not in course and f not in OPTIONAL_FIELDS]
    unknown = [field for field in course if field not in COURSE_FIELDS]
    if missing or unknown:
        yield f"fields missing {missing} or unknown {unknown} in {direction}"
    value = course.get("value")
    if not isinstance(value, float) or value <= 0:
        yield f"bad value {value!r} for {direction}"
    if course.get("exchanger") not in EXCHANGERS or (
        exchanger is not None and course["exchanger"] != exchanger
    ):
        yield f"bad exchanger {course.get('exchanger')!r} for {direction}"
    if not isinstance(course.get("stale"), bool) or not isinstance(course.get("updated_at"), str):
        yield f"no stale flag or updated_at for {direction}"
    if not isinstance(course.get("disputed"), bool) or not course.get("legs"):
        yield f"no disputed flag or legs for {direction}"
    via = course.get("via", ["binance"])
    if not via or any(leg not in EXCHANGERS for leg in via):
        yield f"bad via {via!r} for {direction}"


class Answer(Protocol):
    """What the checks read of a response: locust's, or a stand-in."""

    @property
    def headers(self) -> Mapping[str, str] | None: ...

    def json(self) -> Any: ...


def _problems(
    response: Answer, directions: tuple[str, ...], exchanger: str | None
) -> Iterator[str]:
    headers = response.headers or {}
    tag = headers.get("etag", "")
    if not ETAG.match(tag):
        yield f"bad ETag {tag!r}"
    if "max-age" not in headers.get("cache-control", ""):
        yield "no Cache-Control max-age"
    yield from _body_problems(response.json(), directions, exchanger)


def _body_problems(body: Any, directions: tuple[str, ...], exchanger: str | None) -> Iterator[str]:
    """What is wrong with an answer's body, the GET's or a stream event's ``data``."""
    if not isinstance(body, dict):
        yield f"not a JSON object: {body!r:.80}"
        return
    courses = body.get("courses", [])
    # With no course (filters that exclude each other), the exchanger asked for, or null.
    top = body.get("exchanger")
    if top not in EXCHANGERS and not (top is None and not courses and exchanger is None):
        yield f"bad top-level exchanger {top!r}"
    if tuple(course.get("direction") for course in courses) != directions:
        yield f"directions {[c.get('direction') for c in courses]} instead of {directions}"
    for course in courses:
        yield from _course_problems(course, exchanger)


def problems(response: Answer, directions: tuple[str, ...], exchanger: str | None = None) -> str:
    """What is wrong with a 200 answer, or "" when it is right."""
    return next(_problems(response, directions, exchanger), "")


class StreamEvent(Protocol):
    """What the checks read of a courses stream's event (``event_stream.Event``)."""

    @property
    def type(self) -> str: ...

    @property
    def id(self) -> str | None: ...

    @property
    def data(self) -> str: ...

    @property
    def changed_ms(self) -> float | None: ...


def _event_problems(
    event: StreamEvent, previous_id: str | None, directions: tuple[str, ...], exchanger: str | None
) -> Iterator[str]:
    if event.type != "courses":
        yield f"event type {event.type!r}"
    if event.id is None or not ETAG.match(event.id):
        yield f"bad id {event.id!r}"
    elif event.id == previous_id:
        yield f"id {event.id} repeated: a duplicate event"
    if event.changed_ms is None:
        yield "no ': changed' time"
    try:
        body = json.loads(event.data)
    except ValueError:
        yield f"data not JSON: {event.data!r:.80}"
        return
    yield from _body_problems(body, directions, exchanger)


def event_problems(
    event: StreamEvent,
    previous_id: str | None,
    directions: tuple[str, ...],
    exchanger: str | None = None,
) -> str:
    """What is wrong with a courses stream's event, given the id of the event before it (the
    last one the client had, across reconnections), or "" when it is right."""
    return next(_event_problems(event, previous_id, directions, exchanger), "")
