"""A private PostgreSQL cluster in a directory of its own: what the native stack uses when no
``DATABASE_URL`` is given, and what tests use without ``TEST_DATABASE_URL``.

PostgreSQL refuses to run as root, so when we are root the cluster belongs to the ``postgres``
system user (present wherever Debian's server package is installed) and its commands run
through ``runuser``, in the cluster's directory. That user must reach the data directory; when
the preferred place is not reachable (a checkout under a private home), the cluster lives in a
reachable directory under the system's temporary directory and the preferred path becomes a
symlink to it.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

USER = "ratewire"
DATABASE = "ratewire"


def server_bindir() -> Path:
    """Where ``initdb``, ``postgres`` and ``pg_ctl`` are: on PATH, else Debian's newest."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    if not versions:
        raise RuntimeError("PostgreSQL's server binaries are not installed: run `make install`")
    return versions[-1].parent


class EmbeddedPostgres:
    """One cluster: ``<home>/data`` and its socket in ``<home>``, on 127.0.0.1:``port``."""

    def __init__(self, home: Path, port: int) -> None:
        self.preferred = home
        self.port = port
        self.bindir = server_bindir()
        self.owner = "postgres" if os.geteuid() == 0 else None
        self.home = home

    @property
    def data(self) -> Path:
        return self.home / "data"

    @property
    def url(self) -> str:
        return f"postgres://{USER}@127.0.0.1:{self.port}/{DATABASE}?sslmode=disable"

    @property
    def admin_url(self) -> str:
        """The maintenance database, for creating and dropping others."""
        return f"postgres://{USER}@127.0.0.1:{self.port}/postgres?sslmode=disable"

    def _as_owner(self, command: list[str]) -> list[str]:
        return ["runuser", "-u", self.owner, "--", *command] if self.owner else command

    def _reachable(self, directory: Path) -> bool:
        probe = self._as_owner(["test", "-w", str(directory), "-a", "-x", str(directory)])
        return subprocess.run(probe, check=False).returncode == 0

    def _place(self) -> None:
        """Choose a directory the cluster's owner can use, and make it the owner's."""
        if self.preferred.is_symlink():
            self.home = self.preferred.resolve()
        elif not self.preferred.exists():
            self.preferred.mkdir(parents=True)
        if self.owner is None:
            return
        owner = pwd.getpwnam(self.owner)
        os.chown(self.home, owner.pw_uid, owner.pw_gid)
        if self._reachable(self.home):
            return
        digest = hashlib.sha1(str(self.preferred.resolve()).encode()).hexdigest()[:12]
        elsewhere = Path(tempfile.gettempdir()) / f"ratewire-pg-{digest}"
        elsewhere.mkdir(mode=0o700, exist_ok=True)
        os.chown(elsewhere, owner.pw_uid, owner.pw_gid)
        self.preferred.rmdir()
        self.preferred.symlink_to(elsewhere)
        self.home = elsewhere

    def initialise(self) -> bool:
        """Create the cluster on first use; True if it was created now."""
        self._place()
        if (self.data / "PG_VERSION").exists():
            return False
        command = [
            str(self.bindir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            USER,
            "--auth=trust",  # reachable only on 127.0.0.1 and through its private socket
            "--encoding=UTF8",
            "--locale=C",
            "--no-instructions",
        ]
        subprocess.run(self._as_owner(command), check=True, capture_output=True, cwd=self.home)
        self._create_database()
        return True

    def _create_database(self) -> None:
        """The service's database, created in single-user mode before the server first starts:
        otherwise the migrations' first connection finds none, and the server logs a FATAL
        line at every first start."""
        command = [str(self.bindir / "postgres"), "--single", "-D", str(self.data), "postgres"]
        subprocess.run(
            self._as_owner(command),
            input=f'CREATE DATABASE "{DATABASE}";\n',
            text=True,
            cwd=self.home,
            check=True,
            capture_output=True,
        )

    def server_command(self) -> list[str]:
        """``postgres`` in the foreground, for a process manager (run as :attr:`owner`)."""
        return [
            str(self.bindir / "postgres"),
            "-D",
            str(self.data),
            "-p",
            str(self.port),
            "-k",
            str(self.home),
            "-c",
            "listen_addresses=127.0.0.1",
        ]

    def start(self) -> None:
        """Start in the background and wait until it accepts connections."""
        options = " ".join(self.server_command()[3:])
        command = [
            str(self.bindir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.home / "server.log"),
            "-w",
            "-t",
            "30",
            "start",
        ]
        subprocess.run(self._as_owner(command), check=True, capture_output=True, cwd=self.home)

    def stop(self, mode: str = "fast") -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"]
        subprocess.run(self._as_owner(command), check=False, capture_output=True, cwd=self.home)
