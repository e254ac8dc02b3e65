from __future__ import annotations

from common.settings import MetricsSettings


class ForwarderSettings(MetricsSettings):
    """Where one forwarder listens. A second forwarder runs with its own pair of endpoints."""

    #: Feeders' PUB sockets connect here.
    forwarder_xsub_bind: str = "tcp://127.0.0.1:5555"
    #: Gateways' SUB sockets connect here.
    forwarder_xpub_bind: str = "tcp://127.0.0.1:5556"
