"""The command line, run as a new user would: `python -m app …` in a fresh directory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from app.graphql.schema import schema

ROOT = Path(__file__).resolve().parent.parent

# Each command runs on a SQLite file of its own in a fresh directory.
pytestmark = pytest.mark.own_database("sqlite")


def run(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DATABASE_URL": f"sqlite://{cwd / 'cli.sqlite3'}",
        "SECRET_KEY": "cli-test",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_create_user_migrates_by_itself_and_refuses_a_taken_email(tmp_path: Path) -> None:
    # given a directory with no database at all
    args = ("create-user", "--email", "Ada@Example.com", "--name", "Ada", "--password", "p" * 12)
    # when
    first = run(tmp_path, *args, "--admin")
    again = run(tmp_path, *args)
    # then
    assert first.returncode == 0, first.stderr
    assert "Created admin user ada@example.com" in first.stdout
    assert again.returncode == 1
    assert "already registered" in again.stderr


def test_export_schema_writes_the_schema_the_server_serves(tmp_path: Path) -> None:
    result = run(tmp_path, "export-schema", "--output", str(tmp_path / "out.graphql"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "out.graphql").read_text() == str(schema) + "\n"


def test_migrate_then_run_jobs_once(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    result = run(tmp_path, "run-jobs", "--once")
    assert result.returncode == 0, result.stderr
    assert "E-mail is off (SMTP_URL is not set)." in result.stdout
    assert (
        "Deadlines applied on 0 contract(s). Reminders sent: 0. "
        "E-mails and webhook attempts sent: 0." in result.stdout
    )


@pytest.mark.parametrize(
    ("flags", "env", "says", "never"),
    [
        ((), {}, "E-mail is off (SMTP_URL is not set).", "Jobs are off"),
        (
            (),
            {"SMTP_URL": "smtp://127.0.0.1:2525", "SMTP_FROM": "no-reply@escrow.example"},
            "Serving GraphQL",
            "E-mail is off",
        ),
        (("--no-jobs",), {}, "Jobs are off here: run `python -m app run-jobs`.", "E-mail is off"),
    ],
)
def test_serve_says_at_start_whether_it_sends_email_and_runs_the_jobs(
    tmp_path: Path, flags: tuple[str, ...], env: dict[str, str], says: str, never: str
) -> None:
    # a port already taken: the server says what it would do, then stops
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run(tmp_path, "serve", "--host", "127.0.0.1", "--port", port, *flags, **env)
    assert result.returncode != 0
    assert says in result.stdout
    assert never not in result.stdout


@pytest.mark.parametrize("command", ["migrate", "serve", "seed-demo"])
def test_a_bad_setting_stops_the_start_with_a_message_naming_it(
    tmp_path: Path, command: str
) -> None:
    result = run(tmp_path, command, AUTO_RELEASE_AFTER="soon")
    assert result.returncode == 2
    assert "AUTO_RELEASE_AFTER" in result.stderr
    assert "Traceback" not in result.stderr


def test_seed_demo_prints_working_tokens_and_loads_once(tmp_path: Path) -> None:
    first = run(tmp_path, "seed-demo")
    again = run(tmp_path, "seed-demo")
    assert first.returncode == 0, first.stderr
    assert "Loaded the demo users and contracts." in first.stdout
    assert first.stdout.count("Authorization: Bearer mse_") == 3
    assert "already loaded" in again.stdout
