"""``client.groups``: /integration/v2/groups and their members."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

from rosterd.client._call import (
    UNSET,
    V2,
    Call,
    Paged,
    Unset,
    body,
    by_cursor,
    items_of,
    model,
    nothing,
    query,
)
from rosterd.client._resources import users
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import Group, GroupMembership, User

PATH = f"{V2}/groups"


def _list(query_: str | None, parent_id: str | None, page_size: int) -> Paged[Group]:
    params = {**query(query=query_, parent_id=parent_id), "limit": page_size}
    return Paged(PATH, params, items_of(Group), by_cursor)


def _members(group_id: str, page_size: int) -> Paged[User]:
    # The user list filtered to the group: keyset pages, so members removed while the
    # pages are read make it skip nobody (the members endpoint pages by offset only).
    return users.by_creation(page_size=page_size, group_id=group_id)


def _create(
    name: str, description: str | None, parent_id: str | None, key: str | None
) -> Call[Group]:
    sent = body(name=name, description=description, parent_id=parent_id)
    return Call("POST", PATH, model(Group), json=sent, idempotency_key=key)


def _get(group_id: str) -> Call[Group]:
    return Call("GET", f"{PATH}/{group_id}", model(Group))


def _update(group_id: str, if_match: str | None, fields: dict[str, Any]) -> Call[Group]:
    headers = {"If-Match": if_match} if if_match else {}
    return Call("PATCH", f"{PATH}/{group_id}", model(Group), json=body(**fields), headers=headers)


def _delete(group_id: str, if_match: str | None) -> Call[None]:
    headers = {"If-Match": if_match} if if_match else {}
    return Call("DELETE", f"{PATH}/{group_id}", nothing, headers=headers)


def _add(group_id: str, user_id: str) -> Call[GroupMembership]:
    return Call(
        "POST", f"{PATH}/{group_id}/members", model(GroupMembership), json={"userId": user_id}
    )


def _remove(group_id: str, user_id: str) -> Call[None]:
    return Call("DELETE", f"{PATH}/{group_id}/members/{user_id}", nothing)


class Members:
    """``client.groups.members``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, group_id: str, *, page_size: int = 100) -> Iterator[User]:
        """Every member of the group, in the order they were created, read a page at a
        time by keyset cursor (members removed meanwhile make it skip nobody).

        Example::

            emails = [u.email for u in client.groups.members.list(group.id)]
        """
        return self._t.pages(_members(group_id, page_size))

    def add(self, group_id: str, user_id: str) -> GroupMembership:
        """Add a user to the group (``Conflict`` if already a member).

        Example::

            client.groups.members.add(group.id, user.id)
        """
        return self._t.run(_add(group_id, user_id))

    def remove(self, group_id: str, user_id: str) -> None:
        """Remove a user from the group.

        Example::

            client.groups.members.remove(group.id, user.id)
        """
        self._t.run(_remove(group_id, user_id))


class Groups:
    """``client.groups``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport
        self.members = Members(transport)

    def list(
        self, *, query: str | None = None, parent_id: str | None = None, page_size: int = 100
    ) -> Iterator[Group]:
        """Every group matching the filters, in name order, read a page at a time by
        keyset cursor (groups added or deleted meanwhile make it skip none).

        Example::

            for group in client.groups.list(query="eng"):
                print(group.name, group.member_count)
        """
        return self._t.pages(_list(query, parent_id, page_size))

    def get(self, group_id: str) -> Group:
        """One group; ``NotFound`` if there is none.

        Example::

            group = client.groups.get(group_id)
        """
        return self._t.run(_get(group_id))

    def create(
        self,
        *,
        name: str,
        description: str | None = None,
        parent_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Group:
        """Create a group (``Conflict`` when the name is taken).

        Example::

            eng = client.groups.create(name="Engineering", description="Builders")
        """
        return self._t.run(_create(name, description, parent_id, idempotency_key))

    def update(
        self,
        group_id: str,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        parent_id: str | Unset | None = UNSET,
        if_match: str | None = None,
    ) -> Group:
        """Change what is given (``parent_id=None`` makes the group top-level).

        Example::

            client.groups.update(group.id, description="Platform", if_match=group.etag)
        """
        fields = {"name": name, "description": description, "parent_id": parent_id}
        return self._t.run(_update(group_id, if_match, fields))

    def delete(self, group_id: str, *, if_match: str | None = None) -> None:
        """Delete the group (its children move up to its parent).

        Example::

            client.groups.delete(group.id)
        """
        self._t.run(_delete(group_id, if_match))


class AsyncMembers:
    """``client.groups.members`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(self, group_id: str, *, page_size: int = 100) -> AsyncIterator[User]:
        """Example: ``async for user in client.groups.members.list(group.id): ...``"""
        return self._t.pages(_members(group_id, page_size))

    async def add(self, group_id: str, user_id: str) -> GroupMembership:
        """Example: ``await client.groups.members.add(group.id, user.id)``"""
        return await self._t.run(_add(group_id, user_id))

    async def remove(self, group_id: str, user_id: str) -> None:
        """Example: ``await client.groups.members.remove(group.id, user.id)``"""
        await self._t.run(_remove(group_id, user_id))


class AsyncGroups:
    """``client.groups`` of an ``AsyncClient``: ``Groups``' calls, awaited."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport
        self.members = AsyncMembers(transport)

    def list(
        self, *, query: str | None = None, parent_id: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Group]:
        """Example: ``async for group in client.groups.list(): ...``"""
        return self._t.pages(_list(query, parent_id, page_size))

    async def get(self, group_id: str) -> Group:
        """Example: ``group = await client.groups.get(group_id)``"""
        return await self._t.run(_get(group_id))

    async def create(
        self,
        *,
        name: str,
        description: str | None = None,
        parent_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Group:
        """Example: ``eng = await client.groups.create(name="Engineering")``"""
        return await self._t.run(_create(name, description, parent_id, idempotency_key))

    async def update(
        self,
        group_id: str,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        parent_id: str | Unset | None = UNSET,
        if_match: str | None = None,
    ) -> Group:
        """Example: ``await client.groups.update(group.id, name="Platform")``"""
        fields = {"name": name, "description": description, "parent_id": parent_id}
        return await self._t.run(_update(group_id, if_match, fields))

    async def delete(self, group_id: str, *, if_match: str | None = None) -> None:
        """Example: ``await client.groups.delete(group.id)``"""
        await self._t.run(_delete(group_id, if_match))
