"""The viewer's notifications through the API (issue 11, point 1): written with each event for
the people it concerns, read newest first as a connection, counted, marked read, chosen per
type for e-mail, found by `node` only by their recipient, and pushed by `notificationAdded` on
both WebSocket subprotocols."""

from __future__ import annotations

from typing import Any

import pytest

from app.db import models
from app.events.fanout import Notice
from app.graphql.ids import decode_id
from app.services.notifications import MAX_MARKED_IDS
from app.services.runtime import Runtime
from tests.api.client import Api
from tests.api.operations import Payload
from tests.api.people import Parties
from tests.api.scenarios import active, funded, milestone_ids
from tests.api.test_subscriptions import until
from tests.api.websocket import WebSocketSession, websocket
from tests.support import FrozenClock

SUBPROTOCOLS = ["graphql-transport-ws", "graphql-ws"]

NOTIFICATIONS = """
query($first: Int, $after: String, $last: Int, $before: String, $unread: Boolean) {
  viewer {
    unreadNotificationCount
    notifications(first: $first, after: $after, last: $last, before: $before, unread: $unread) {
      totalCount
      pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      edges { cursor node { id type title body readAt contract { id } milestone { id } } }
    }
  }
}
"""
OF_THE_CLIENT = """
query($id: ID!) {
  contract(id: $id) { client { notifications { totalCount } unreadNotificationCount
                                notificationSettings { type } webhookEndpoints { id } } }
}
"""
NODE = "query($id: ID!) { node(id: $id) { id ... on Notification { type title } } }"
MARK_READ = """
mutation($input: MarkNotificationsReadInput!) {
  markNotificationsRead(input: $input) {
    marked unreadNotificationCount userErrors { code field message }
  }
}
"""
SETTINGS = "query { viewer { notificationSettings { type email } } }"
UPDATE_SETTINGS = """
mutation($input: UpdateNotificationSettingsInput!) {
  updateNotificationSettings(input: $input) {
    notificationSettings { type email } userErrors { code field message }
  }
}
"""
ADDED = "subscription { notificationAdded { id type title contract { id } } }"
FUND = "mutation($id: ID!) { fundMilestone(input: {milestoneId: $id}) { userErrors { code } } }"
SUBMIT = "mutation($id: ID!) { submitMilestone(input: {milestoneId: $id}) { userErrors { code } } }"


async def notifications(api: Api, token: str, **arguments: Any) -> Payload:
    data = await api.ok(NOTIFICATIONS, arguments, token)
    viewer: Payload = data["viewer"]
    return viewer


def types(viewer: Payload) -> list[str]:
    return [edge["node"]["type"] for edge in viewer["notifications"]["edges"]]


async def test_each_event_notifies_the_other_party_newest_first(api: Api, parties: Parties) -> None:
    # when the client offers, the freelancer accepts and the client funds
    contract = await funded(api, parties, "100.00")

    # then the freelancer was told of the offer and the funding, the client of the acceptance
    freelancer = await notifications(api, parties.freelancer.token)
    client = await notifications(api, parties.client.token)
    outsider = await notifications(api, parties.outsider.token)
    assert types(freelancer) == ["MILESTONE_FUNDED", "CONTRACT_OFFERED"]
    assert types(client) == ["CONTRACT_ACCEPTED"]
    assert types(outsider) == []
    assert freelancer["unreadNotificationCount"] == 2
    assert freelancer["notifications"]["totalCount"] == 2
    funding = freelancer["notifications"]["edges"][0]["node"]
    assert funding["contract"] == {"id": contract["id"]}
    assert funding["milestone"] == {"id": milestone_ids(contract)[0]}
    assert "100.00 USD" in funding["title"] + funding["body"]
    assert funding["readAt"] is None


