"""Bad payloads for the ``malformed`` fault, in a fixed rotation so tests know what comes.

Each kind is something a real feed has been seen to send, or that a parser must survive:

* ``truncated``: the good payload cut in half (invalid JSON);
* ``wrong-types``: the good payload with every decimal string turned into a number and every
  number into a string;
* ``unknown-event``: a well-formed event of a type nobody subscribed to;
* ``not-an-object``: valid JSON of the wrong shape;
* ``html``: an error page from a proxy, with status 200 (REST only).
"""

from __future__ import annotations

from typing import Any

import msgspec

FRAME_KINDS = ("truncated", "wrong-types", "unknown-event", "not-an-object")
BODY_KINDS = ("truncated", "wrong-types", "not-an-object", "html")

_HTML = b"<html><head><title>502 Bad Gateway</title></head><body>502 Bad Gateway</body></html>"


def flip_types(value: Any) -> Any:
    """Decimal strings become numbers and numbers become strings, all the way down."""
    if isinstance(value, dict):
        return {key: flip_types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [flip_types(item) for item in value]
    return _flip_scalar(value)


def _flip_scalar(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def bad_frame(count: int, good: bytes, event_time: int) -> tuple[str, bytes]:
    """The ``count``-th bad stream frame, derived from a good one; returns ``(kind, frame)``."""
    kind = FRAME_KINDS[count % len(FRAME_KINDS)]
    if kind == "truncated":
        return kind, good[: len(good) // 2]
    if kind == "wrong-types":
        return kind, msgspec.json.encode(flip_types(msgspec.json.decode(good)))
    if kind == "unknown-event":
        event = {"e": "simulatorMystery", "E": event_time, "x": 1}
        return kind, msgspec.json.encode({"stream": "!simulatorMystery", "data": event})
    return kind, b"[1,2,3]"


def bad_body(count: int, good: bytes) -> tuple[str, bytes, str]:
    """The ``count``-th bad REST body; returns ``(kind, body, content type)``."""
    kind = BODY_KINDS[count % len(BODY_KINDS)]
    if kind == "truncated":
        return kind, good[: len(good) // 2], "application/json"
    if kind == "wrong-types":
        return kind, msgspec.json.encode(flip_types(msgspec.json.decode(good))), "application/json"
    if kind == "not-an-object":
        return kind, b'"OK"', "application/json"
    return kind, _HTML, "text/html"
