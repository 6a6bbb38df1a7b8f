"""Demo data: a client, a freelancer and an admin, with contracts in varied states."""

from __future__ import annotations

from app.db import models
from app.domain.milestones import MilestoneDraft
from app.domain.permissions import Actor
from app.graphql.ids import encode_id
from app.services import accounts, contracts
from app.services.runtime import Runtime

PASSWORD = "demo-password"
CLIENT = ("Carol Client", "client@example.com")
FREELANCER = ("Frank Freelancer", "freelancer@example.com")
ADMIN = ("Ada Admin", "admin@example.com")


def _drafts(*amounts: str) -> list[MilestoneDraft]:
    names = ["Wireframes", "Design", "Build", "Launch"]
    return [
        MilestoneDraft(title=names[i % len(names)], description="", amount=amount)
        for i, amount in enumerate(amounts)
    ]


async def _contracts(runtime: Runtime, client: Actor, freelancer: Actor) -> None:
    async def offer(title: str, *amounts: str) -> tuple[int, list[int]]:
        outcome = await contracts.create_contract(
            runtime,
            client,
            freelancer_id=freelancer.user_id,
            title=title,
            description=f"Demo contract: {title.lower()}.",
            currency="USD",
            milestones=_drafts(*amounts),
        )
        assert outcome.contract_id is not None
        rows = await models.Milestone.filter(contract_id=outcome.contract_id).order_by("position")
        return outcome.contract_id, [row.id for row in rows]

    await offer("Logo refresh (open offer)", "250.00", "150.00")

    cid, ms = await offer("Landing page (offer, first milestone funded)", "400.00", "300.00")
    await contracts.fund_milestone(runtime, client, ms[0], None)

    cid, ms = await offer("Mobile app (active, work submitted)", "1200.00", "800.00", "500.00")
    await contracts.accept_contract(runtime, freelancer, cid)
    await contracts.fund_milestone(runtime, client, ms[0], None)
    await contracts.submit_milestone(
        runtime,
        freelancer,
        ms[0],
        message="Screens attached.",
        attachments=["https://example.com/screens.pdf"],
        requested_amount=None,
        units=None,
    )

    cid, ms = await offer("Blog migration (active, partly paid)", "600.00", "200.00")
    await contracts.accept_contract(runtime, freelancer, cid)
    await contracts.fund_milestone(runtime, client, ms[0], None)
    await contracts.release_milestone(
        runtime, client, ms[0], amount="450.00", end_contract=False, idempotency_key=None
    )

    cid, ms = await offer("Data cleanup (completed)", "300.00")
    await contracts.accept_contract(runtime, freelancer, cid)
    await contracts.fund_milestone(runtime, client, ms[0], None)
    await contracts.pay_bonus(
        runtime, client, cid, amount="50.00", note="Thanks!", idempotency_key=None
    )
    await contracts.release_milestone(
        runtime, client, ms[0], amount=None, end_contract=True, idempotency_key=None
    )

    cid, _ = await offer("Podcast edit (declined)", "120.00")
    await contracts.decline_contract(runtime, freelancer, cid, "Fully booked this month.")


async def seed(runtime: Runtime) -> None:
    users = []
    fresh = not await models.User.exists(email=CLIENT[1])
    for (name, email), is_admin in ((CLIENT, False), (FREELANCER, False), (ADMIN, True)):
        user = await models.User.filter(email=email).first()
        if user is None:
            user = await accounts.create_user(
                name=name, email=email, password=PASSWORD, is_admin=is_admin
            )
        users.append(user)
    client, freelancer, admin = users
    if fresh:
        await _contracts(runtime, Actor(client.id), Actor(freelancer.id))
        print("Loaded the demo users and contracts.")
    else:
        print("The demo data is already loaded; issuing fresh tokens.")
    print(f"Every demo user's password is {PASSWORD!r}.")
    for label, user in (("client", client), ("freelancer", freelancer), ("admin", admin)):
        token = await accounts.issue_token_for(runtime, user.id, f"demo {label}")
        print(f"  {label:<10} {user.email:<24} id {encode_id('User', user.id)}")
        print(f"             Authorization: Bearer {token}")
