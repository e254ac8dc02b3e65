"""The gateway's database password from a file (Docker Compose's made-up secret)."""

from __future__ import annotations

from pathlib import Path

from gateway.database import password_reader


def test_the_password_is_read_again_at_every_connection(tmp_path: Path):
    secret = tmp_path / "password"
    secret.write_text("first\n")
    read = password_reader(secret)
    assert read() == "first"  # without the newline, as $(cat file) reads it
    secret.write_text("replaced")
    assert read() == "replaced"  # a replaced secret needs no restart
