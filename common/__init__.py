"""What every process shares: the wire, settings, logging setup, backoff and market names."""
