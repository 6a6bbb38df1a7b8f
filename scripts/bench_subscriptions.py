#!/usr/bin/env python3
"""Benchmark `contractEvents` fan-out: N WebSocket subscribers on ONE contract, K events.

For each N in `--subscribers` it starts a fresh `python -m app serve` process (SQLite in a
temporary directory by default; `--database-url postgres://...` for PostgreSQL, a scratch
database that is created if missing), creates two users and an accepted contract, opens N
subscriptions from a separate client process (raw `websockets`, graphql-transport-ws, one
connection each, afterSequence = the last stored sequence, so that none can miss an event),
commits one warm-up event and waits until every subscriber has it, then commits K events by
HTTP mutations (`payBonus`) spaced `--interval` apart and measures, per subscriber and event,
commit-to-delivery latency three ways (all on the machine's wall clock, shared by the processes):

- from the mutation's HTTP response, as asked. On one event loop the response is written after
  much of the fan-out, so this is often negative: deliveries beat the response.
- from the event's `occurredAt`, stamped inside the transaction before its commit: an upper
  bound that also counts the commit itself.
- from the event's first delivery to any subscriber: the fan-out spread alone.

Each row also shows the mutation's round trip, server CPU seconds per event (utime+stime from
/proc/<pid>/stat over the measured phase), server RSS once every subscriber is live, and RSS per
subscriber (over the RSS before they connected). Every wait has a timeout, so each N ends on its
own (about a minute for 5,000 subscribers on 2 cores), and the script stops the server and the
client process it started.

    .venv/bin/python scripts/bench_subscriptions.py --subscribers 100,1000,5000
    .venv/bin/python scripts/bench_subscriptions.py --database-url \
        postgres://postgres@127.0.0.1:5432/escrow_bench

`--profile` records the server with py-spy (`pip install py-spy`) during the measured phase of
each N (`--profile-format raw` for collapsed stacks) into `--profile-dir`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from bench_servers import Server, ensure_database, free_port, server_env

PASSWORD = "correct horse battery"
OPEN_CONCURRENCY = 64
OPEN_TIMEOUT = 90.0  # for all N subscriptions to open
DELIVERY_TIMEOUT = 60.0  # after the last commit, for every delivery
STARTUP_TIMEOUT = 30.0

SUBSCRIPTION = """
subscription($id: ID!, $after: Int) {
  contractEvents(contractId: $id, afterSequence: $after) {
    id sequence type occurredAt amount { amount currency }
  }
}
"""
LOGIN = """
mutation($input: LoginInput!) {
  login(input: $input) { token user { id } userErrors { code message } }
}
"""
CREATE_CONTRACT = """
mutation($input: CreateContractInput!) {
  createContract(input: $input) { contract { id } userErrors { code message } }
}
"""
ACCEPT_CONTRACT = """
mutation($input: AcceptContractInput!) {
  acceptContract(input: $input) { contract { id } userErrors { code message } }
}
"""
PAY_BONUS = """
mutation($input: PayBonusInput!) { payBonus(input: $input) { userErrors { code message } } }
"""


# --- the server process ----------------------------------------------------------------------


def cli(workdir: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "app", *args],
        cwd=workdir,
        env=env,
        check=True,
        capture_output=True,
        timeout=120,
    )


def start_server(workdir: Path, env: dict[str, str]) -> Server:
    port = free_port()
    log = workdir / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)],
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
            raise RuntimeError(f"the server exited:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return server
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"the server did not start:\n{log.read_text()}")


class Http:
    """GraphQL over HTTP, blocking on purpose, one connection per request (an idle keep-alive
    connection would be closed by the server while the subscribers open)."""

    def __init__(self, port: int) -> None:
        self.port = port

    def mutate(self, query: str, token: str | None, **fields: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": {"input": fields}})
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            connection.request("POST", "/graphql", body=body, headers=headers)
            response = json.loads(connection.getresponse().read())
        finally:
            connection.close()
        if response.get("errors"):
            raise RuntimeError(response["errors"])
        payload: dict[str, Any] = next(iter(response["data"].values()))
        if payload.get("userErrors"):
            raise RuntimeError(payload["userErrors"])
        return payload


# --- the subscribers' process ----------------------------------------------------------------


@dataclass
class Tally:
    opened: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    received: dict[int, list[float]] = field(default_factory=dict)  # sequence -> times
    occurred: dict[int, float] = field(default_factory=dict)  # sequence -> occurredAt
    counts: dict[int, int] = field(default_factory=dict)


async def subscriber(
    url: str,
    token: str,
    contract_id: str,
    after: int,
    last: int,
    gate: asyncio.Semaphore,
    tally: Tally,
    warm: asyncio.Event,
    warm_sequence: int,
    live: list[int],
) -> None:
    from websockets.asyncio.client import connect
    from websockets.typing import Subprotocol

    try:
        async with gate:
            ws = await connect(
                url,
                subprotocols=[Subprotocol("graphql-transport-ws")],
                ping_interval=None,
                open_timeout=OPEN_TIMEOUT,
                max_queue=None,
                compression=None,
            )
            init = {"Authorization": f"Bearer {token}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no ack: {ack}")
            variables = {"id": contract_id, "after": after}
            payload = {"query": SUBSCRIPTION, "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    except Exception as error:
        tally.failed += 1
        tally.errors.append(repr(error))
        return
    tally.opened += 1
    live[0] += 1
    try:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "next":
                event = message["payload"]["data"]["contractEvents"]
                sequence = event["sequence"]
                times = tally.received.get(sequence)
                if times is None:
                    times = tally.received[sequence] = []
                    tally.occurred[sequence] = datetime.fromisoformat(
                        event["occurredAt"]
                    ).timestamp()
                times.append(now)
                count = tally.counts[sequence] = tally.counts.get(sequence, 0) + 1
                if sequence == warm_sequence and count >= live[0]:
                    warm.set()
                if sequence >= last:
                    break
            elif kind == "ping":
                await ws.send(json.dumps({"type": "pong"}))
            elif kind in ("error", "complete"):
                tally.errors.append(json.dumps(message)[:300])
                break
    except Exception as error:
        tally.errors.append(repr(error))
    finally:
        await ws.close()


async def subscribers_main(conn: Connection, job: dict[str, Any]) -> None:
    tally = Tally()
    gate = asyncio.Semaphore(OPEN_CONCURRENCY)
    warm = asyncio.Event()
    live = [0]
    warm_sequence = job["after"] + 1
    tasks = [
        asyncio.create_task(
            subscriber(
                job["url"],
                job["token"],
                job["contract_id"],
                job["after"],
                job["last"],
                gate,
                tally,
                warm,
                warm_sequence,
                live,
            )
        )
        for _ in range(job["count"])
    ]
    started = time.monotonic()
    while tally.opened + tally.failed < job["count"]:
        if time.monotonic() - started > OPEN_TIMEOUT:
            break
        await asyncio.sleep(0.05)
    conn.send(("ready", tally.opened, tally.failed, time.monotonic() - started, tally.errors[:3]))
    # the orchestrator commits the warm-up event now
    try:
        await asyncio.wait_for(warm.wait(), DELIVERY_TIMEOUT)
        conn.send(("warm", tally.counts.get(warm_sequence, 0)))
    except TimeoutError:
        conn.send(("warm", tally.counts.get(warm_sequence, 0)))
    # the orchestrator commits the measured events now
    _, pending = await asyncio.wait(tasks, timeout=job["deadline"])
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    conn.send(("done", tally.received, tally.occurred, tally.errors[:5], len(pending)))


def subscribers_process(conn: Connection, job: dict[str, Any]) -> None:
    raise_open_files_limit()
    asyncio.run(subscribers_main(conn, job))


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else 1 << 20
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


# --- one run ---------------------------------------------------------------------------------


@dataclass
class Row:
    subscribers: int
    opened: int
    open_seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    p50_from_event_ms: float
    p99_from_event_ms: float
    p99_spread_ms: float
    mutation_ms: float
    missing: int
    cpu_per_event: float
    rss_mb: float
    rss_per_subscriber_kb: float
    notes: list[str]


def wait_for(conn: Connection, kind: str, timeout: float) -> tuple[Any, ...]:
    if not conn.poll(timeout):
        raise RuntimeError(f"the subscribers did not report {kind!r} within {timeout:.0f} s")
    message: tuple[Any, ...] = conn.recv()
    if message[0] != kind:
        raise RuntimeError(f"expected {kind!r}, got {message!r}")
    return message


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


def run_one(args: argparse.Namespace, count: int, base: Path) -> Row:
    workdir = base / f"n{count}"
    workdir.mkdir()
    database_url = args.database_url or f"sqlite://{workdir / 'bench.sqlite3'}"
    env = server_env(database_url)
    stamp = f"{os.getpid()}.{count}.{int(time.time())}"
    emails = [f"carol.{stamp}@bench.example", f"frank.{stamp}@bench.example"]
    for email, name in zip(emails, ("Carol", "Frank"), strict=True):
        cli(workdir, env, "create-user", "--email", email, "--name", name, "--password", PASSWORD)
    server = start_server(workdir, env)
    notes: list[str] = []
    worker: mp.process.BaseProcess | None = None
    try:
        api = Http(server.port)
        client, freelancer = (
            api.mutate(LOGIN, None, email=email, password=PASSWORD) for email in emails
        )
        created = api.mutate(
            CREATE_CONTRACT,
            client["token"],
            freelancerId=freelancer["user"]["id"],
            title="Benchmark",
            milestones=[{"title": "One", "amount": "100.00"}],
        )
        contract_id = created["contract"]["id"]
        api.mutate(ACCEPT_CONTRACT, freelancer["token"], contractId=contract_id)
        after = 2  # CONTRACT_OFFERED, CONTRACT_ACCEPTED
        first_measured = after + 2  # after + 1 is the warm-up event
        last = first_measured + args.events - 1
        rss_base = server.rss_mb()

        parent, child = mp.Pipe()
        job = {
            "url": f"ws://127.0.0.1:{server.port}/graphql",
            "token": freelancer["token"],
            "contract_id": contract_id,
            "after": after,
            "last": last,
            "count": count,
            "deadline": OPEN_TIMEOUT + DELIVERY_TIMEOUT + args.events * args.interval + 30,
        }
        worker = mp.get_context("fork").Process(target=subscribers_process, args=(child, job))
        worker.start()
        _, opened, failed, open_seconds, open_errors = wait_for(parent, "ready", OPEN_TIMEOUT + 30)
        if failed:
            notes.append(f"{failed} subscriptions failed to open: {open_errors}")

        api.mutate(PAY_BONUS, client["token"], contractId=contract_id, amount="1.00")  # warm-up
        _, warm_count = wait_for(parent, "warm", DELIVERY_TIMEOUT + 10)
        if warm_count < opened:
            notes.append(f"warm-up reached {warm_count}/{opened}")
        rss = server.rss_mb()

        profiler = start_profiler(args, server, workdir, count)
        cpu_before = server.cpu_seconds()
        committed: dict[int, float] = {}
        requested: dict[int, float] = {}
        for index in range(args.events):
            started = time.time()
            api.mutate(PAY_BONUS, client["token"], contractId=contract_id, amount="1.00")
            committed[first_measured + index] = time.time()
            requested[first_measured + index] = started
            time.sleep(max(0.0, args.interval - (time.time() - started)))
        _, received, occurred, errors, unfinished = wait_for(parent, "done", job["deadline"] + 30)
        cpu = server.cpu_seconds() - cpu_before
        stop_profiler(profiler, notes)
        if errors:
            notes.append(f"errors: {errors}")
        if unfinished:
            notes.append(f"{unfinished} subscribers did not get every event in time")

        latencies: list[float] = []
        from_event: list[float] = []
        spread: list[float] = []
        missing = 0
        for sequence, commit in committed.items():
            times = received.get(sequence, [])
            missing += max(0, opened - len(times))
            latencies.extend((t - commit) * 1000 for t in times)
            if sequence in occurred:
                from_event.extend((t - occurred[sequence]) * 1000 for t in times)
            if times:
                first = min(times)
                spread.extend((t - first) * 1000 for t in times)
        latencies.sort()
        from_event.sort()
        spread.sort()
        return Row(
            subscribers=count,
            opened=opened,
            open_seconds=open_seconds,
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            max_ms=latencies[-1] if latencies else float("nan"),
            p50_from_event_ms=percentile(from_event, 0.50),
            p99_from_event_ms=percentile(from_event, 0.99),
            p99_spread_ms=percentile(spread, 0.99),
            mutation_ms=statistics.median((committed[s] - requested[s]) * 1000 for s in committed),
            missing=missing,
            cpu_per_event=cpu / args.events,
            rss_mb=rss,
            rss_per_subscriber_kb=(rss - rss_base) * 1024 / max(1, opened),
            notes=notes,
        )
    finally:
        if worker is not None:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
                worker.join()
        server.stop()


def start_profiler(
    args: argparse.Namespace, server: Server, workdir: Path, count: int
) -> subprocess.Popen[bytes] | None:
    if not args.profile:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    suffix = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[args.profile_format]
    output = Path(args.profile_dir or workdir) / f"profile-{count}.{suffix}"
    duration = int(args.events * args.interval) + 5
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(server.pid), "--duration", str(duration),
         "--rate", "200", "--format", args.profile_format, "--output", str(output),
         "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def stop_profiler(profiler: subprocess.Popen[bytes] | None, notes: list[str]) -> None:
    if profiler is None:
        return
    with contextlib.suppress(subprocess.TimeoutExpired):
        profiler.wait(timeout=60)
    if profiler.poll() is None:
        profiler.kill()
    notes.append(f"py-spy exited with {profiler.returncode}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", default="100,1000,5000")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between commits")
    parser.add_argument("--database-url", help="postgres://... (a scratch database)")
    parser.add_argument("--profile", action="store_true", help="py-spy the server")
    parser.add_argument("--profile-dir", help="where the profiles go")
    parser.add_argument(
        "--profile-format", default="flamegraph", choices=("flamegraph", "raw", "speedscope")
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    if args.database_url and args.database_url.startswith("postgresql://"):
        args.database_url = "postgres://" + args.database_url.removeprefix("postgresql://")
    if args.database_url:
        ensure_database(args.database_url)
    raise_open_files_limit()
    counts = [int(n) for n in args.subscribers.split(",") if n.strip()]
    base = Path(tempfile.mkdtemp(prefix="bench-subscriptions-"))
    print(f"working directory: {base}", flush=True)
    rows = []
    try:
        for count in counts:
            print(f"... {count} subscribers", flush=True)
            row = run_one(args, count, base)
            rows.append(row)
            print_row(row)
    finally:
        if not args.keep and not args.profile:
            shutil.rmtree(base, ignore_errors=True)
    print()
    print_table(rows, args)
    return 0


def print_row(row: Row) -> None:
    print(
        f"    opened {row.opened} in {row.open_seconds:.1f} s; p50 {row.p50_ms:.1f} ms, "
        f"p99 {row.p99_ms:.1f} ms, max {row.max_ms:.1f} ms, missing {row.missing}; "
        f"from occurredAt p50 {row.p50_from_event_ms:.1f} ms p99 {row.p99_from_event_ms:.1f} ms, "
        f"from first delivery p99 {row.p99_spread_ms:.1f} ms, "
        f"mutation round trip p50 {row.mutation_ms:.1f} ms; "
        f"CPU {row.cpu_per_event:.3f} s/event; RSS {row.rss_mb:.0f} MB",
        flush=True,
    )
    for note in row.notes:
        print(f"    note: {note}", flush=True)


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{backend}, {args.events} events {args.interval * 1000:.0f} ms apart")
    print(
        "latency: from the mutation's HTTP response (p50/p99/max); from the event's occurredAt "
        "(set inside the transaction, before commit); from the event's first delivery to any "
        "subscriber (the fan-out spread); mutation = its HTTP round trip"
    )
    header = (
        "| subscribers | p50 ms | p99 ms | max ms | p50 from occurredAt | p99 from occurredAt "
        "| p99 from first delivery | mutation ms "
        "| missing | server CPU s/event | server RSS MB | RSS/subscriber KB |"
    )
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for row in rows:
        print(
            f"| {row.subscribers} | {row.p50_ms:.1f} | {row.p99_ms:.1f} | {row.max_ms:.1f} "
            f"| {row.p50_from_event_ms:.1f} | {row.p99_from_event_ms:.1f} "
            f"| {row.p99_spread_ms:.1f} "
            f"| {row.mutation_ms:.1f} | {row.missing} | {row.cpu_per_event:.3f} "
            f"| {row.rss_mb:.0f} "
            f"| {row.rss_per_subscriber_kb:.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
