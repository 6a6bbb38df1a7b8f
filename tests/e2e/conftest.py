"""End-to-end fixtures: a real server process on a free port, loaded with the demo data.

`live_server` runs `python -m app seed-demo`, then `python -m app serve`, in a temporary
working directory with its own SQLite database, and yields the server's base URL and the demo
users' tokens (client, freelancer, admin, in the order seed-demo prints them).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
TOKEN_LINE = re.compile(r"^\s+Authorization: Bearer (\S+)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class LiveServer:
    base_url: str
    host: str
    port: int
    client_token: str
    freelancer_token: str
    admin_token: str
    log: Path

    def log_tail(self, lines: int = 40) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _server_env(workdir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The settings of the developer's shell must not leak into the server under test.
    for name in ("TEST_DATABASE_URL", "CORS_ORIGINS", "RATE_LIMIT_PER_MINUTE", "HOST", "PORT"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=f"sqlite://{workdir / 'e2e.sqlite3'}",
        SECRET_KEY="e2e-secret",
        GRAPHIQL="true",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    )
    return env


def _seed(workdir: Path, env: dict[str, str]) -> list[str]:
    done = subprocess.run(
        [sys.executable, "-m", "app", "seed-demo"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(f"seed-demo failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    tokens = TOKEN_LINE.findall(done.stdout)
    if len(tokens) != 3:
        pytest.fail(f"expected 3 tokens from seed-demo, found {len(tokens)}:\n{done.stdout}")
    return tokens


def _wait_healthy(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"the server exited with {process.returncode} while starting:\n"
                + log.read_text(encoding="utf-8", errors="replace")
            )
        try:
            with urllib.request.urlopen(f"{base_url}/healthz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"the server did not answer {base_url}/healthz within {STARTUP_TIMEOUT:.0f} s:\n"
        + log.read_text(encoding="utf-8", errors="replace")
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    workdir = tmp_path_factory.mktemp("e2e")
    env = _server_env(workdir)
    client, freelancer, admin = _seed(workdir, env)
    host, port = "127.0.0.1", _free_port()
    base_url = f"http://{host}:{port}"
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", host, "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_healthy(process, base_url, log)
        yield LiveServer(
            base_url=base_url,
            host=host,
            port=port,
            client_token=client,
            freelancer_token=freelancer,
            admin_token=admin,
            log=log,
        )
    finally:
        _stop(process)
