# ruff: noqa: E402 (the imports follow the sys.path set up for them)
"""The raw baseline of `scripts/bench.py`: a plain Starlette app with hand-written SQL on the
project's tables (asyncpg on PostgreSQL, sqlite3 on SQLite) and orjson (the standard json
module where orjson is not installed).

`POST /q1` and `POST /q2` answer with the same JSON as the GraphQL server gives for the
benchmark's queries (`app.bench_data.DASHBOARD` and `DETAIL`); `POST /createContract`,
`/fundMilestone`, `/acceptContract`, `/submitMilestone` and `/releaseMilestone` make the same rows
as those mutations (`scripts/bench_raw_writes.py`), each in one transaction, taking the same
`{"variables": {"input": …}}` with global ids. Every request looks its bearer token up, as the
server does.

    python scripts/bench_raw.py --port 8001 --database-url sqlite:///tmp/bench.sqlite3
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench_raw_db import Database, Postgres, Sqlite
from bench_raw_writes import STEPS, Refused
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.auth.tokens import bearer_token, token_digest
from app.domain.money import format_amount
from app.domain.policy import Policy
from app.graphql.ids import decode_id, encode_cursor, encode_id

try:
    import orjson

    def dumps(value: Any) -> bytes:
        return orjson.dumps(value)

    JSON = "orjson"
except ImportError:  # pragma: no cover - depends on the machine
    import json

    def dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":")).encode()

    JSON = "json"


def placeholders(count: int, start: int = 1) -> str:
    return ",".join(f"${i}" for i in range(start, start + count))


def money(cents: int, currency: str) -> dict[str, str]:
    return {"amount": format_amount(cents), "currency": currency}


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


# --- reads -------------------------------------------------------------------------------------


async def viewer(db: Database, authorization: str | None, secret_key: str) -> int | None:
    token = bearer_token(authorization)
    if token is None:
        return None
    found = await db.rows(
        "SELECT user_id, expires_at FROM api_tokens WHERE token_hash = $1 AND revoked_at IS NULL",
        token_digest(token, secret_key),
    )
    if not found:
        return None
    user_id, expires_at = found[0]
    if expires_at is not None and db.moment(expires_at) <= datetime.now(UTC):
        return None
    return int(user_id)


async def users(db: Database, ids: set[int]) -> dict[int, dict[str, Any]]:
    rows = await db.rows(
        f"SELECT id, name FROM users WHERE id IN ({placeholders(len(ids))})", *sorted(ids)
    )
    return {uid: {"id": encode_id("User", uid), "name": name} for uid, name in rows}


async def milestones(
    db: Database, contracts: dict[int, str], columns: str
) -> dict[int, list[dict[str, Any]]]:
    """Each contract's milestones by position; `columns` adds money columns after the first."""
    extra = [c.strip() for c in columns.split(",") if c.strip()]
    rows = await db.rows(
        "SELECT contract_id, id, position, title, status, amount"
        + "".join(f", {c}" for c in extra)
        + f" FROM milestones WHERE contract_id IN ({placeholders(len(contracts))})"
        " AND NOT deleted ORDER BY contract_id, position",
        *sorted(contracts),
    )
    grouped: dict[int, list[dict[str, Any]]] = {cid: [] for cid in contracts}
    names = {"funded_amount": "fundedAmount", "released_amount": "releasedAmount"}
    for row in rows:
        currency = contracts[row[0]]
        milestone = {
            "id": encode_id("Milestone", row[1]),
            "position": row[2],
            "title": row[3],
            "status": row[4],
            "amount": money(row[5], currency),
        }
        for name, value in zip(extra, row[6:], strict=True):
            milestone[names[name]] = money(value, currency)
        grouped[row[0]].append(milestone)
    return grouped


CONTRACT_COLUMNS = "id, title, status, currency, created_at, client_id, freelancer_id"


async def q1(db: Database, uid: int) -> dict[str, Any]:
    """`contracts(first: 50)` as `app.bench_data.DASHBOARD` asks for it."""
    mine = "(client_id = $1 OR freelancer_id = $1)"
    total = (await db.rows(f"SELECT count(*) FROM contracts WHERE {mine}", uid))[0][0]
    rows = await db.rows(
        f"SELECT {CONTRACT_COLUMNS} FROM contracts WHERE {mine}"
        " ORDER BY created_at DESC, id DESC LIMIT 51",
        uid,
    )
    page = rows[:50]
    people = await users(db, {r[5] for r in page} | {r[6] for r in page})
    by_contract = await milestones(db, {r[0]: r[3] for r in page}, "")
    edges = []
    for row in page:
        created = db.moment(row[4])
        node = {
            "id": encode_id("Contract", row[0]),
            "title": row[1],
            "status": row[2],
            "currency": row[3],
            "createdAt": created.isoformat(),
            "client": people[row[5]],
            "freelancer": people[row[6]],
            "milestones": by_contract[row[0]],
        }
        edges.append((encode_cursor("contracts", created.isoformat(), row[0]), node))
    return {
        "contracts": {
            "totalCount": total,
            "pageInfo": {"hasNextPage": len(rows) > 50, "endCursor": edges[-1][0]},
            "edges": [{"node": node} for _, node in edges],
        }
    }


