"""Webhook messages: Standard Webhooks signatures, safe URLs, and delivery to a real receiver."""

from __future__ import annotations

import base64
import json
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from app.notifications.addresses import Resolver, UnsafeUrl, resolve_target, system_resolve
from app.notifications.delivery import EXCERPT_BYTES, deliver, webhook_client
from app.notifications.webhooks import (
    SECRET_BYTES,
    EventMessage,
    event_body,
    message_id,
    new_secret,
    ping_body,
    signed_headers,
)
from tests.notifications.receiver import Script, receiving

SECRET = new_secret()
EVENT = EventMessage(
    event_id="Q29udHJhY3RFdmVudDo0Mg",
    contract_id="Q29udHJhY3Q6Nw",
    sequence=6,
    type="MILESTONE_RELEASED",
    occurred_at=datetime(2026, 3, 1, 12, 0, 5, tzinfo=UTC),
    actor_id=None,
    milestone_id="TWlsZXN0b25lOjEx",
    amount=90_00,
    currency="EUR",
    message=None,
)


def signed(body: str, msg_id: str = "msg_1_7_6") -> dict[str, str]:
    return signed_headers(SECRET, msg_id, datetime.now(UTC), body)


def fixed(*addresses: str) -> Resolver:
    async def resolve(host: str, port: int) -> list[str]:
        return list(addresses)

    return resolve


# --- the message -----------------------------------------------------------------------------


def test_a_secret_is_whsec_and_32_random_bytes() -> None:
    assert SECRET.startswith("whsec_") and SECRET != new_secret()
    assert len(base64.b64decode(SECRET.removeprefix("whsec_"))) == SECRET_BYTES


def test_an_event_message_carries_the_contract_and_sequence() -> None:
    assert json.loads(event_body(EVENT)) == {
        "type": "MILESTONE_RELEASED",
        "timestamp": "2026-03-01T12:00:05Z",
        "data": {
            "id": EVENT.event_id,
            "contractId": "Q29udHJhY3Q6Nw",
            "sequence": 6,
            "type": "MILESTONE_RELEASED",
            "occurredAt": "2026-03-01T12:00:05Z",
            "actorId": None,
            "milestoneId": "TWlsZXN0b25lOjEx",
            "amount": {"amount": "90.00", "currency": "EUR"},
            "message": None,
        },
    }


def test_a_ping_names_its_endpoint() -> None:
    body = json.loads(ping_body("V2ViaG9va0VuZHBvaW50OjM", EVENT.occurred_at))
    assert body["type"] == "WEBHOOK_TEST"
    assert body["data"] == {"endpointId": "V2ViaG9va0VuZHBvaW50OjM"}


def test_the_signature_verifies_with_the_standardwebhooks_package() -> None:
    body = event_body(EVENT)
    headers = signed(body)

    assert headers["webhook-id"] == message_id(1, 7, 6) == "msg_1_7_6"
    assert Webhook(SECRET).verify(body, headers)["data"]["sequence"] == 6
    with pytest.raises(WebhookVerificationError):
        Webhook(SECRET).verify(body.replace("90.00", "99.00"), headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(new_secret()).verify(body, headers)


# --- where it may go -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example/escrow", "must use https"),
        ("ftp://hooks.example/escrow", "Not a web address"),
        ("https://", "Not a web address"),
        ("https://user:pw@hooks.example/escrow", "user or password"),
        ("https://hooks.example/escrow#x", "fragment"),
    ],
)
async def test_a_url_that_is_not_plain_https_is_refused(url: str, reason: str) -> None:
    with pytest.raises(UnsafeUrl, match=reason):
        await resolve_target(url, allow_loopback=False, resolve=fixed("93.184.216.34"))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "::1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # shared (carrier-grade NAT)
        "169.254.169.254",  # cloud metadata
        "fe80::1%eth0",
        "fd00:ec2::254",  # a cloud's IPv6 metadata
        "::ffff:10.0.0.1",
        "2002:7f00:1::",  # 6to4 of 127.0.0.1
        "0.0.0.0",
        "224.0.0.1",
        "255.255.255.255",
    ],
)
async def test_a_host_that_resolves_to_a_non_public_address_is_refused(address: str) -> None:
    resolve = fixed("93.184.216.34", address)

    with pytest.raises(UnsafeUrl, match="non-public address"):
        await resolve_target("https://hooks.example/e", allow_loopback=False, resolve=resolve)


async def test_a_public_host_is_accepted_with_its_addresses() -> None:
    resolve = fixed("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")

    target = await resolve_target("https://hooks.example/e", allow_loopback=False, resolve=resolve)

    assert target.host == "hooks.example"
    assert target.addresses == ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946")


async def test_localhost_is_refused_by_the_real_resolver() -> None:
    with pytest.raises(UnsafeUrl, match="non-public address"):
        await resolve_target("https://localhost/e", allow_loopback=False, resolve=system_resolve)