async def test_notifications_are_shown_on_the_viewer_only(api: Api, parties: Parties) -> None:
    # given a contract whose client has a notification
    contract = await active(api, parties)

    # when the freelancer, an admin and the client read the client's lists through the contract
    seen = {
        who: (await api.ok(OF_THE_CLIENT, {"id": contract["id"]}, member.token))["contract"]
        for who, member in [
            ("freelancer", parties.freelancer),
            ("admin", parties.admin),
            ("client", parties.client),
        ]
    }

    # then only the client sees them
    hidden = {
        "notifications": None,
        "unreadNotificationCount": None,
        "notificationSettings": None,
        "webhookEndpoints": None,
    }
    assert seen["freelancer"]["client"] == hidden
    assert seen["admin"]["client"] == hidden
    assert seen["client"]["client"]["notifications"] == {"totalCount": 1}
    assert seen["client"]["client"]["unreadNotificationCount"] == 1


async def test_a_notification_is_a_node_of_its_recipient_only(api: Api, parties: Parties) -> None:
    # given the client's notification of the acceptance
    await active(api, parties)
    client = await notifications(api, parties.client.token)
    notification = client["notifications"]["edges"][0]["node"]

    # when each reads it by id
    own = await api.ok(NODE, {"id": notification["id"]}, parties.client.token)
    other = await api.ok(NODE, {"id": notification["id"]}, parties.freelancer.token)
    admin = await api.ok(NODE, {"id": notification["id"]}, parties.admin.token)

    # then
    assert own["node"] == {
        "id": notification["id"],
        "type": "CONTRACT_ACCEPTED",
        "title": notification["title"],
    }
    assert other["node"] is None
    assert admin["node"] is None


async def test_pages_go_forward_and_backward_and_filter_by_unread(
    api: Api, parties: Parties
) -> None:
    # given three notifications of the freelancer's, the newest read
    contract = await funded(api, parties, "100.00")
    await api.ok(
        'mutation($id: ID!) { payBonus(input: {contractId: $id, amount: "5.00"}) '
        "{ userErrors { code } } }",
        {"id": contract["id"]},
        parties.client.token,
    )
    every = await notifications(api, parties.freelancer.token)
    assert types(every) == ["BONUS_PAID", "MILESTONE_FUNDED", "CONTRACT_OFFERED"]
    newest = every["notifications"]["edges"][0]["node"]["id"]
    await api.ok(MARK_READ, {"input": {"ids": [newest]}}, parties.freelancer.token)

    # when paging by one, forward then backward
    first = await notifications(api, parties.freelancer.token, first=1)
    second = await notifications(
        api,
        parties.freelancer.token,
        first=1,
        after=first["notifications"]["pageInfo"]["endCursor"],
    )
    back = await notifications(
        api,
        parties.freelancer.token,
        last=1,
        before=second["notifications"]["pageInfo"]["startCursor"],
    )
    unread = await notifications(api, parties.freelancer.token, unread=True)
    read = await notifications(api, parties.freelancer.token, unread=False)

    # then
    assert types(first) == ["BONUS_PAID"]
    assert first["notifications"]["pageInfo"]["hasNextPage"] is True
    assert types(second) == ["MILESTONE_FUNDED"]
    assert second["notifications"]["pageInfo"]["hasPreviousPage"] is True
    assert types(back) == ["BONUS_PAID"]
    assert types(unread) == ["MILESTONE_FUNDED", "CONTRACT_OFFERED"]
    assert unread["notifications"]["totalCount"] == 2
    assert types(read) == ["BONUS_PAID"]


async def test_a_cursor_of_another_connection_is_refused(api: Api, parties: Parties) -> None:
    # given a cursor of a contract's events
    contract = await active(api, parties)
    events = await api.ok(
        "query($id: ID!) { contract(id: $id) { events(first: 1) { pageInfo { endCursor } } } }",
        {"id": contract["id"]},
        parties.client.token,
    )
    cursor = events["contract"]["events"]["pageInfo"]["endCursor"]

    # when it is given to the notifications
    result = await api.raw(NOTIFICATIONS, {"after": cursor}, parties.client.token)

    # then
    assert result.codes == ["BAD_REQUEST"]
    assert "invalid cursor" in result.errors[0]["message"]


