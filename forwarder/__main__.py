"""``python -m forwarder``: run one XSUB/XPUB forwarder until SIGINT or SIGTERM."""

from __future__ import annotations

import logging
import threading

from prometheus_client import CollectorRegistry

from common.lifecycle import on_stop_signal
from common.metrics import serve_metrics
from common.settings import load_settings
from forwarder.metrics import ForwarderCollector
from forwarder.proxy import Forwarder
from forwarder.settings import ForwarderSettings

log = logging.getLogger("forwarder")


def main() -> None:
    """Forward until SIGINT or SIGTERM."""
    settings = load_settings(ForwarderSettings)
    settings.setup_logging("forwarder")
    stop = threading.Event()
    with on_stop_signal(stop.set):
        forwarder = Forwarder(settings.forwarder_xsub_bind, settings.forwarder_xpub_bind)
        try:
            forwarder.start()
        except Exception as error:  # pylint: disable=broad-exception-caught
            log.critical(
                "cannot bind %s / %s: %s",
                settings.forwarder_xsub_bind,
                settings.forwarder_xpub_bind,
                error,
            )
            raise SystemExit(1) from None
        assert forwarder.bound is not None  # start() binds both or raises
        log.info("forwarding %s (XSUB) -> %s (XPUB)", *forwarder.bound)
        registry = CollectorRegistry()
        registry.register(ForwarderCollector(forwarder))
        serve_metrics(registry, settings.metrics_host, settings.metrics_port)
        stop.wait()
    log.info("stopping")
    forwarder.stop()


if __name__ == "__main__":
    main()
