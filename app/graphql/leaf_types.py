"""What every object type builds on: the Node interface, Money, users, and reading plain fields.

A plain field (one without a resolver) takes the value of the record's field of the same name,
money from its cents, so a field shown as is needs only its declaration on the type. Strawberry
builds types from declarations, not from records, hence `plain_values`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.types.base import StrawberryOptional, get_object_definition
from strawberry.types.private import is_private

from app.domain.money import format_amount
from app.graphql.compiled.relation import private
from app.graphql.context import Info
from app.graphql.ids import encode_id
from app.graphql.pagination import After, Before, First, Last
from app.graphql.scalars import Decimal
from app.services.accounts import Principal
from app.services.records import UserRecord

if TYPE_CHECKING:  # the viewer's own lists: types that build on this module's, read lazily
    from app.graphql.notifications import NotificationConnection, NotificationSetting
    from app.graphql.webhooks import WebhookEndpoint

_OWN = "; null on any other user (admins included)."


@strawberry.interface(
    description="An object with an opaque global id: `node(id)` and `nodes(ids)` fetch it again, "
    "and a client cache can key it by `id`."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="Its global id: opaque (do not decode it), unique across every type, stable."
    )


def global_id(type_name: str, pk: int | None) -> strawberry.ID:
    """The global id of a stored record (a record read from the database has its id)."""
    assert pk is not None
    return strawberry.ID(encode_id(type_name, pk))


@strawberry.type(description="An amount of money in a currency.")
class Money:
    amount: Decimal = strawberry.field(
        description='The amount, with exactly the currency\'s two decimals, such as "25.00".'
    )
    currency: str = strawberry.field(
        description="Its ISO 4217 code: the contract's currency (USD, EUR, GBP, CAD or AUD)."
    )

    @classmethod
    def of(cls, cents: int, currency: str) -> Money:
        return cls(amount=Decimal(format_amount(cents)), currency=currency)


Read = Callable[[Any, str], Any]  # (record's value, currency) -> field value


def _same(value: Any, currency: str) -> Any:
    return value


def _reader(declared: Any) -> Read:
    """How a plain field declared `declared` is read from a record's value that is not None."""
    if isinstance(declared, StrawberryOptional):
        declared = declared.of_type
    return Money.of if declared is Money else _same


@cache
def _plain_fields(cls: type) -> tuple[tuple[str, Read], ...]:
    definition = get_object_definition(cls, strict=True)
    return tuple(
        (f.python_name, _reader(f.type))
        for f in definition.fields
        if f.base_resolver is None and not is_private(f.type) and f.python_name != "id"
    )


def plain_values(cls: type, source: object, currency: str = "", **given: Any) -> dict[str, Any]:
    """`cls`'s plain fields read from the record `source`, except those `given`; `currency` is
    that of its money fields (a type without any needs none)."""
    values = {
        name: None if (value := getattr(source, name)) is None else read(value, currency)
        for name, read in _plain_fields(cls)
        if name not in given
    }
    return {**values, **given}


def shows_private(principal: Principal | None, user_id: int) -> bool:
    """Whether a user's private fields (email, admin flag) are shown to this caller: the user
    and admins see them."""
    return principal is not None and (principal.is_admin or principal.user_id == user_id)


@strawberry.type(
    description="A registered user: a client, a freelancer, or both on different contracts. "
    "Any signed-in caller may read a user's name."
)
class User(Node):
    name: str = strawberry.field(description="The display name, 1 to 200 characters.")
    _record: strawberry.Private[UserRecord]
    _is_caller: strawberry.Private[bool] = False

    @classmethod
    def from_record(cls, record: UserRecord, *, is_caller: bool = False) -> User:
        return cls(
            id=global_id("User", record.id),
            name=record.name,
            _record=record,
            _is_caller=is_caller,
        )

    async def _shown_to_caller(self, info: Info) -> bool:
        if self._is_caller:
            return True
        return shows_private(await info.context.principal(), self._record.id)

    @private(description="Shown only to the user and to admins.")
    async def email(self, info: Info) -> str | None:
        return self._record.email if await self._shown_to_caller(info) else None

    @private(description="Shown only to the user and to admins; null for others.")
    async def is_admin(self, info: Info) -> bool | None:
        return self._record.is_admin if await self._shown_to_caller(info) else None

    async def _is_viewer(self, info: Info) -> bool:
        principal = await info.context.principal()
        return principal is not None and principal.user_id == self._record.id

    @strawberry.field(
        description="The viewer's notifications, newest first" + _OWN + " Pages forward with "
        "`first`/`after`, backward with `last`/`before`."
    )
    async def notifications(
        self,
        info: Info,
        first: First = None,
        after: After = None,
        last: Last = None,
        before: Before = None,
        unread: Annotated[
            bool | None,
            strawberry.argument(
                description="true: only the unread ones; false: only those read; omitted: all."
            ),
        ] = None,
    ) -> Annotated[NotificationConnection, strawberry.lazy("app.graphql.notifications")] | None:
        from app.graphql.notifications import own_notifications

        if not await self._is_viewer(info):
            return None
        return await own_notifications(self._record.id, first, after, last, before, unread)

    @strawberry.field(description="How many of the viewer's notifications are unread" + _OWN)
    async def unread_notification_count(self, info: Info) -> int | None:
        from app.graphql.notifications import unread_count

        return await unread_count(self._record.id) if await self._is_viewer(info) else None

    @strawberry.field(
        description="Whether the viewer gets each type of notification by e-mail, every type "
        "in order" + _OWN
    )
    async def notification_settings(
        self, info: Info
    ) -> list[Annotated[NotificationSetting, strawberry.lazy("app.graphql.notifications")]] | None:
        from app.graphql.notifications import own_settings

        return await own_settings(self._record.id) if await self._is_viewer(info) else None

    @strawberry.field(description="The viewer's webhook endpoints, oldest first" + _OWN)
    async def webhook_endpoints(
        self, info: Info
    ) -> list[Annotated[WebhookEndpoint, strawberry.lazy("app.graphql.webhooks")]] | None:
        from app.graphql.webhooks import own_endpoints

        return await own_endpoints(self._record.id) if await self._is_viewer(info) else None


async def load_user(info: Info, user_id: int | None) -> User | None:
    if user_id is None:
        return None
    record = await info.context.loaders.user_by_id.load(user_id)
    return User.from_record(record) if record is not None else None
