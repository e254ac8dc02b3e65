"""``python -m gateway``: one replica on GATEWAY_HOST:GATEWAY_PORT, uvloop and httptools."""

from __future__ import annotations

import uvicorn

from common.settings import load_settings
from gateway.app import create_app
from gateway.server import uvicorn_config
from gateway.settings import GatewaySettings


def main() -> None:
    """Serve until SIGINT or SIGTERM."""
    settings = load_settings(GatewaySettings)
    settings.setup_logging("gateway")
    app = create_app(settings)
    uvicorn.Server(uvicorn_config(app, settings.gateway_host, settings.gateway_port)).run()


if __name__ == "__main__":
    main()
