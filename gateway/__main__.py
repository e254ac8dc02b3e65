"""``python -m gateway``: one replica on GATEWAY_HOST:GATEWAY_PORT, uvloop and httptools."""

from __future__ import annotations

import uvicorn

from common.settings import load_settings
from gateway.app import create_app
from gateway.settings import GatewaySettings


def main() -> None:
    """Serve until SIGINT or SIGTERM."""
    settings = load_settings(GatewaySettings)
    settings.setup_logging("gateway")
    config = uvicorn.Config(
        create_app(settings),
        host=settings.gateway_host,
        port=settings.gateway_port,
        loop="uvloop",
        http="httptools",
        lifespan="on",
        access_log=False,  # a log line per request would cost more than the request
        log_config=None,  # our handler, set up above
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
