"""The reference for the gateway's throughput: the least a FastAPI app can do to answer with
the same bytes, on the same server settings.

``python -m bench.reference_app BODY_FILE ETAG PORT``
"""

from __future__ import annotations

import sys
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from starlette.responses import Response

from gateway.server import uvicorn_config


def reference_app(body: bytes, etag: str) -> FastAPI:
    """``GET /api/v1/courses``: the fixed body, or 304 when ``If-None-Match`` is its tag."""
    app = FastAPI()
    headers = {"etag": etag, "cache-control": "public, max-age=1"}

    @app.get("/api/v1/courses")
    async def courses(request: Request) -> Response:
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers=headers)
        return Response(content=body, media_type="application/json", headers=headers)

    return app


def main() -> None:
    """Serve the reference app until interrupted."""
    body_file, etag, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    app = reference_app(Path(body_file).read_bytes(), etag)
    uvicorn.Server(uvicorn_config(app, "127.0.0.1", port)).run()


if __name__ == "__main__":
    main()
