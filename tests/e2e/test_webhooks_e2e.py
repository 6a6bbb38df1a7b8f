"""Partner webhooks end to end: a real `python -m app serve` process delivers contract events to
the test's HTTP receiver on 127.0.0.1 (WEBHOOK_ALLOW_LOOPBACK=true), which checks every
signature with the `standardwebhooks` package; retries keep the message's `webhook-id`; a
worker killed with SIGKILL mid-delivery loses nothing; two processes on one PostgreSQL database
send each attempt once."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from app.notifications.webhooks import new_secret
from tests.e2e.conftest import _free_port, _seed, _server_env, _stop
from tests.e2e.notified import Pair, payload, received, register, settled, two_servers
from tests.e2e.postgres import SHARED_SERVER, fresh_database, prepare, server_env, tokens
from tests.e2e.servers import (
    Server,
    active_contract,
    http,
    pay_bonus,
    running,
    start_server,
    wait_ready,
)
from tests.notifications.receiver import Receiver, receiving

pytestmark = [pytest.mark.e2e, pytest.mark.own_database("sqlite")]
ON_POSTGRES = pytest.mark.own_database("postgres")

# Retries a second apart (the outbox is read every second).
FAST = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_RETRY_SCHEDULE": "1s,1s"}
Answer = tuple[int, dict[str, str], bytes]
FAILED: Answer = (500, {}, b"try again later")
OK: Answer = (204, {}, b"")
# A claim (lease) of a killed worker must lapse before another worker sends its row again.
LAPSE = 120.0


@dataclass(frozen=True)
class Demo:
    server: Server
    workdir: Path
    env: dict[str, str]
    client: str
    freelancer: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    """`serve` on SQLite with the demo data: there it is the one worker."""
    workdir = tmp_path_factory.mktemp("e2e-webhooks")
    env = {**_server_env(workdir), **FAST}
    client, freelancer, _ = _seed(workdir, env)
    with running(start_server(workdir, env)) as (server,):
        yield Demo(server, workdir, env, client, freelancer)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving(new_secret()) as receiver:  # the endpoint's own secret once registered
        yield receiver


async def test_a_contract_event_arrives_signed_with_its_contract_and_sequence(
    demo: Demo, receiver: Receiver
) -> None:
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client, demo.freelancer)
        endpoint = await register(api, demo.client, receiver, ["BONUS_PAID"])
        await pay_bonus(api, demo.client, contract.id, "7.50")  # event 3

        [request] = await received(receiver, 1)
        assert request.verified, request.headers
        assert request.path == "/hooks"
        assert request.headers["content-type"].startswith("application/json")
        body = payload(request)
        assert body["type"] == "BONUS_PAID"
        assert body["data"]["contractId"] == contract.id
        assert body["data"]["sequence"] == 3
        assert body["data"]["amount"]["amount"] == "7.50"

        [delivery] = await settled(api, demo.client, endpoint, 1)
        assert (delivery["eventType"], delivery["attempt"], delivery["statusCode"]) == (
            "BONUS_PAID",
            1,
            204,
        )


async def test_a_receiver_failing_twice_gets_the_same_webhook_id_three_times(
    demo: Demo, receiver: Receiver
) -> None:
    receiver.script.answers = [FAILED, FAILED, OK]
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client, demo.freelancer)
        endpoint = await register(api, demo.client, receiver, ["BONUS_PAID"])
        await pay_bonus(api, demo.client, contract.id)

        requests = await received(receiver, 3)
        attempts = await settled(api, demo.client, endpoint, 3)

    assert all(request.verified for request in requests)
    assert len({request.headers["webhook-id"] for request in requests}) == 1
    assert [payload(request)["data"]["sequence"] for request in requests] == [3, 3, 3]
    assert sorted((d["attempt"], d["statusCode"]) for d in attempts) == [
        (1, 500),
        (2, 500),
        (3, 204),
    ]
    assert len(receiver.received) == 3  # settled: no attempt is due any more


async def test_a_worker_killed_mid_delivery_loses_nothing(demo: Demo, receiver: Receiver) -> None:
    # given a receiver that holds the first request open
    receiver.script.delay = 8.0
    async with http(demo.server) as api:
        contract = await active_contract(api, demo.client, demo.freelancer)
        endpoint = await register(api, demo.client, receiver, ["BONUS_PAID"])
        await pay_bonus(api, demo.client, contract.id)
        [first] = await received(receiver, 1)
    # when the one worker (serve, on SQLite) is killed while it waits for the answer
    demo.server.process.send_signal(signal.SIGKILL)
    demo.server.process.wait(timeout=10)
    receiver.script.delay = 0.0
    restarted = start_server(demo.workdir, demo.env, demo.server.name, demo.server.port)
    demo.server.process = restarted.process  # the module's server from now on, stopped with it
    wait_ready(restarted)
    # then, once its claim has lapsed, the restarted worker sends the same message again
    _, again = await received(receiver, 2, within=LAPSE)
    async with http(restarted) as api:
        attempts = await settled(api, demo.client, endpoint, 1, within=LAPSE)
    assert again.verified
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert payload(again)["data"] == payload(first)["data"]
    assert any(d["statusCode"] == 204 for d in attempts), attempts


# --- two processes on one PostgreSQL database ----------------------------------------------


@pytest.fixture(scope="module")
async def pair(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Pair]:
    async with two_servers(tmp_path_factory.mktemp("e2e-webhooks-pg"), "hooks", **FAST) as pair:
        yield pair


BONUSES = 12


@ON_POSTGRES
async def test_two_processes_on_one_database_send_each_attempt_once(
    pair: Pair, receiver: Receiver
) -> None:
    # given a receiver that fails the first request, then accepts all
    receiver.script.answers = [FAILED, OK]
    async with http(pair.first) as first, http(pair.second) as second:
        contract = await active_contract(first, pair.client, pair.freelancer)
        endpoint = await register(first, pair.client, receiver, ["BONUS_PAID"])
        # when bonuses are paid through both processes, whose workers both poll the outbox
        for n in range(BONUSES):
            await pay_bonus(first if n % 2 else second, pair.client, contract.id)
        attempts = await settled(first, pair.client, endpoint, BONUSES + 1)

    # then each message arrived once, and the one that failed once more: one per attempt
    arrivals = Counter(payload(request)["data"]["id"] for request in receiver.received)
    rows = Counter(delivery["eventId"] for delivery in attempts)
    assert arrivals == rows  # per message: as many requests as attempts recorded
    assert sorted(rows.values()) == [1] * (BONUSES - 1) + [2]
    assert len({(d["eventId"], d["attempt"]) for d in attempts}) == len(attempts)
    assert all(request.verified for request in receiver.received)
    assert len({request.headers["webhook-id"] for request in receiver.received}) == BONUSES
    sequences = {payload(request)["data"]["sequence"] for request in receiver.received}
    assert sequences == set(range(3, 3 + BONUSES))
    # and the two processes' /metrics count them once between them
    counted = Counter[str]()
    for server in (pair.first, pair.second):
        async with http(server) as api:
            counted.update(outcomes(await api.client.get("/metrics")))
    assert (counted["succeeded"], counted["failed"]) == (BONUSES, 1), counted
    print(
        f"delivery figures: {BONUSES} messages, {len(receiver.received)} requests received, "
        f"{len(attempts) - BONUSES} retries, "
        f"{sum(arrivals.values()) - len(attempts)} duplicates beyond the attempts"
    )


def outcomes(metrics: httpx.Response) -> Counter[str]:
    """`webhook_deliveries_total` of one process, by outcome."""
    found = Counter[str]()
    for line in metrics.text.splitlines():
        if line.startswith("webhook_deliveries_total{"):
            labels, value = line.rsplit(" ", 1)
            found[labels.split('outcome="', 1)[1].split('"', 1)[0]] += int(float(value))
    return found


@pytest.fixture(scope="module")
async def apart(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Demo]:
    """A server on PostgreSQL that runs no workers (`serve --no-jobs`): run-jobs delivers."""
    async with fresh_database(SHARED_SERVER, "apart") as (url, _):
        workdir = tmp_path_factory.mktemp("e2e-webhooks-apart")
        env = server_env(workdir, url, **FAST)
        await prepare(workdir, env)
        port = _free_port()
        address = ["--host", "127.0.0.1", "--port", str(port)]
        with command(workdir, env, "server", "serve", *address, "--no-jobs") as process:
            server = Server("server", process, "127.0.0.1", port, workdir / "server.log")
            wait_ready(server)
            client, freelancer = await tokens(server)
            yield Demo(server, workdir, env, client, freelancer)


@contextlib.contextmanager
def command(
    workdir: Path, env: dict[str, str], name: str, *args: str
) -> Iterator[subprocess.Popen[bytes]]:
    """`python -m app <args>` running beside the test, logged to `<name>.log`, which is shown
    if the block fails; stopped at the end."""
    log = workdir / f"{name}.log"
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "app", *args],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    except BaseException:
        print(f"--- {name} ---\n" + log.read_text(encoding="utf-8", errors="replace"))
        raise
    finally:
        _stop(process)


@ON_POSTGRES
async def test_run_jobs_killed_mid_delivery_loses_nothing(apart: Demo, receiver: Receiver) -> None:
    # given a receiver that holds the first request open
    receiver.script.delay = 8.0
    async with http(apart.server) as api:
        contract = await active_contract(api, apart.client, apart.freelancer)
        endpoint = await register(api, apart.client, receiver, ["BONUS_PAID"])
        with command(apart.workdir, apart.env, "run-jobs", "run-jobs") as worker:
            await pay_bonus(api, apart.client, contract.id)
            [first] = await received(receiver, 1)
            # when the run-jobs process is killed while it waits for the answer
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=10)
        receiver.script.delay = 0.0
        # then another run-jobs process sends the same message once the claim has lapsed
        with command(apart.workdir, apart.env, "run-jobs-again", "run-jobs"):
            _, again = await received(receiver, 2, within=LAPSE)
            attempts = await settled(api, apart.client, endpoint, 1, within=LAPSE)
    assert again.verified
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert payload(again)["data"] == payload(first)["data"]
    assert any(d["statusCode"] == 204 for d in attempts), attempts
