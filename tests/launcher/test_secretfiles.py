"""The deployment's secrets: launcher.secretfiles makes them up once and keeps them, a value
given in the environment replaces them; scripts/with-secret.sh hands one to a command."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

import pytest

from launcher.secretfiles import SECRETS, ensure, main

ROOT = Path(__file__).resolve().parents[2]
WITH_SECRET = ROOT / "scripts" / "with-secret.sh"


@pytest.fixture(name="folder")
def folder_fixture(tmp_path: Path) -> Path:
    """The secrets' folders, as the volumes Compose mounts for them."""
    for secret in SECRETS:
        (tmp_path / secret.path).parent.mkdir(parents=True, exist_ok=True)
    return tmp_path


def values(folder: Path) -> dict[str, str]:
    return {secret.path: (folder / secret.path).read_text() for secret in SECRETS}


def test_made_up_on_the_first_start_and_kept_after(folder: Path):
    assert [ensure(secret, folder, {}) for secret in SECRETS] == ["generated"] * 3
    first = values(folder)
    assert len(set(first.values())) == 3 and all(len(value) >= 30 for value in first.values())
    assert [ensure(secret, folder, {}) for secret in SECRETS] == ["kept"] * 3
    assert values(folder) == first


def test_a_value_from_the_environment_replaces_the_made_up_one(folder: Path):
    postgres = SECRETS[0]
    ensure(postgres, folder, {})
    assert ensure(postgres, folder, {"POSTGRES_PASSWORD": "chosen"}) == "from POSTGRES_PASSWORD"
    assert (folder / postgres.path).read_text() == "chosen"
    assert ensure(postgres, folder, {"POSTGRES_PASSWORD": ""}) == "kept"  # empty: unset
    assert (folder / postgres.path).read_text() == "chosen"


def test_files_are_readable_only_as_far_as_needed(folder: Path):
    for secret in SECRETS:
        ensure(secret, folder, {})
        assert stat.S_IMODE((folder / secret.path).stat().st_mode) == secret.mode
    modes = {secret.path: secret.mode for secret in SECRETS}
    assert modes["postgres/password"] == 0o400  # root and the gateways' own user
    assert not list(folder.rglob(".*.tmp"))  # written whole, then renamed


def test_values_are_never_printed(folder: Path, capsys):
    assert main([str(folder)]) == 0
    output = capsys.readouterr()
    assert output.out.count("generated") == 3
    for value in values(folder).values():
        assert value not in output.out + output.err


def test_an_unwritable_folder_fails_loudly(tmp_path: Path, capsys):
    assert main([str(tmp_path / "missing")]) == 1
    assert "cannot write" in capsys.readouterr().out


def run_with_secret(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(WITH_SECRET), *arguments], capture_output=True, text=True, check=False
    )


def test_with_secret_hands_the_file_to_the_command(tmp_path: Path):
    secret = tmp_path / "password"
    secret.write_text("s3cret with spaces\n")
    result = run_with_secret("PASSWORD", str(secret), "sh", "-c", 'printf "[%s]" "$PASSWORD"')
    assert result.returncode == 0 and result.stdout == "[s3cret with spaces]"


@pytest.mark.parametrize("content", [None, "", "\n"], ids=["missing", "empty", "newline"])
def test_with_secret_refuses_to_run_without_a_value(tmp_path: Path, content):
    secret = tmp_path / "password"
    if content is not None:
        secret.write_text(content)
    result = run_with_secret("PASSWORD", str(secret), "sh", "-c", "echo ran")
    assert result.returncode == 1 and "ran" not in result.stdout
