#!/usr/bin/env python3
"""Benchmark subscription fan-out: commit-to-delivery latency of `contractEvents` for N
WebSocket subscribers, in two scenarios.

- `one`: N subscribers on ONE contract (the freelancer's, N sockets), K events on it: the widest
  fan-out of one event.
- `spread`: N subscribers over `--contracts` contracts between `--users` users, both parties of
  each contract subscribed (socket i follows contract i mod C, as its client on even rounds and
  its freelancer on odd ones), K events spread over the contracts (seeded at random, 42): what a
  busy server does, many events each reaching a few sockets among many.

For each scenario and each N in `--subscribers` it starts a fresh `python -m app serve` process
(SQLite in a temporary directory by default; `--database-url postgres://...` for PostgreSQL, a
scratch database that is created if missing), registers the users and creates the accepted
contracts over HTTP, opens N subscriptions from a separate client process (raw `websockets`,
graphql-transport-ws, one connection each, afterSequence = the contract's last stored sequence,
so that none can miss an event), commits one warm-up event per contract and waits until every
subscriber has it, then commits K events by HTTP mutations (`payBonus`) spaced `--interval`
apart and measures, per subscriber and event, commit-to-delivery latency three ways (all on the
machine's wall clock, shared by the processes):

- from the mutation's HTTP response, as asked. On one event loop the response is written after
  much of the fan-out, so this is often negative: deliveries beat the response.
- from the event's `occurredAt`, stamped inside the transaction before its commit: an upper
  bound that also counts the commit itself.
- from the event's first delivery to any subscriber: the fan-out spread alone.

Each row also shows the mutation's round trip, server CPU seconds per event (utime+stime from
/proc/<pid>/stat over the measured phase), server RSS once every subscriber is live, and RSS per
subscriber (over the RSS before they connected). Every wait has a timeout, so each N ends on its
own (about a minute for 5,000 subscribers on 2 cores), and the script stops the server and the
client process it started. Both processes raise their open-files limit to the hard limit.

    .venv/bin/python scripts/bench_subscriptions.py --subscribers 100,1000,5000
    .venv/bin/python scripts/bench_subscriptions.py --scenario spread --subscribers 1000,5000 \
        --events 300 --interval 0.02 --database-url postgres://postgres@127.0.0.1:5432/escrow_bench

(`--interval 0.02` commits about as fast as one sequential client can: 30 to 40 events a second
on 2 cores.)

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
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections import Counter
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
SEED = 42
CREATED_EVENTS = 2  # CONTRACT_OFFERED, CONTRACT_ACCEPTED

SUBSCRIPTION = """
subscription($id: ID!, $after: Int) {
  contractEvents(contractId: $id, afterSequence: $after) {
    id sequence type occurredAt amount { amount currency }
  }
}
"""
REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { token user { id } userErrors { code message } }
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


@dataclass(frozen=True)
class Party:
    token: str
    user_id: str


@dataclass(frozen=True)
class Contract:
    id: str
    client: Party
    freelancer: Party


def register_users(api: Http, count: int, stamp: str) -> list[Party]:
    users = []
    for index in range(count):
        email = f"user{index}.{stamp}@bench.example"
        payload = api.mutate(REGISTER, None, name=f"User {index}", email=email, password=PASSWORD)
        users.append(Party(payload["token"], payload["user"]["id"]))
    return users


def create_contracts(api: Http, users: list[Party], count: int) -> list[Contract]:
    """Contract i: client users[i mod U], freelancer another user, shifting with each round of
    U contracts, so that the pairs vary."""
    contracts = []
    for index in range(count):
        client = users[index % len(users)]
        offset = 1 + (index // len(users)) % (len(users) - 1)
        freelancer = users[(index + offset) % len(users)]
        created = api.mutate(
            CREATE_CONTRACT,
            client.token,
            freelancerId=freelancer.user_id,
            title=f"Benchmark {index}",
            milestones=[{"title": "One", "amount": "100.00"}],
        )
        contract = Contract(created["contract"]["id"], client, freelancer)
        api.mutate(ACCEPT_CONTRACT, freelancer.token, contractId=contract.id)
        contracts.append(contract)
    return contracts


# --- the subscribers' process ----------------------------------------------------------------


@dataclass(frozen=True)
class Socket:
    """One subscriber: whose token, which contract, after which sequence, which is the warm-up
    event, and the last sequence it waits for."""

    token: str
    contract_id: str
    after: int
    warm: int
    last: int


Key = tuple[str, int]  # (contract id, sequence)


@dataclass
class Tally:
    opened: int = 0
    failed: int = 0
    warmed: int = 0  # subscribers that have their warm-up event
    finished: int = 0  # subscribers that have their last event
    errors: list[str] = field(default_factory=list)
    received: dict[Key, list[float]] = field(default_factory=dict)
    occurred: dict[Key, float] = field(default_factory=dict)  # the events' occurredAt
    warm: asyncio.Event = field(default_factory=asyncio.Event)
    done: asyncio.Event = field(default_factory=asyncio.Event)


async def subscriber(url: str, spec: Socket, gate: asyncio.Semaphore, tally: Tally) -> None:
    """Subscribe, then read until cancelled: a subscriber that has all its events stays
    connected, so that the server holds every socket until the end of the run."""
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
            init = {"Authorization": f"Bearer {spec.token}"}
            await ws.send(json.dumps({"type": "connection_init", "payload": init}))
            ack = json.loads(await ws.recv())
            if ack.get("type") != "connection_ack":
                raise RuntimeError(f"no ack: {ack}")
            variables = {"id": spec.contract_id, "after": spec.after}
            payload = {"query": SUBSCRIPTION, "variables": variables}
            await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    except Exception as error:
        tally.failed += 1
        tally.errors.append(repr(error))
        return
    tally.opened += 1
    try:
        async for raw in ws:
            now = time.time()
            message = json.loads(raw)
            kind = message.get("type")
            if kind == "next":
                event = message["payload"]["data"]["contractEvents"]
                key = (spec.contract_id, event["sequence"])
                times = tally.received.get(key)
                if times is None:
                    times = tally.received[key] = []
                    tally.occurred[key] = datetime.fromisoformat(event["occurredAt"]).timestamp()
                times.append(now)
                if key[1] == spec.warm:
                    tally.warmed += 1
                    if tally.warmed >= tally.opened:
                        tally.warm.set()
                if key[1] == spec.last:
                    tally.finished += 1
                    if tally.finished >= tally.opened:
                        tally.done.set()
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
    sockets: list[Socket] = job["sockets"]
    tasks = [asyncio.create_task(subscriber(job["url"], spec, gate, tally)) for spec in sockets]
    started = time.monotonic()
    while tally.opened + tally.failed < len(sockets):
        if time.monotonic() - started > OPEN_TIMEOUT:
            break
        await asyncio.sleep(0.05)
    conn.send(("ready", tally.opened, tally.failed, time.monotonic() - started, tally.errors[:3]))
    # the orchestrator commits the warm-up events now
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.warm.wait(), DELIVERY_TIMEOUT)
    conn.send(("warm", tally.warmed))
    # the orchestrator commits the measured events now
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(tally.done.wait(), job["deadline"])
    unfinished = tally.opened - tally.finished
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    conn.send(("done", tally.received, tally.occurred, tally.errors[:5], unfinished))


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
    scenario: str
    subscribers: int
    contracts: int
    opened: int
    open_seconds: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    p50_from_event_ms: float
    p99_from_event_ms: float
    p99_spread_ms: float
    mutation_ms: float
    deliveries: int
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


@dataclass(frozen=True)
class Plan:
    """Who subscribes to what, and which contract each measured event goes to."""

    contracts: list[Contract]
    sockets: list[Socket]
    events: list[Contract]


def plan(scenario: str, contracts: list[Contract], count: int, events: int) -> Plan:
    """Every contract is at sequence CREATED_EVENTS; its warm-up event comes next, then its
    share of the measured events."""
    if scenario == "one":
        targets = [contracts[0]] * events
    else:
        chooser = random.Random(SEED)
        targets = [chooser.choice(contracts) for _ in range(events)]
    share = Counter(contract.id for contract in targets)
    sockets = []
    for index in range(count):
        contract = contracts[index % len(contracts)]
        party = contract.client if (index // len(contracts)) % 2 == 0 else contract.freelancer
        if scenario == "one":
            party = contract.freelancer
        warm = CREATED_EVENTS + 1
        sockets.append(
            Socket(party.token, contract.id, CREATED_EVENTS, warm, warm + share[contract.id])
        )
    return Plan(contracts, sockets, targets)


def run_one(args: argparse.Namespace, scenario: str, count: int, base: Path) -> Row:
    workdir = base / f"{scenario}-{count}"
    workdir.mkdir()
    database_url = args.database_url or f"sqlite://{workdir / 'bench.sqlite3'}"
    env = server_env(database_url)
    env["LOGIN_RATE_LIMIT_PER_MINUTE"] = "100000000"  # the users register from one address
    server = start_server(workdir, env)
    notes: list[str] = []
    worker: mp.process.BaseProcess | None = None
    try:
        api = Http(server.port)
        stamp = f"{os.getpid()}.{scenario}.{count}.{int(time.time())}"
        spread = scenario == "spread"
        users = register_users(api, args.users if spread else 2, stamp)
        # spread: at least two subscribers per contract, one for each party
        wanted = max(1, min(args.contracts, count // 2)) if spread else 1
        contracts = create_contracts(api, users, wanted)
        layout = plan(scenario, contracts, count, args.events)
        rss_base = server.rss_mb()

        parent, child = mp.Pipe()
        deadline = DELIVERY_TIMEOUT + args.events * max(args.interval, 0.1) + 30
        job = {
            "url": f"ws://127.0.0.1:{server.port}/graphql",
            "sockets": layout.sockets,
            "deadline": deadline,
        }
        worker = mp.get_context("fork").Process(target=subscribers_process, args=(child, job))
        worker.start()
        _, opened, failed, open_seconds, open_errors = wait_for(parent, "ready", OPEN_TIMEOUT + 30)
        if failed:
            notes.append(f"{failed} subscriptions failed to open: {open_errors}")

        for contract in contracts:  # the warm-up events
            api.mutate(PAY_BONUS, contract.client.token, contractId=contract.id, amount="1.00")
        _, warm_count = wait_for(parent, "warm", DELIVERY_TIMEOUT + 10)
        if warm_count < opened:
            notes.append(f"warm-up reached {warm_count}/{opened}")
        rss = server.rss_mb()

        profiler = start_profiler(args, server, workdir, f"{scenario}-{count}")
        cpu_before = server.cpu_seconds()
        sequences = {contract.id: CREATED_EVENTS + 1 for contract in contracts}
        committed: dict[Key, float] = {}
        round_trips: list[float] = []
        for contract in layout.events:
            started = time.time()
            api.mutate(PAY_BONUS, contract.client.token, contractId=contract.id, amount="1.00")
            sequences[contract.id] += 1
            committed[(contract.id, sequences[contract.id])] = time.time()
            round_trips.append((time.time() - started) * 1000)
            time.sleep(max(0.0, args.interval - (time.time() - started)))
        _, received, occurred, errors, unfinished = wait_for(parent, "done", deadline + 60)
        cpu = server.cpu_seconds() - cpu_before
        stop_profiler(profiler, notes)
        if errors:
            notes.append(f"errors: {errors}")
        if unfinished:
            notes.append(f"{unfinished} subscribers did not get every event in time")

        followers = Counter(spec.contract_id for spec in layout.sockets)
        latencies: list[float] = []
        from_event: list[float] = []
        spread_ms: list[float] = []
        missing = 0
        for key, commit in committed.items():
            times = received.get(key, [])
            missing += max(0, followers[key[0]] - len(times))
            latencies.extend((t - commit) * 1000 for t in times)
            if key in occurred:
                from_event.extend((t - occurred[key]) * 1000 for t in times)
            if times:
                first = min(times)
                spread_ms.extend((t - first) * 1000 for t in times)
        latencies.sort()
        from_event.sort()
        spread_ms.sort()
        return Row(
            scenario=scenario,
            subscribers=count,
            contracts=len(contracts),
            opened=opened,
            open_seconds=open_seconds,
            p50_ms=percentile(latencies, 0.50),
            p99_ms=percentile(latencies, 0.99),
            max_ms=latencies[-1] if latencies else float("nan"),
            p50_from_event_ms=percentile(from_event, 0.50),
            p99_from_event_ms=percentile(from_event, 0.99),
            p99_spread_ms=percentile(spread_ms, 0.99),
            mutation_ms=statistics.median(round_trips),
            deliveries=len(latencies),
            missing=missing,
            cpu_per_event=cpu / args.events,
            rss_mb=rss,
            rss_per_subscriber_kb=(rss - rss_base) * 1024 / max(1, opened),
            notes=notes,
        )
    finally:
        if worker is not None:
            worker.join(timeout=30)
            if worker.is_alive():
                worker.kill()
                worker.join()
        server.stop()


def start_profiler(
    args: argparse.Namespace, server: Server, workdir: Path, label: str
) -> subprocess.Popen[bytes] | None:
    if not args.profile:
        return None
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    suffix = {"flamegraph": "svg", "raw": "txt", "speedscope": "json"}[args.profile_format]
    output = Path(args.profile_dir or workdir) / f"profile-{label}.{suffix}"
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
    parser.add_argument("--scenario", default="one,spread", help="one, spread or one,spread")
    parser.add_argument("--subscribers", default="100,1000,5000")
    parser.add_argument("--events", type=int, default=20)
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between commits")
    parser.add_argument("--contracts", type=int, default=500, help="spread: contracts")
    parser.add_argument("--users", type=int, default=50, help="spread: users (parties)")
    parser.add_argument("--database-url", help="postgres://... (a scratch database)")
    parser.add_argument("--profile", action="store_true", help="py-spy the server")
    parser.add_argument("--profile-dir", help="where the profiles go")
    parser.add_argument(
        "--profile-format", default="flamegraph", choices=("flamegraph", "raw", "speedscope")
    )
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    scenarios = [name.strip() for name in args.scenario.split(",") if name.strip()]
    if not scenarios or set(scenarios) - {"one", "spread"}:
        parser.error("--scenario takes one, spread or one,spread")
    if args.users < 2:
        parser.error("--users takes at least 2")
    if args.database_url and args.database_url.startswith("postgresql://"):
        args.database_url = "postgres://" + args.database_url.removeprefix("postgresql://")
    if args.database_url:
        ensure_database(args.database_url)
    raise_open_files_limit()  # the server inherits it
    counts = [int(n) for n in args.subscribers.split(",") if n.strip()]
    base = Path(tempfile.mkdtemp(prefix="bench-subscriptions-"))
    print(f"working directory: {base}", flush=True)
    rows = []
    try:
        for scenario in scenarios:
            for count in counts:
                print(f"... {scenario}: {count} subscribers", flush=True)
                row = run_one(args, scenario, count, base)
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
        f"    opened {row.opened} in {row.open_seconds:.1f} s; {row.deliveries} deliveries; "
        f"p50 {row.p50_ms:.1f} ms, p99 {row.p99_ms:.1f} ms, max {row.max_ms:.1f} ms, "
        f"missing {row.missing}; "
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
        "| scenario | subscribers | contracts | deliveries | p50 ms | p99 ms | max ms "
        "| p50 from occurredAt | p99 from occurredAt | p99 from first delivery | mutation ms "
        "| missing | server CPU s/event | server RSS MB | RSS/subscriber KB |"
    )
    print(header)
    print("|" + "|".join("---" for _ in range(header.count("|") - 1)) + "|")
    for row in rows:
        print(
            f"| {row.scenario} | {row.subscribers} | {row.contracts} | {row.deliveries} "
            f"| {row.p50_ms:.1f} | {row.p99_ms:.1f} | {row.max_ms:.1f} "
            f"| {row.p50_from_event_ms:.1f} | {row.p99_from_event_ms:.1f} "
            f"| {row.p99_spread_ms:.1f} "
            f"| {row.mutation_ms:.1f} | {row.missing} | {row.cpu_per_event:.3f} "
            f"| {row.rss_mb:.0f} "
            f"| {row.rss_per_subscriber_kb:.1f} |"
        )


if __name__ == "__main__":
    sys.exit(main())
