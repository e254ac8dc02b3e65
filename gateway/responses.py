"""A Starlette response from bytes and headers rendered in advance."""

from __future__ import annotations

from functools import lru_cache

from starlette.responses import Response

from gateway.render import Rendered, render_error


class PrebuiltResponse(Response):
    """Sends a :class:`Rendered` answer as it is: no encoding, no header building."""

    # Response.__init__ renders the body and builds headers: exactly the work done in advance.
    def __init__(  # pylint: disable=super-init-not-called
        self, rendered: Rendered, not_modified: bool = False
    ) -> None:
        self.background = None
        if not_modified:
            self.status_code = 304
            self.body = b""
            self.raw_headers = list(rendered.not_modified_headers)
        else:
            self.status_code = rendered.status
            self.body = rendered.body
            # A copy: middleware may add headers, and the rendered tuple is shared.
            self.raw_headers = list(rendered.headers)


@lru_cache(maxsize=256)
def rejection(message: str) -> Rendered:
    """The 422 answer for an invalid query, rendered once per distinct message."""
    return render_error(422, message)