async def test_marking_read_by_ids_touches_only_the_viewers_own(api: Api, parties: Parties) -> None:
    # given a notification each for the client and the freelancer
    await active(api, parties)
    client_id = (await notifications(api, parties.client.token))["notifications"]["edges"][0]
    freelancer_id = (await notifications(api, parties.freelancer.token))["notifications"]["edges"][
        0
    ]

    # when the freelancer marks both ids read
    ids = [client_id["node"]["id"], freelancer_id["node"]["id"]]
    data = await api.ok(MARK_READ, {"input": {"ids": ids}}, parties.freelancer.token)

    # then only the freelancer's was marked; the client's stays unread
    assert data["markNotificationsRead"] == {
        "marked": 1,
        "unreadNotificationCount": 0,
        "userErrors": [],
    }
    after = await notifications(api, parties.freelancer.token)
    assert after["notifications"]["edges"][0]["node"]["readAt"] is not None
    assert (await notifications(api, parties.client.token))["unreadNotificationCount"] == 1


async def test_marking_all_read_and_again(api: Api, parties: Parties) -> None:
    # given two unread notifications of the freelancer's
    await funded(api, parties, "100.00")

    # when all are marked read, twice
    once = await api.ok(MARK_READ, {"input": {"all": True}}, parties.freelancer.token)
    twice = await api.ok(MARK_READ, {"input": {"all": True}}, parties.freelancer.token)

    # then the second changes nothing
    assert once["markNotificationsRead"]["marked"] == 2
    assert twice["markNotificationsRead"]["marked"] == 0
    assert twice["markNotificationsRead"]["unreadNotificationCount"] == 0


@pytest.mark.parametrize("given", [{}, {"ids": [], "all": False}])
async def test_marking_read_without_ids_or_all_is_refused(
    api: Api, parties: Parties, given: dict[str, Any]
) -> None:
    await active(api, parties)
    result = await api.raw(MARK_READ, {"input": given}, parties.client.token)
    assert result.errors == []
    assert result.data is not None
    payload = result.data["markNotificationsRead"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["ids"])]
    assert (payload["marked"], payload["unreadNotificationCount"]) == (None, None)
    assert (await notifications(api, parties.client.token))["unreadNotificationCount"] == 1


async def test_settings_are_per_type_and_default_to_email(api: Api, parties: Parties) -> None:
    # given
    before = (await api.ok(SETTINGS, None, parties.client.token))["viewer"]["notificationSettings"]
    assert {s["email"] for s in before} == {True}
    assert len(before) == 24

    # when the client turns e-mail off for two types
    off = [{"type": "MILESTONE_SUBMITTED", "email": False}, {"type": "BONUS_PAID", "email": False}]
    data = await api.ok(UPDATE_SETTINGS, {"input": {"settings": off}}, parties.client.token)

    # then those two are off, for the client only
    after = data["updateNotificationSettings"]["notificationSettings"]
    assert {s["type"] for s in after if not s["email"]} == {"MILESTONE_SUBMITTED", "BONUS_PAID"}
    reread = (await api.ok(SETTINGS, None, parties.client.token))["viewer"]["notificationSettings"]
    assert reread == after
    other = (await api.ok(SETTINGS, None, parties.freelancer.token))["viewer"]
    assert {s["email"] for s in other["notificationSettings"]} == {True}


def _start(subprotocol: str) -> str:
    return "subscribe" if subprotocol == "graphql-transport-ws" else "start"


async def _next(ws: WebSocketSession) -> Payload | None:
    """The next message but graphql-ws keep-alives."""
    message = await ws.receive()
    while message is not None and message.get("type") == "ka":
        message = await ws.receive()
    return message


