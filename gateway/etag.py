"""Entity tags: derived from the body's bytes, matched per RFC 9110.

The tag is a hash of the body alone, so every replica holding the same rates gives the same tag
and a client may poll any of them.
"""

from __future__ import annotations

import base64
import hashlib
import re

# An entity-tag is an optional W/ and a quoted string; etagc excludes only '"' (so a tag may
# hold commas), hence a scanner rather than a split on commas.
_ENTITY_TAG = re.compile(r'\s*(\*|(?:W/)?"[^"]*")\s*(?:,|$)')


def etag_of(body: bytes) -> str:
    """A strong entity tag for ``body``."""
    digest = hashlib.blake2b(body, digest_size=15).digest()
    return '"' + base64.urlsafe_b64encode(digest).decode() + '"'


def if_none_match_hits(header: str, etag: str) -> bool:
    """True when ``If-None-Match: header`` matches the current ``etag`` (answer 304).

    RFC 9110 section 13.1.2: ``*`` matches any current representation; otherwise the weak
    comparison applies (``W/"x"`` matches ``"x"``). A malformed header matches nothing.
    """
    if header == etag:  # what a poller sends back, verbatim: the common case, no parsing
        return True
    position = 0
    while position < len(header):
        match = _ENTITY_TAG.match(header, position)
        if match is None:
            return False
        tag = match.group(1)
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
        position = match.end()
    return False
