"""The processes of the benchmarks (`scripts/bench.py`, `scripts/bench_subscriptions.py`):
seeding, the server and the raw baseline, each on a free port of 127.0.0.1 with the same
settings, and the CPU time and memory they use."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT = 60.0
SEED_TIMEOUT = 1800.0
IDLE_TIMEOUT = 60.0
TOKEN = re.compile(r"^\s+(\S+)\s+\S+@\S+\s+id (\d+)\n\s+Authorization: Bearer (\S+)$", re.MULTILINE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        utime, stime = int(fields[11]), int(fields[12])
        return (utime + stime) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def wait_idle(self, timeout: float = IDLE_TIMEOUT) -> None:
        """Until the process stops using CPU: wrk leaves requests in flight at the end of its
        window, which a slow server would still be answering in the next one."""
        deadline = time.monotonic() + timeout
        last = self.cpu_seconds()
        while time.monotonic() < deadline:
            time.sleep(0.2)
            now = self.cpu_seconds()
            if now - last < 0.01:
                return
            last = now

    def first_line(self) -> str:
        lines = self.log.read_text(encoding="utf-8", errors="replace").splitlines()
        return lines[0] if lines else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def server_env(database_url: str) -> dict[str, str]:
    env = dict(os.environ)
    for name in ("TEST_DATABASE_URL", "CORS_ORIGINS", "HOST", "PORT"):
        env.pop(name, None)
    env.update(
        DATABASE_URL=database_url,
        SECRET_KEY="bench-secret",
        RATE_LIMIT_PER_MINUTE="100000000",
        GRAPHIQL="false",
        PYTHONUNBUFFERED="1",
        PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p),
    )
    return env


def seed(
    workdir: Path, env: dict[str, str], contracts: int
) -> tuple[dict[str, str], dict[str, int]]:
    """`python -m app seed-bench`: the tokens and user ids it prints, by label."""
    print(f"seeding {contracts} contracts (or issuing tokens if already seeded) ...", flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "app", "seed-bench", "--contracts", str(contracts)],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=SEED_TIMEOUT,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"seed-bench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    print(done.stdout.splitlines()[0], f"({time.monotonic() - started:.0f} s)", flush=True)
    found = TOKEN.findall(done.stdout)
    tokens = {label: token for label, _, token in found}
    user_ids = {label: int(pk) for label, pk, _ in found}
    if set(tokens) != {"client", "cycle-client", "cycle-freelancer"}:
        raise SystemExit(f"unexpected seed-bench output:\n{done.stdout}")
    return tokens, user_ids


def start(workdir: Path, env: dict[str, str], label: str, command: list[str]) -> Server:
    port = free_port()
    log = workdir / f"{label}.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*command, "--port", str(port)],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    server = Server(process, port, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{label} exited:\n{log.read_text()}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise SystemExit(f"{label} did not start:\n{log.read_text()}")


def pin(servers: list[Server]) -> None:
    """The servers on the last core, this process (and the generators it starts) on the rest."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return
    for server in servers:
        os.sched_setaffinity(server.process.pid, {cores[-1]})
    os.sched_setaffinity(0, set(cores[:-1]))


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of `url` if it is missing."""
    import asyncpg

    base, _, name = url.split("?", 1)[0].rpartition("/")

    async def create() -> None:
        admin = await asyncpg.connect(base.replace("postgres://", "postgresql://", 1) + "/postgres")
        try:
            exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
            if not exists:
                await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()

    asyncio.run(create())