def _added(message: Payload | None) -> Payload:
    assert message is not None and message["id"] == "n", message
    assert message["type"] in ("next", "data"), message
    added: Payload = message["payload"]["data"]["notificationAdded"]
    return added


@pytest.mark.parametrize("subprotocol", SUBPROTOCOLS)
async def test_notification_added_pushes_the_viewers_new_notifications(
    api: Api, parties: Parties, runtime: Runtime, subprotocol: str
) -> None:
    # given the client's notification of the acceptance, and a subscription opened after it
    contract = await active(api, parties)
    async with websocket(api.app, subprotocol, parties.client.token) as ws:
        await ws.send({"id": "n", "type": _start(subprotocol), "payload": {"query": ADDED}})
        fanout = runtime.bus.fanout
        await until(lambda: fanout.subscriber_count == 1, "the subscriber is on the fan-out")

        # when the client funds (the freelancer is told) and the freelancer submits work
        await api.ok(FUND, {"id": milestone_ids(contract)[0]}, parties.client.token)
        await api.ok(SUBMIT, {"id": milestone_ids(contract)[0]}, parties.freelancer.token)
        message = await _next(ws)

    # then the client received the submission only: the acceptance was before, the funding
    # was the client's own step
    added = _added(message)
    assert added["type"] == "MILESTONE_SUBMITTED"
    assert added["contract"] == {"id": contract["id"]}


async def test_a_notification_committed_after_a_newer_one_still_arrives_once(
    api: Api, parties: Parties, runtime: Runtime, clock: FrozenClock
) -> None:
    # given a subscription of the client's
    contract = await active(api, parties)
    client_pk = decode_id(parties.client.id, "User")
    assert client_pk is not None
    newest = await models.Notification.all().order_by("-id").first()
    assert newest is not None
    async with websocket(api.app, "graphql-transport-ws", parties.client.token) as ws:
        await ws.send({"id": "n", "type": "subscribe", "payload": {"query": ADDED}})
        fanout = runtime.bus.fanout
        await until(lambda: fanout.subscriber_count == 1, "the subscriber is on the fan-out")

        # when a notification commits and is delivered, and then one with a lower id commits
        # (as two transactions may on PostgreSQL), and then an event concerns the client
        received = []
        for pk, title in [(newest.id + 10, "later id"), (newest.id + 5, "earlier id")]:
            await models.Notification.create(
                id=pk,
                recipient_id=client_pk,
                type="BONUS_PAID",
                title=title,
                body="",
                created_at=clock(),
            )
            runtime.bus.committed(Notice(contract_id=0, sequence=0, party_ids=(client_pk,)))
            received.append(_added(await _next(ws))["title"])
        await api.ok(FUND, {"id": milestone_ids(contract)[0]}, parties.client.token)
        await api.ok(SUBMIT, {"id": milestone_ids(contract)[0]}, parties.freelancer.token)
        third = _added(await _next(ws))

    # then each arrived once, in the order they committed
    assert received == ["later id", "earlier id"]
    assert third["type"] == "MILESTONE_SUBMITTED"


async def test_marking_more_than_the_cap_of_ids_is_refused(api: Api, parties: Parties) -> None:
    # given the client's notification
    await active(api, parties)
    client = await notifications(api, parties.client.token)
    own_id = client["notifications"]["edges"][0]["node"]["id"]

    # when it is named among MAX_MARKED_IDS + 1 ids
    ids = [own_id] * (MAX_MARKED_IDS + 1)
    result = await api.raw(MARK_READ, {"input": {"ids": ids}}, parties.client.token)

    # then nothing is marked
    assert result.data is not None
    payload = result.data["markNotificationsRead"]
    assert [(e["code"], e["field"]) for e in payload["userErrors"]] == [("INVALID_INPUT", ["ids"])]
    assert (await notifications(api, parties.client.token))["unreadNotificationCount"] == 1
