#!/usr/bin/env python3
# ruff: noqa: E402 (the imports follow the sys.path set up for them)
"""Benchmark the GraphQL server against a raw baseline on the same tables, in one run.

It seeds the database (`python -m app seed-bench --contracts N`; a database that already holds
the bench data only gets fresh tokens), starts `python -m app serve` and the raw baseline
(`scripts/bench_raw.py`: Starlette, hand-written SQL, orjson) as two processes on free ports,
checks once that both give the same parsed JSON for Q1 and Q2 (it stops if they differ), then
measures, in `--rounds` interleaved rounds of `--duration` seconds per pair:

- Q1 dashboard: `contracts(first: 50)` with client, freelancer and milestones (550 objects);
- Q2 detail: one `contract` with milestones, escrow and 20 ledger entries;
- the money cycle: create, fund, accept, submit, release; `--cycle-clients` concurrent clients.

Reads run under wrk (`apt-get install wrk`) when the machine has it, else under a bounded
Python generator (`--generator python` forces it); the cycle always runs under the Python one.
Each row gives req/s, p50/p99 latency and CPU per request of each server process (utime+stime
from /proc/<pid>/stat over the measured window), medians over the rounds, and two ratios of the
server to the baseline: of req/s, and of CPU per request (the baseline's over the server's,
which a database sharing the cores disturbs less). With two or more cores both servers run on
the last core and the generators on the others (`--no-pin` leaves scheduling alone).

`--before PATH` adds a third process, `python -m app serve` of another checkout (its
PYTHONPATH is PATH, e.g. `git worktree add /tmp/before <commit>`), on the same database and in
the same interleaved rounds, so one run gives before, after and raw side by side.

    .venv/bin/python scripts/bench.py --contracts 300 --rounds 2 --duration 3
    .venv/bin/python scripts/bench.py --database-url postgres://postgres@127.0.0.1:5432/escrow_bench
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import signal
import statistics
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path[:0] = [str(Path(__file__).resolve().parent), str(Path(__file__).resolve().parents[1])]

from bench_load import (
    Connection,
    Sample,
    cycles,
    have_wrk,
    python_reads,
    wrk_reads,
)
from bench_servers import (
    ROOT,
    Server,
    ensure_database,
    pin,
    seed,
    server_env,
    start,
)

from app.bench_data import DASHBOARD as Q1
from app.bench_data import DETAIL as Q2

WARM_UP = 3.0  # seconds of each pair before the rounds, not counted
MUTATIONS = {
    "createContract": "contract { id milestones { id } }",
    "fundMilestone": "milestone { id status }",
    "acceptContract": "contract { id status }",
    "submitMilestone": "milestone { id status }",
    "releaseMilestone": "milestone { id status }",
}
INPUTS = {
    "createContract": "CreateContractInput",
    "fundMilestone": "FundMilestoneInput",
    "acceptContract": "AcceptContractInput",
    "submitMilestone": "SubmitMilestoneInput",
    "releaseMilestone": "ReleaseMilestoneInput",
}


def mutation(name: str) -> str:
    return (
        f"mutation($input: {INPUTS[name]}!) {{ {name}(input: $input) "
        f"{{ {MUTATIONS[name]} userErrors {{ code message }} }} }}"
    )


@dataclass
class Target:
    """A server under load and how a request reaches it."""

    label: str
    server: Server
    raw: bool

    def read_request(self, query: str, variables: dict[str, Any]) -> tuple[str, bytes]:
        if self.raw:
            path = "/q1" if query is Q1 else "/q2"
            return path, json.dumps({"variables": variables}).encode()
        return "/graphql", json.dumps({"query": query, "variables": variables}).encode()

    async def step(self, conn: Connection, name: str, data: dict[str, Any]) -> dict[str, Any]:
        if self.raw:
            answer = await conn.post(
                f"/{name}", json.dumps({"variables": {"input": data}}).encode()
            )
        else:
            body = {"query": mutation(name), "variables": {"input": data}}
            answer = await conn.post("/graphql", json.dumps(body).encode())
        payload = (answer.get("data") or {}).get(name)
        if answer.get("errors") or not payload or payload["userErrors"]:
            raise RuntimeError(f"{self.label} {name} failed: {answer}")
        result: dict[str, Any] = payload
        return result


@dataclass
class Measured:
    samples: list[Sample] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # server CPU seconds per request

    def median(self, value: Callable[[Sample], float]) -> float:
        return statistics.median(value(s) for s in self.samples)


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    tokens: dict[str, str]
    user_ids: dict[str, int]
    detail_id: str
    servers: list[Server]
    results: dict[tuple[str, str], Measured] = field(default_factory=dict)

    def generator(self) -> str:
        return "wrk" if self.args.generator != "python" and have_wrk() else "python"

    async def read(self, target: Target, query: str, variables: dict[str, Any]) -> Sample:
        path, body = target.read_request(query, variables)
        port, token = target.server.port, self.tokens["client"]
        duration, connections = self.args.duration, self.args.connections
        if self.generator() == "wrk":
            url = f"http://127.0.0.1:{port}{path}"
            return await asyncio.to_thread(
                wrk_reads, url, body, token, connections, duration, self.workdir
            )
        return await python_reads(port, path, body, token, connections, duration)

    async def cycle(self, target: Target) -> Sample:
        tokens = (self.tokens["cycle-client"], self.tokens["cycle-freelancer"])
        freelancer = encode_user(self.user_ids["cycle-freelancer"])
        return await cycles(
            target.server.port,
            tokens,
            freelancer,
            target.step,
            self.args.cycle_clients,
            self.args.duration,
        )

    async def measure(self, scenario: str, target: Target) -> None:
        for server in self.servers:
            await asyncio.to_thread(server.wait_idle)
        before = target.server.cpu_seconds()
        if scenario == "cycle":
            sample = await self.cycle(target)
        else:
            query = Q1 if scenario == "Q1" else Q2
            sample = await self.read(target, query, {} if query is Q1 else {"id": self.detail_id})
        used = target.server.cpu_seconds() - before
        measured = self.results.setdefault((scenario, target.label), Measured())
        measured.samples.append(sample)
        measured.cpu.append(used / sample.requests if sample.requests else float("nan"))
        print(
            f"    {scenario:<6} {target.label:<7} {sample.per_second:9.1f} req/s"
            f"  p50 {sample.percentile(0.5):7.1f} ms  p99 {sample.percentile(0.99):7.1f} ms"
            f"  CPU {measured.cpu[-1] * 1000:6.2f} ms/req",
            flush=True,
        )


def encode_user(pk: int) -> str:
    from app.graphql.ids import encode_id

    return encode_id("User", pk)


async def verify(server: Target, raw: Target, token: str, detail_id: str) -> None:
    """Both give the same parsed JSON for Q1 and Q2, or the run stops here."""
    for query, variables in ((Q1, {}), (Q2, {"id": detail_id})):
        answers = []
        for target in (server, raw):
            conn = Connection(target.server.port, token)
            path, body = target.read_request(query, variables)
            answers.append(await conn.post(path, body))
            await conn.close()
        if "errors" in answers[0] or answers[0] != answers[1]:
            name = "Q1" if query is Q1 else "Q2"
            raise SystemExit(
                f"{name}: the {server.label} and the raw baseline differ:\n"
                f"{server.label}: {json.dumps(answers[0])[:2000]}\n"
                f"raw:    {json.dumps(answers[1])[:2000]}"
            )
    print(f"Q1 and Q2: the {server.label} and the raw baseline give the same JSON.", flush=True)


async def run_rounds(bench: Bench, targets: list[Target]) -> None:
    for scenario in ("Q1", "Q2", "cycle"):  # warm-up, not counted
        for target in targets:
            args = argparse.Namespace(**{**vars(bench.args), "duration": WARM_UP})
            await replace(bench, args=args, results={}).measure(scenario, target)
    print("(warm-up above, not counted)", flush=True)
    for number in range(bench.args.rounds):
        print(f"  round {number + 1}/{bench.args.rounds}", flush=True)
        order = targets if number % 2 == 0 else targets[::-1]
        for scenario in ("Q1", "Q2", "cycle"):
            for target in order:
                await bench.measure(scenario, target)


def print_table(bench: Bench) -> None:
    args = bench.args
    kind = "PostgreSQL" if args.database_url.startswith("postgres") else "SQLite"
    print()
    print(
        f"{kind}, {args.contracts} contracts; reads by {bench.generator()} with "
        f"{args.connections} connections, the cycle by {args.cycle_clients} Python clients; "
        f"medians of {args.rounds} interleaved rounds of {args.duration:g} s; "
        f"{os.cpu_count()} cores"
    )
    header = (
        "| request | server | req/s | raw req/s | ratio | p50 / p99 ms | raw p50 / p99 ms "
        "| CPU per request | raw CPU per request | CPU ratio |"
    )
    print(header)
    print("|" + "---|" * 10)
    names = {"Q1": "Q1 dashboard", "Q2": "Q2 detail", "cycle": "money cycle (mutations)"}
    labels = [label for label in ("before", "server") if (("Q1", label)) in bench.results]
    for (scenario, name), label in itertools.product(names.items(), labels):
        app, raw = bench.results[(scenario, label)], bench.results[(scenario, "raw")]
        app_rps, raw_rps = app.median(lambda s: s.per_second), raw.median(lambda s: s.per_second)
        app_cpu, raw_cpu = statistics.median(app.cpu), statistics.median(raw.cpu)
        print(
            f"| {name} | {label} | {app_rps:.1f} | {raw_rps:.1f} | {app_rps / raw_rps:.3f}x "
            f"| {app.median(lambda s: s.percentile(0.5)):.1f} / "
            f"{app.median(lambda s: s.percentile(0.99)):.1f} "
            f"| {raw.median(lambda s: s.percentile(0.5)):.1f} / "
            f"{raw.median(lambda s: s.percentile(0.99)):.1f} "
            f"| {app_cpu * 1000:.2f} ms | {raw_cpu * 1000:.2f} ms | {raw_cpu / app_cpu:.3f}x |"
        )


def detail_contract(url: str, client_id: int) -> str:
    """The client's first contract with more than 20 ledger entries."""
    from bench_raw import open_db

    from app.graphql.ids import encode_id

    async def find() -> int:
        db = await open_db(url)
        rows = await db.rows(
            "SELECT c.id FROM contracts c JOIN ledger_entries e ON e.contract_id = c.id"
            " WHERE c.client_id = $1 GROUP BY c.id HAVING count(*) > 20 ORDER BY c.id LIMIT 1",
            client_id,
        )
        if not rows:
            raise SystemExit("no contract of the bench client has more than 20 ledger entries")
        return int(rows[0][0])

    return encode_id("Contract", asyncio.run(find()))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database-url", help="default: a new SQLite file in the work dir")
    parser.add_argument("--contracts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=32, help="for the reads")
    parser.add_argument("--cycle-clients", type=int, default=8)
    parser.add_argument("--generator", choices=("auto", "python"), default="auto")
    parser.add_argument("--no-pin", action="store_true", help="do not pin processes to cores")
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    parser.add_argument(
        "--before",
        type=Path,
        metavar="PATH",
        help="another checkout of the project (`git worktree add PATH <commit>`), served by a"
        " third process on the same database and measured in the same rounds",
    )
    args = parser.parse_args()
    if args.rounds < 1 or args.duration <= 0:
        parser.error("--rounds >= 1 and --duration > 0")
    if args.database_url and args.database_url.startswith("postgresql://"):
        args.database_url = "postgres://" + args.database_url.removeprefix("postgresql://")
    return args


def main() -> int:
    args = parse_args()
    # A SIGTERM ends the run through the `finally` below, which stops the servers it started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    workdir = Path(tempfile.mkdtemp(prefix="bench-"))
    args.database_url = args.database_url or f"sqlite://{workdir / 'bench.sqlite3'}"
    print(f"working directory: {workdir}", flush=True)
    if args.database_url.startswith("postgres://"):
        ensure_database(args.database_url)
    env = server_env(args.database_url)
    servers: list[Server] = []
    try:
        tokens, user_ids = seed(workdir, env, args.contracts)
        serve = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1"]
        servers.append(start(workdir, env, "server", serve))
        raw_command = [sys.executable, str(ROOT / "scripts" / "bench_raw.py")]
        servers.append(start(workdir, env, "raw", raw_command))
        targets = [Target("server", servers[0], raw=False), Target("raw", servers[1], raw=True)]
        if args.before is not None:
            before_env = {**env, "PYTHONPATH": str(args.before.resolve())}
            servers.append(start(workdir, before_env, "before", serve))
            targets.insert(0, Target("before", servers[-1], raw=False))
        if not args.no_pin:
            pin(servers)
        detail_id = detail_contract(args.database_url, user_ids["client"])
        bench = Bench(args, workdir, tokens, user_ids, detail_id, servers)
        print(f"generator: {bench.generator()}; raw baseline: {servers[1].first_line()}")
        for target in targets:
            if not target.raw:
                asyncio.run(verify(target, targets[-1], tokens["client"], detail_id))
        asyncio.run(run_rounds(bench, targets))
        print_table(bench)
    finally:
        for server in servers:
            server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
