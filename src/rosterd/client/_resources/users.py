"""``client.users``: /integration/v2/users and the lifecycle calls on one user."""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any, Literal, TypedDict, Unpack

from rosterd.client import errors
from rosterd.client._call import (
    V2,
    Call,
    Paged,
    body,
    by_cursor,
    items_of,
    model,
    nothing,
    query,
)
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import BulkItem, Group, OffboardResult, User

PATH = f"{V2}/users"
MAX_PAGE = 100

Status = Literal["pending", "active", "suspended", "inactive"]


class NewUserFields(TypedDict, total=False):
    """What ``create`` takes besides email and names (all optional)."""

    title: str
    department: str
    role_id: str
    group_ids: list[str]
    team_id: str
    username: str
    display_name: str
    locale: str
    status: Literal["pending", "active"]
    send_invitation: bool


class UserChanges(TypedDict, total=False):
    """What ``update`` changes: only the keys given; None clears a field that may be
    empty (title, department, role_id, team_id, display_name, locale)."""

    email: str
    first_name: str
    last_name: str
    title: str | None
    department: str | None
    role_id: str | None
    team_id: str | None
    username: str
    display_name: str | None
    locale: str | None
    status: Literal["active", "suspended", "inactive"]


def by_creation(
    *,
    page_size: int,
    query_: str | None = None,
    status: Status | None = None,
    is_active: bool | None = None,
    email: str | None = None,
    username: str | None = None,
    group_id: str | None = None,
    role_id: str | None = None,
    team_id: str | None = None,
    created_after: datetime | None = None,
    created_before: datetime | None = None,
    last_login_before: datetime | None = None,
    last_login_after: datetime | None = None,
    newest_first: bool = False,
) -> Paged[User]:
    """The users matching the filters, by keyset cursor in creation order: users created,
    changed or deleted while the pages are read make it skip or repeat nobody."""
    if not 1 <= page_size <= MAX_PAGE:
        raise ValueError(f"page_size must be 1 to {MAX_PAGE}")
    params = query(
        query=query_,
        status=status,
        is_active=is_active,
        email=email,
        username=username,
        group_id=group_id,
        role_id=role_id,
        team_id=team_id,
        created_after=created_after,
        created_before=created_before,
        last_login_before=last_login_before,
        last_login_after=last_login_after,
    )
    params.update(sortBy="createdAt", sortOrder="desc" if newest_first else "asc")
    params["limit"] = page_size
    return Paged(PATH, params, items_of(User), by_cursor)


def _create(fields: Mapping[str, Any], idempotency_key: str | None) -> Call[User]:
    return Call("POST", PATH, model(User), json=body(**fields), idempotency_key=idempotency_key)


def _get(user_id: str) -> Call[User]:
    return Call("GET", f"{PATH}/{user_id}", model(User))


def _update(user_id: str, if_match: str | None, fields: Mapping[str, Any]) -> Call[User]:
    headers = {"If-Match": if_match} if if_match else {}
    return Call("PATCH", f"{PATH}/{user_id}", model(User), json=body(**fields), headers=headers)


def _delete(user_id: str, reassign_to: str | None, if_match: str | None) -> Call[None]:
    headers = {"If-Match": if_match} if if_match else {}
    return Call(
        "DELETE",
        f"{PATH}/{user_id}",
        nothing,
        params=query(reassign_to=reassign_to),
        headers=headers,
    )


def _offboard(
    user_id: str,
    reassign_to: str | None,
    keep_groups: bool,
    keep_group_ids: Iterable[str],
    idempotency_key: str | None,
) -> Call[OffboardResult]:
    sent = body(
        reassign_to=reassign_to, keep_groups=keep_groups, keep_group_ids=list(keep_group_ids)
    )
    return Call(
        "POST",
        f"{PATH}/{user_id}/offboard",
        model(OffboardResult),
        json=sent,
        idempotency_key=idempotency_key,
    )


def _sign_in(user_id: str, at: datetime | None) -> Call[User]:
    sent = {"at": at.isoformat()} if at is not None else {}
    return Call("POST", f"{PATH}/{user_id}/sign-ins", model(User), json=sent)


def _groups(user_id: str) -> Call[list[Group]]:
    return Call("GET", f"{PATH}/{user_id}/groups", lambda r: items_of(Group)(r.json()))


def _new_user(
    email: str,
    first_name: str,
    last_name: str,
    extra: Mapping[str, Any],
) -> dict[str, Any]:
    return {"email": email, "first_name": first_name, "last_name": last_name, **extra}


