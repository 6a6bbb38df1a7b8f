"""The command line: `python -m app serve | migrate | seed-demo | seed-bench | create-user |
run-jobs | export-schema`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import sys
from collections.abc import Sequence
from pathlib import Path

from app import bench_data
from app.bootstrap import bootstrap, started
from app.db.config import migrate_database
from app.domain.errors import DomainError
from app.settings import Settings, SettingsError, ensure_secret_key, load_settings


def _settings(**overrides: object) -> Settings:
    return ensure_secret_key(load_settings(**overrides))


async def _migrate(settings: Settings) -> None:
    await migrate_database(settings.DATABASE_URL)


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import create_app
    from app.web.access_log import log_config

    overrides = {k: v for k, v in (("HOST", args.host), ("PORT", args.port)) if v is not None}
    settings = _settings(**overrides)
    asyncio.run(_migrate(settings))
    print(f"Serving GraphQL on http://{settings.HOST}:{settings.PORT}/graphql", flush=True)
    if args.no_jobs:
        print("Jobs are off here: run `python -m app run-jobs`.", flush=True)
    else:
        _say_if_email_is_off(settings)
    app = create_app(settings, jobs=not args.no_jobs)
    # Long-lived objects (the app, the schema) leave the collector's young generations, and
    # collections run less often: fan-out to many subscribers allocates many short-lived ones.
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told otherwise: only the proxies
    # named by FORWARDED_ALLOW_IPS may set the client's address.
    proxies = settings.FORWARDED_ALLOW_IPS.strip()
    uvicorn.run(
        app,
        host=settings.HOST,
        port=settings.PORT,
        log_level="info",
        log_config=log_config(),
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        ws="websockets-sansio",
        lifespan="on",
    )
    return 0


def _say_if_email_is_off(settings: Settings) -> None:
    from app.services.workers import EMAIL_OFF

    if settings.smtp is None:
        print(EMAIL_OFF, flush=True)


def migrate(args: argparse.Namespace) -> int:
    asyncio.run(_migrate(_settings()))
    print("Migrations applied.")
    return 0


def create_user(args: argparse.Namespace) -> int:
    from app.services.accounts import create_user as create

    settings = _settings()

    async def run() -> int:
        await _migrate(settings)
        async with started(settings, bootstrap(settings), listen=False):
            try:
                user = await create(
                    name=args.name, email=args.email, password=args.password, is_admin=args.admin
                )
            except DomainError as error:
                print(f"create-user: {error}", file=sys.stderr)
                return 1
        print(f"Created {'admin ' if user.is_admin else ''}user {user.email} (id {user.id}).")
        return 0

    return asyncio.run(run())


def seed_demo(args: argparse.Namespace) -> int:
    from app.demo import seed

    settings = _settings()

    async def run() -> None:
        await _migrate(settings)
        runtime = bootstrap(settings)
        async with started(settings, runtime, listen=False):
            await seed(runtime)

    asyncio.run(run())
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    from app.graphql.ids import encode_id
    from app.services.workers import Jobs, run_forever, run_once

    settings = _settings()
    runtime = bootstrap(settings)
    jobs = Jobs.of(settings, runtime, encode_id)

    async def run() -> None:
        await _migrate(settings)
        async with started(settings, runtime, listen=False):
            if args.once:
                print(await run_once(jobs))
            else:
                print(
                    f"Running deadlines and reminders every {settings.JOBS_INTERVAL}, the "
                    "outbox every second; Ctrl+C stops.",
                    flush=True,
                )
                await run_forever(jobs)

    _say_if_email_is_off(settings)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run())
    return 0


def export_schema(args: argparse.Namespace) -> int:
    from app.graphql.schema import schema

    Path(args.output).write_text(str(schema) + "\n", encoding="utf-8")
    print(f"Wrote {args.output}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m app", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="migrate, then serve GraphQL")
    serve_parser.add_argument("--host")
    serve_parser.add_argument("--port", type=int)
    serve_parser.add_argument(
        "--no-jobs",
        action="store_true",
        help="no deadlines, reminders, e-mails or webhooks here (run-jobs sends them)",
    )
    serve_parser.set_defaults(run=serve)
    commands.add_parser("migrate", help="apply migrations").set_defaults(run=migrate)
    commands.add_parser("seed-demo", help="load demo users and contracts").set_defaults(
        run=seed_demo
    )
    bench_parser = commands.add_parser("seed-bench", help="load the benchmark data set")
    bench_data.add_arguments(bench_parser)
    bench_parser.set_defaults(run=bench_data.seed_bench)
    user_parser = commands.add_parser("create-user", help="create a user")
    user_parser.add_argument("--email", required=True)
    user_parser.add_argument("--name", required=True)
    user_parser.add_argument("--password", required=True)
    user_parser.add_argument("--admin", action="store_true")
    user_parser.set_defaults(run=create_user)
    jobs_parser = commands.add_parser(
        "run-jobs", help="apply deadlines, send reminders, e-mails and webhooks"
    )
    jobs_parser.add_argument("--once", action="store_true", help="one pass, then exit")
    jobs_parser.set_defaults(run=run_jobs)
    export_parser = commands.add_parser("export-schema", help="write schema.graphql")
    export_parser.add_argument("--output", default="schema.graphql")
    export_parser.set_defaults(run=export_schema)
    args = parser.parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    return code
