"""The rates API's contract as a client checks it: what a right answer looks like.

Kept apart from the locustfile so it can be tested without importing locust (which patches the
standard library with gevent on import). The load test reads it as ``contract``: locust puts the
locustfile's folder on the import path, here and in locust's own image.
"""

from __future__ import annotations

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
    body = response.json()
    if body.get("exchanger") not in EXCHANGERS:
        yield f"bad top-level exchanger {body.get('exchanger')!r}"
    courses = body.get("courses", [])
    if tuple(course.get("direction") for course in courses) != directions:
        yield f"directions {[c.get('direction') for c in courses]} instead of {directions}"
    for course in courses:
        value = course.get("value")
        if not isinstance(value, float) or value <= 0:
            yield f"bad value {value!r} for {course.get('direction')}"
        if course.get("exchanger") not in EXCHANGERS or (
            exchanger is not None and course["exchanger"] != exchanger
        ):
            yield f"bad exchanger {course.get('exchanger')!r} for {course['direction']}"
        if not isinstance(course.get("stale"), bool) or "updated_at" not in course:
            yield f"no stale flag or updated_at for {course['direction']}"


def problems(response: Answer, directions: tuple[str, ...], exchanger: str | None = None) -> str:
    """What is wrong with a 200 answer, or "" when it is right."""
    return next(_problems(response, directions, exchanger), "")