class Users:
    """``client.users``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(
        self,
        *,
        query: str | None = None,
        status: Status | None = None,
        is_active: bool | None = None,
        email: str | None = None,
        username: str | None = None,
        group_id: str | None = None,
        role_id: str | None = None,
        team_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        last_login_before: datetime | None = None,
        last_login_after: datetime | None = None,
        newest_first: bool = False,
        page_size: int = 100,
    ) -> Iterator[User]:
        """Every user matching the filters, in creation order, read ``page_size`` at a time
        as the iteration goes (keyset cursors: safe while users change meanwhile).

        Example::

            for user in client.users.list(status="active", last_login_before=cutoff):
                client.users.deactivate(user.id)
        """
        return self._t.pages(
            by_creation(
                page_size=page_size,
                query_=query,
                status=status,
                is_active=is_active,
                email=email,
                username=username,
                group_id=group_id,
                role_id=role_id,
                team_id=team_id,
                created_after=created_after,
                created_before=created_before,
                last_login_before=last_login_before,
                last_login_after=last_login_after,
                newest_first=newest_first,
            )
        )

    def get(self, user_id: str) -> User:
        """One user; ``NotFound`` if there is none.

        Example::

            user = client.users.get("0b0e…")
            print(user.email, user.status)
        """
        return self._t.run(_get(user_id))

    def create(
        self,
        *,
        email: str,
        first_name: str,
        last_name: str,
        idempotency_key: str | None = None,
        **fields: Unpack[NewUserFields],
    ) -> User:
        """Create a user. Other attributes go as keywords in snake_case (``title``,
        ``department``, ``role_id``, ``group_ids``, ``team_id``, ``username``,
        ``display_name``, ``locale``, ``status``, ``send_invitation``). Retried safely: the
        call sends one Idempotency-Key on every try (``idempotency_key`` to choose it, e.g.
        to resume a job across processes). ``Conflict`` when the email is taken.

        Example::

            ada = client.users.create(
                email="ada@example.com", first_name="Ada", last_name="Lovelace", title="CTO"
            )
        """
        return self._t.run(
            _create(_new_user(email, first_name, last_name, fields), idempotency_key)
        )

    def update(
        self, user_id: str, *, if_match: str | None = None, **fields: Unpack[UserChanges]
    ) -> User:
        """Change the attributes given (snake_case; None clears one that may be empty).
        ``if_match=user.etag`` changes it only if nobody did since it was read
        (``PreconditionFailed`` otherwise).

        Example::

            user = client.users.get(user_id)
            client.users.update(user.id, title="Engineer", if_match=user.etag)
        """
        return self._t.run(_update(user_id, if_match, fields))

    def deactivate(self, user_id: str, *, if_match: str | None = None) -> User:
        """Set the user's status to inactive (memberships stay; see ``offboard``).

        Example::

            client.users.deactivate(user.id)
        """
        return self._t.run(_update(user_id, if_match, {"status": "inactive"}))

    def offboard(
        self,
        user_id: str,
        *,
        reassign_to: str | None = None,
        keep_groups: bool = False,
        keep_group_ids: Iterable[str] = (),
        idempotency_key: str | None = None,
    ) -> OffboardResult:
        """Deactivate, remove group memberships and end sessions in one call (scope
        ``lifecycle:write``); harmless to repeat (``changed`` is then False).

        Example::

            done = client.users.offboard(user.id, reassign_to=manager.id)
            print([g.name for g in done.groups_removed])
        """
        return self._t.run(
            _offboard(user_id, reassign_to, keep_groups, keep_group_ids, idempotency_key)
        )

    def record_sign_in(self, user_id: str, *, at: datetime | None = None) -> User:
        """Record that the user signed in (now, or ``at`` for a backfill).

        Example::

            client.users.record_sign_in(user.id)
        """
        return self._t.run(_sign_in(user_id, at))

    def groups(self, user_id: str) -> builtins.list[Group]:
        """The groups the user belongs to.

        Example::

            names = [g.name for g in client.users.groups(user.id)]
        """
        return self._t.run(_groups(user_id))

    def delete(
        self, user_id: str, *, reassign_to: str | None = None, if_match: str | None = None
    ) -> None:
        """Delete the user (teams it manages pass to ``reassign_to``).

        Example::

            client.users.delete(user.id)
        """
        self._t.run(_delete(user_id, reassign_to, if_match))

    def create_many(
        self, users: Iterable[Mapping[str, Any]], *, concurrency: int = 4
    ) -> builtins.list[BulkItem[User]]:
        """Create each user (a mapping of ``create``'s keywords), ``concurrency`` at a time;
        one result per input, in input order, with the user or the error it met — a failed
        item does not stop the others.

        Example::

            results = client.users.create_many(
                [{"email": "a@example.com", "first_name": "A", "last_name": "One"}, ...]
            )
            taken = [r.index for r in results if isinstance(r.error, errors.Conflict)]
        """
        items = list(users)

        def one(index: int) -> BulkItem[User]:
            try:
                return BulkItem(index, value=self.create(**items[index]))
            except errors.RosterdError as exc:
                return BulkItem(index, error=exc)

        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            return list(pool.map(one, range(len(items))))


class AsyncUsers:
    """``client.users`` of an ``AsyncClient``: ``Users``' calls, awaited."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(
        self,
        *,
        query: str | None = None,
        status: Status | None = None,
        is_active: bool | None = None,
        email: str | None = None,
        username: str | None = None,
        group_id: str | None = None,
        role_id: str | None = None,
        team_id: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        last_login_before: datetime | None = None,
        last_login_after: datetime | None = None,
        newest_first: bool = False,
        page_size: int = 100,
    ) -> AsyncIterator[User]:
        """Every matching user, pages read as the iteration goes (see ``Users.list``).

        Example::

            async for user in client.users.list(status="active"):
                print(user.email)
        """
        return self._t.pages(
            by_creation(
                page_size=page_size,
                query_=query,
                status=status,
                is_active=is_active,
                email=email,
                username=username,
                group_id=group_id,
                role_id=role_id,
                team_id=team_id,
                created_after=created_after,
                created_before=created_before,
                last_login_before=last_login_before,
                last_login_after=last_login_after,
                newest_first=newest_first,
            )
        )

    async def get(self, user_id: str) -> User:
        """Example: ``user = await client.users.get(user_id)``"""
        return await self._t.run(_get(user_id))

    async def create(
        self,
        *,
        email: str,
        first_name: str,
        last_name: str,
        idempotency_key: str | None = None,
        **fields: Unpack[NewUserFields],
    ) -> User:
        """Example: ``await client.users.create(email="a@example.com", first_name="A",
        last_name="One")`` (see ``Users.create``)."""
        return await self._t.run(
            _create(_new_user(email, first_name, last_name, fields), idempotency_key)
        )

    async def update(
        self, user_id: str, *, if_match: str | None = None, **fields: Unpack[UserChanges]
    ) -> User:
        """Example: ``await client.users.update(user.id, title="CTO", if_match=user.etag)``"""
        return await self._t.run(_update(user_id, if_match, fields))

    async def deactivate(self, user_id: str, *, if_match: str | None = None) -> User:
        """Example: ``await client.users.deactivate(user.id)``"""
        return await self._t.run(_update(user_id, if_match, {"status": "inactive"}))

    async def offboard(
        self,
        user_id: str,
        *,
        reassign_to: str | None = None,
        keep_groups: bool = False,
        keep_group_ids: Iterable[str] = (),
        idempotency_key: str | None = None,
    ) -> OffboardResult:
        """Example: ``done = await client.users.offboard(user.id)``"""
        return await self._t.run(
            _offboard(user_id, reassign_to, keep_groups, keep_group_ids, idempotency_key)
        )

    async def record_sign_in(self, user_id: str, *, at: datetime | None = None) -> User:
        """Example: ``await client.users.record_sign_in(user.id)``"""
        return await self._t.run(_sign_in(user_id, at))

    async def groups(self, user_id: str) -> builtins.list[Group]:
        """Example: ``groups = await client.users.groups(user.id)``"""
        return await self._t.run(_groups(user_id))

    async def delete(
        self, user_id: str, *, reassign_to: str | None = None, if_match: str | None = None
    ) -> None:
        """Example: ``await client.users.delete(user.id)``"""
        await self._t.run(_delete(user_id, reassign_to, if_match))

    async def create_many(
        self, users: Iterable[Mapping[str, Any]], *, concurrency: int = 4
    ) -> builtins.list[BulkItem[User]]:
        """Example: ``results = await client.users.create_many([...])`` (see
        ``Users.create_many``)."""
        items = list(users)
        gate = asyncio.Semaphore(max(1, concurrency))

        async def one(index: int) -> BulkItem[User]:
            async with gate:
                try:
                    return BulkItem(index, value=await self.create(**items[index]))
                except errors.RosterdError as exc:
                    return BulkItem(index, error=exc)

        return list(await asyncio.gather(*(one(i) for i in range(len(items)))))
