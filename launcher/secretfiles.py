"""``python -m launcher.secretfiles DIR``: the deployment's secrets as files, made up on the
first start and kept.

Docker Compose runs this once before anything that needs a secret (its ``secrets`` service).
Each secret is a file in a folder of its own under DIR, which Compose backs with a volume that
only the services using that secret mount:

    DIR/postgres/password         POSTGRES_PASSWORD        postgres, dbmate, the gateways
    DIR/haproxy/stats_password    HAPROXY_STATS_PASSWORD   haproxy
    DIR/grafana/admin_password    GRAFANA_ADMIN_PASSWORD   grafana

A value given in the environment (from ``.env``) is written to the file; otherwise the file
already there is kept; otherwise a random one is written. Values are never printed.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import ServiceSettings, load_settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Secret:
    """One secret: its file under the secrets folder and the variable that may set it."""

    path: str
    variable: str
    #: 0o400 where only root and this image's user read it; 0o444 where another image's
    #: user must (the volume, mounted by those services alone, is what keeps it private).
    mode: int


SECRETS = (
    Secret("postgres/password", "POSTGRES_PASSWORD", 0o400),
    Secret("haproxy/stats_password", "HAPROXY_STATS_PASSWORD", 0o444),
    Secret("grafana/admin_password", "GRAFANA_ADMIN_PASSWORD", 0o444),
)


def _write(path: Path, value: str, mode: int) -> None:
    """Replace ``path`` in one step: a reader sees the old value or the new one, whole."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(value)
    temporary.chmod(mode)
    os.replace(temporary, path)


def ensure(secret: Secret, directory: Path, environ: Mapping[str, str]) -> str:
    """Make ``secret``'s file hold its value; say where the value came from."""
    path = directory / secret.path
    given = environ.get(secret.variable, "")
    current = path.read_text(encoding="utf-8") if path.is_file() else ""
    if given:
        if given != current:
            _write(path, given, secret.mode)
        return f"from {secret.variable}"
    if current:
        return "kept"
    _write(path, secrets.token_urlsafe(24), secret.mode)
    return "generated"


def main(argv: list[str] | None = None) -> int:
    """Write every secret under the folder given; exit 1 if one cannot be written."""
    parser = argparse.ArgumentParser(prog="python -m launcher.secretfiles", description=__doc__)
    parser.add_argument("directory", type=Path)
    args = parser.parse_args(argv)
    load_settings(ServiceSettings).setup_logging("secrets")
    for secret in SECRETS:
        try:
            outcome = ensure(secret, args.directory, os.environ)
        except OSError as error:
            log.critical("cannot write %s: %s", args.directory / secret.path, error)
            return 1
        log.info("%s: %s", args.directory / secret.path, outcome)
    return 0


if __name__ == "__main__":
    sys.exit(main())