async def q2(db: Database, uid: int, contract_id: int) -> dict[str, Any]:
    """One `contract` with milestones and 20 ledger entries, as `app.bench_data.DETAIL` asks."""
    rows = await db.rows(
        f"SELECT {CONTRACT_COLUMNS}, accepted_at FROM contracts WHERE id = $1", contract_id
    )
    if not rows or uid not in (rows[0][5], rows[0][6]):
        return {"contract": None}
    row = rows[0]
    currency = row[3]
    people = await users(db, {row[5], row[6]})
    by_contract = await milestones(db, {row[0]: currency}, "funded_amount, released_amount")
    sums: dict[str, int] = {
        kind: int(total)
        for kind, total in await db.rows(
            "SELECT kind, SUM(amount) FROM ledger_entries WHERE contract_id = $1 GROUP BY kind",
            contract_id,
        )
    }
    count = (
        await db.rows("SELECT count(*) FROM ledger_entries WHERE contract_id = $1", contract_id)
    )[0][0]
    entries = await db.rows(
        "SELECT id, kind, amount, created_at, debit_account, credit_account FROM ledger_entries"
        " WHERE contract_id = $1 ORDER BY id LIMIT 21",
        contract_id,
    )
    funded = int(sums.get("FUNDING", 0))
    held = funded - int(sums.get("RELEASE", 0)) - int(sums.get("REFUND", 0))
    accepted = row[7]
    return {
        "contract": {
            "id": encode_id("Contract", row[0]),
            "title": row[1],
            "status": row[2],
            "currency": currency,
            "createdAt": db.moment(row[4]).isoformat(),
            "acceptedAt": None if accepted is None else db.moment(accepted).isoformat(),
            "client": people[row[5]],
            "freelancer": people[row[6]],
            "milestones": by_contract[row[0]],
            "escrow": {
                "held": money(held, currency),
                "totalFunded": money(funded, currency),
                "entries": {
                    "totalCount": count,
                    "pageInfo": {"hasNextPage": len(entries) > 20},
                    "edges": [
                        {
                            "node": {
                                "id": encode_id("LedgerEntry", e[0]),
                                "kind": e[1],
                                "amount": money(e[2], currency),
                                "createdAt": db.moment(e[3]).isoformat(),
                                "debitAccount": e[4],
                                "creditAccount": e[5],
                            }
                        }
                        for e in entries[:20]
                    ],
                },
            },
        }
    }


# --- the app -----------------------------------------------------------------------------------


def answer(data: dict[str, Any] | None, message: str | None = None) -> Response:
    body: dict[str, Any] = {"data": data}
    if message is not None:
        body["errors"] = [{"message": message}]
    return Response(dumps(body), media_type="application/json")


Handler = Callable[[Database, int, dict[str, Any]], Awaitable[dict[str, Any]]]


def make_app(db_url: str, secret_key: str, policy: Policy) -> Starlette:
    state: dict[str, Database] = {}

    async def read(request: Request, handler: Handler) -> Response:
        db = state["db"]
        uid = await viewer(db, request.headers.get("authorization"), secret_key)
        if uid is None:
            return answer(None, "UNAUTHENTICATED")
        body = await request.body()
        variables = orjson_loads(body).get("variables") or {} if body else {}
        try:
            return answer(await handler(db, uid, variables))
        except Refused as error:
            return answer(None, str(error))

    async def dashboard(db: Database, uid: int, variables: dict[str, Any]) -> dict[str, Any]:
        return await q1(db, uid)

    async def detail(db: Database, uid: int, variables: dict[str, Any]) -> dict[str, Any]:
        contract_id = decode_id(str(variables.get("id")), "Contract")
        return {"contract": None} if contract_id is None else await q2(db, uid, contract_id)

    def step(name: str) -> Callable[[Request], Awaitable[Response]]:
        write = STEPS[name]

        async def run(db: Database, uid: int, variables: dict[str, Any]) -> dict[str, Any]:
            payload = await write(db, uid, variables["input"], policy)
            return {name: {**payload, "userErrors": []}}

        async def endpoint(request: Request) -> Response:
            return await read(request, run)

        return endpoint

    async def q1_endpoint(request: Request) -> Response:
        return await read(request, dashboard)

    async def q2_endpoint(request: Request) -> Response:
        return await read(request, detail)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        state["db"] = await open_db(db_url)
        yield

    routes = [
        Route("/q1", q1_endpoint, methods=["POST"]),
        Route("/q2", q2_endpoint, methods=["POST"]),
    ]
    routes += [Route(f"/{name}", step(name), methods=["POST"]) for name in STEPS]
    return Starlette(routes=routes, lifespan=lifespan)


def orjson_loads(body: bytes) -> dict[str, Any]:
    try:
        import orjson

        loaded: dict[str, Any] = orjson.loads(body)
    except ImportError:  # pragma: no cover - depends on the machine
        import json

        loaded = json.loads(body)
    return loaded


async def open_db(url: str) -> Database:
    if url.startswith("postgres://"):
        import asyncpg

        dsn = "postgresql://" + url.removeprefix("postgres://").split("?", 1)[0]
        return Postgres(await asyncpg.create_pool(dsn, min_size=2, max_size=10))
    return Sqlite(url.removeprefix("sqlite://"))


def main() -> int:
    import uvicorn

    from app.settings import load_settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    args = parser.parse_args()
    settings = load_settings()
    app = make_app(args.database_url, settings.SECRET_KEY, settings.policy)
    print(f"raw baseline on http://127.0.0.1:{args.port} ({JSON})", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