async def test_a_name_that_does_not_resolve_is_refused() -> None:
    async def failing(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(UnsafeUrl, match="does not resolve"):
        await resolve_target("https://nowhere.invalid/e", allow_loopback=False, resolve=failing)


async def test_allowing_loopback_admits_http_to_127_0_0_1_only() -> None:
    target = await resolve_target("http://127.0.0.1:8080/e", allow_loopback=True)
    assert target.addresses == ("127.0.0.1",)
    with pytest.raises(UnsafeUrl, match="non-public"):
        await resolve_target("http://10.0.0.1/e", allow_loopback=True)
    with pytest.raises(UnsafeUrl, match="must use https"):
        await resolve_target(
            "http://hooks.example/e", allow_loopback=True, resolve=fixed("93.184.216.34")
        )
    with pytest.raises(UnsafeUrl, match="must use https"):
        await resolve_target("http://127.0.0.1:8080/e", allow_loopback=False)


# --- delivery --------------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with webhook_client() as opened:
        yield opened


async def test_a_delivery_reaches_the_receiver_whose_check_passes(
    client: httpx.AsyncClient,
) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        receiver.script = Script([(200, {}, b'{"ok": true}')])
        attempt = await deliver(client, receiver.url(), body, signed(body), allow_loopback=True)
        [received] = receiver.received

    assert (attempt.status_code, attempt.excerpt, attempt.succeeded) == (200, '{"ok": true}', True)
    assert attempt.duration_ms >= 0
    assert received.verified and received.path == "/hooks"
    assert json.loads(received.body)["data"]["sequence"] == 6
    assert received.headers["webhook-id"] == "msg_1_7_6"
    assert received.headers["content-type"] == "application/json"


async def test_a_receiver_that_fails_twice_gets_the_same_webhook_id_three_times(
    client: httpx.AsyncClient,
) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        receiver.script = Script([(500, {}, b"down"), (503, {}, b""), (204, {}, b"")])
        attempts = [
            await deliver(client, receiver.url(), body, signed(body), allow_loopback=True)
            for _ in range(3)
        ]
        received = list(receiver.received)

    assert [a.status_code for a in attempts] == [500, 503, 204]
    assert [a.succeeded for a in attempts] == [False, False, True]
    assert {r.headers["webhook-id"] for r in received} == {"msg_1_7_6"}
    assert all(r.verified for r in received)


async def test_a_long_answer_is_kept_truncated(client: httpx.AsyncClient) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        receiver.script = Script([(500, {}, "é".encode() * 5000)])
        attempt = await deliver(client, receiver.url(), body, signed(body), allow_loopback=True)

    assert attempt.status_code == 500
    assert attempt.excerpt == "é" * (EXCERPT_BYTES // 2)


async def test_a_redirect_is_not_followed(client: httpx.AsyncClient) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        elsewhere = {"location": receiver.url("/elsewhere")}
        receiver.script = Script([(302, elsewhere, b""), (204, {}, b"")])
        attempt = await deliver(client, receiver.url(), body, signed(body), allow_loopback=True)
        paths = [r.path for r in receiver.received]

    assert (attempt.status_code, attempt.succeeded, paths) == (302, False, ["/hooks"])


async def test_a_bad_signature_is_what_the_receiver_refuses(client: httpx.AsyncClient) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        forged = signed_headers(new_secret(), "msg_1_7_6", datetime.now(UTC), body)
        attempt = await deliver(client, receiver.url(), body, forged, allow_loopback=True)

    assert (attempt.status_code, attempt.excerpt) == (401, "bad signature")


async def test_the_address_is_checked_again_at_delivery(client: httpx.AsyncClient) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        refused = await deliver(client, receiver.url(), body, signed(body), allow_loopback=False)
        rebound = await deliver(
            client,
            receiver.url(host="hooks.example"),
            body,
            signed(body),
            allow_loopback=True,
            resolve=fixed("10.0.0.7"),
        )
        assert receiver.received == []

    assert (refused.status_code, refused.succeeded) == (None, False)
    assert refused.excerpt == "Not delivered: A webhook URL must use https"
    assert rebound.status_code is None
    assert rebound.excerpt == (
        "Not delivered: The host hooks.example resolves to a non-public address (10.0.0.7)"
    )


async def test_the_request_goes_to_the_checked_address_under_the_urls_host(
    client: httpx.AsyncClient,
) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        url = receiver.url(host="partner.test")  # a name no DNS knows: only the check resolves it
        attempt = await deliver(
            client,
            url,
            body,
            signed(body),
            allow_loopback=True,
            resolve=fixed("127.0.0.1"),
        )
        [received] = receiver.received

    assert attempt.status_code == 204
    assert received.headers["host"] == f"partner.test:{receiver.port}"


async def test_over_https_the_certificate_is_checked_for_the_urls_host(
    partner_certificate: tuple[Path, Path],
) -> None:
    # given: a receiver whose certificate names partner.test, reached at its checked address
    cert, key = partner_certificate
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(cert, key)
    body = event_body(EVENT)
    local = fixed("127.0.0.1")
    with receiving(SECRET, tls=served) as receiver:
        url = receiver.url(host="partner.test")
        untrusted = webhook_client()  # certifi's authorities do not know the test's own

        # when
        async with webhook_client(ssl.create_default_context(cafile=cert)) as trusting:
            attempt = await deliver(
                trusting, url, body, signed(body), allow_loopback=True, resolve=local
            )
        async with untrusted:
            refused = await deliver(
                untrusted, url, body, signed(body), allow_loopback=True, resolve=local
            )

    # then
    assert attempt.status_code == 204 and receiver.received[0].verified
    assert receiver.received[0].headers["host"] == f"partner.test:{receiver.port}"
    assert len(receiver.received) == 1
    assert refused.status_code is None
    assert "CERTIFICATE_VERIFY_FAILED" in refused.excerpt


async def test_a_receiver_that_does_not_answer_in_time_fails_the_attempt(
    client: httpx.AsyncClient,
) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        receiver.script = Script(delay=2.0)
        attempt = await deliver(
            client, receiver.url(), body, signed(body), allow_loopback=True, time_limit=0.2
        )

    assert (attempt.status_code, attempt.excerpt) == (None, "No answer within 0.2 s")


async def test_a_receiver_that_is_not_there_fails_the_attempt(client: httpx.AsyncClient) -> None:
    body = event_body(EVENT)
    with receiving(SECRET) as receiver:
        gone = receiver.url()
    attempt = await deliver(client, gone, body, signed(body), allow_loopback=True)

    assert attempt.status_code is None and attempt.excerpt.startswith("ConnectError")
