"""The load generators of `scripts/bench.py`: wrk for the reads when the machine has it, else a
bounded asyncio one over raw HTTP/1.1 keep-alive connections, and the money cycle's clients.

Every loop ends by itself: at its deadline, after `MAX_REQUESTS`, or when a request takes longer
than `REQUEST_TIMEOUT` (which fails the run).
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REQUEST_TIMEOUT = 30.0
MAX_REQUESTS = 5_000_000


@dataclass
class Sample:
    """What one measured window gave: requests done and their latencies (seconds)."""

    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    p50_ms: float | None = None  # when the generator reports percentiles itself (wrk)
    p99_ms: float | None = None

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, fraction: float) -> float:
        given = self.p50_ms if fraction == 0.5 else self.p99_ms if fraction == 0.99 else None
        if given is not None:
            return given
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


class Connection:
    """One keep-alive HTTP/1.1 connection to 127.0.0.1, POSTing JSON."""

    def __init__(self, port: int, token: str) -> None:
        self.port, self.token = port, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> Any:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\n"
            f"Content-Type: application/json\r\nAuthorization: Bearer {self.token}\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        self.writer.write(head.encode() + body)
        status = await asyncio.wait_for(self.reader.readline(), REQUEST_TIMEOUT)
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        if not status.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(f"{path}: {status!r}")
        if "content-length" in headers:
            return json.loads(await self.reader.readexactly(int(headers["content-length"])))
        return json.loads(await self._chunked())

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while size := int((await self.reader.readline()).strip(), 16):
            parts.append(await self.reader.readexactly(size))
            await self.reader.readline()
        await self.reader.readline()
        return b"".join(parts)

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


async def _loop(
    deadline: float,
    sample: Sample,
    one: Callable[[], Awaitable[int]],
    budget: list[int],
    *,
    timed: bool = True,
) -> None:
    """Run `one` (which returns how many requests it made) until the deadline; `timed` records
    its latency (else `one` records its own)."""
    while time.monotonic() < deadline and budget[0] > 0:
        started = time.monotonic()
        done = await asyncio.wait_for(one(), REQUEST_TIMEOUT * 10)
        sample.requests += done
        budget[0] -= done
        if timed:
            sample.latencies.append(time.monotonic() - started)


async def python_reads(
    port: int, path: str, body: bytes, token: str, connections: int, duration: float
) -> Sample:
    """`connections` clients sending the same read for `duration` seconds."""
    pool = [Connection(port, token) for _ in range(connections)]
    sample, budget = Sample(), [MAX_REQUESTS]
    started = time.monotonic()

    def one(connection: Connection) -> Callable[[], Awaitable[int]]:
        async def send() -> int:
            await connection.post(path, body)
            return 1

        return send

    try:
        await asyncio.gather(*(_loop(started + duration, sample, one(c), budget) for c in pool))
    finally:
        for connection in pool:
            await connection.close()
    sample.seconds = time.monotonic() - started
    return sample


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def wrk_reads(
    url: str, body: bytes, token: str, connections: int, duration: float, script_dir: Path
) -> Sample:
    script = script_dir / "wrk.lua"
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body.decode())}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {token}"\n',
        encoding="utf-8",
    )
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency"]
    command += ["--timeout", f"{REQUEST_TIMEOUT:.0f}s"]
    done = subprocess.run(
        [*command, "-s", str(script), url],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    )
    return parse_wrk(done.stdout)


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]


def parse_wrk(output: str) -> Sample:
    if "Non-2xx" in output or "Socket errors" in output:
        raise RuntimeError(f"wrk saw failed requests:\n{output}")
    requests = re.search(r"(\d+) requests in ([\d.]+)(\w+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if requests is None or p50 is None or p99 is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    return Sample(
        requests=int(requests.group(1)),
        seconds=_ms(requests.group(2) + requests.group(3)) / 1000,
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
    )


# --- the money cycle -------------------------------------------------------------------------

# One step: (path, input) -> the step's payload; raises unless it succeeded.
Step = Callable[[Connection, str, dict[str, Any]], Awaitable[dict[str, Any]]]


async def cycles(
    port: int,
    tokens: tuple[str, str],
    freelancer_id: str,
    send: Step,
    clients: int,
    duration: float,
) -> Sample:
    """`clients` pairs of connections (the client's, the freelancer's), each running create,
    fund, accept, submit, release for `duration` seconds; latencies are per mutation."""
    sample, budget = Sample(), [MAX_REQUESTS]
    started = time.monotonic()

    async def timed(connection: Connection, name: str, data: dict[str, Any]) -> dict[str, Any]:
        begun = time.monotonic()
        payload = await send(connection, name, data)
        sample.latencies.append(time.monotonic() - begun)
        return payload

    def worker(number: int) -> tuple[Callable[[], Awaitable[int]], list[Connection]]:
        client, freelancer = Connection(port, tokens[0]), Connection(port, tokens[1])
        counter = [0]

        async def cycle() -> int:
            counter[0] += 1
            contract = await timed(
                client,
                "createContract",
                {
                    "freelancerId": freelancer_id,
                    "title": f"Cycle {number}-{counter[0]}",
                    "milestones": [{"title": "Work", "amount": "100.00"}],
                },
            )
            contract_id = contract["contract"]["id"]
            milestone_id = contract["contract"]["milestones"][0]["id"]
            await timed(client, "fundMilestone", {"milestoneId": milestone_id})
            await timed(freelancer, "acceptContract", {"contractId": contract_id})
            await timed(freelancer, "submitMilestone", {"milestoneId": milestone_id})
            await timed(client, "releaseMilestone", {"milestoneId": milestone_id})
            return 5

        return cycle, [client, freelancer]

    workers = [worker(n) for n in range(clients)]
    try:
        await asyncio.gather(
            *(_loop(started + duration, sample, w, budget, timed=False) for w, _ in workers)
        )
    finally:
        for _, connections in workers:
            for connection in connections:
                await connection.close()
    sample.seconds = time.monotonic() - started
    return sample
