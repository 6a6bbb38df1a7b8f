"""argon2 runs off the event loop (issue 7 §15): while logins and registrations hash or verify
a password, the process keeps answering `/healthz`. Counted, not timed: the argon2 call is
held open until the health checks are done, and each answer records whether it came while a
call was still in progress."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from app.auth import passwords
from app.services import accounts
from tests.api.client import Api
from tests.api.operations import LOGIN, REGISTER, register

PASSWORD = "correct horse battery"
HEALTH_CHECKS = 10
HOLD_SECONDS = 5.0  # the longest a held call waits: only reached when the loop is blocked


class HeldCall:
    """Wraps a blocking function so that each call waits until released (or HOLD_SECONDS)."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.entered = threading.Event()
        self.release = threading.Event()
        self.in_progress = 0
        self._lock = threading.Lock()

    def __call__(self, *args: Any) -> Any:
        with self._lock:
            self.in_progress += 1
        self.entered.set()
        try:
            self.release.wait(HOLD_SECONDS)
            return self.function(*args)
        finally:
            with self._lock:
                self.in_progress -= 1


async def _health_checks_during(held: HeldCall, http: httpx.AsyncClient, calls: list[Any]) -> int:
    """How many health checks were answered while an argon2 call was in progress."""
    tasks = [asyncio.create_task(call) for call in calls]
    await asyncio.to_thread(held.entered.wait, HOLD_SECONDS)
    answered_meanwhile = 0
    for _ in range(HEALTH_CHECKS):
        response = await http.get("/healthz")
        assert response.status_code == 200
        answered_meanwhile += held.in_progress > 0
    held.release.set()
    for result in await asyncio.gather(*tasks):
        assert result.status_code == 200
    return answered_meanwhile


async def test_healthz_answers_while_logins_verify_passwords(
    api: Api, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given a user, and password verification held open
    await register(api, "Grace", "grace@example.com", PASSWORD)
    held = HeldCall(passwords.verify_password)
    monkeypatch.setattr(accounts, "verify_password", held)
    credentials = {"email": "grace@example.com", "password": PASSWORD}
    body = {"query": LOGIN, "variables": {"input": credentials}}
    # when three logins verify and health checks come in
    logins = [http.post("/graphql", json=body) for _ in range(3)]
    answered = await _health_checks_during(held, http, logins)
    # then every health check was answered while the verification was still running
    assert answered == HEALTH_CHECKS


async def test_healthz_answers_while_a_registration_hashes_its_password(
    api: Api, http: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    held = HeldCall(passwords.hash_password)
    monkeypatch.setattr(accounts, "hash_password", held)
    variables = {"input": {"name": "Grace", "email": "grace@example.com", "password": PASSWORD}}
    answered = await _health_checks_during(
        held, http, [http.post("/graphql", json={"query": REGISTER, "variables": variables})]
    )
    assert answered == HEALTH_CHECKS
