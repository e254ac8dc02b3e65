"""``python -m gateway``: one replica on GATEWAY_HOST:GATEWAY_PORT, uvloop and httptools."""

from __future__ import annotations

from common.settings import load_settings
from gateway.app import create_app
from gateway.server import DrainingServer, uvicorn_config
from gateway.settings import GatewaySettings


def main() -> None:
    """Serve until SIGINT or SIGTERM (after draining for GATEWAY_DRAIN_SECONDS)."""
    settings = load_settings(GatewaySettings)
    settings.setup_logging("gateway")
    app = create_app(settings)
    config = uvicorn_config(app, settings.gateway_host, settings.gateway_port)
    DrainingServer(config, settings.gateway_drain_seconds, app.state.gateway.drain).run()


if __name__ == "__main__":
    main()
