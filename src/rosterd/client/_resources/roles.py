"""``client.roles``: /integration/v2/roles."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator

from rosterd.client._call import (
    UNSET,
    V2,
    Call,
    Paged,
    Unset,
    body,
    by_offset,
    items_of,
    model,
    nothing,
)
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import Role

PATH = f"{V2}/roles"


def _list(page_size: int) -> Paged[Role]:
    return Paged(PATH, {"limit": page_size}, items_of(Role), by_offset)


def _create(name: str, description: str | None, permissions: Iterable[str]) -> Call[Role]:
    sent = body(name=name, description=description, permissions=list(permissions))
    return Call("POST", PATH, model(Role), json=sent)


def _update(
    role_id: str,
    name: str | Unset,
    description: str | Unset | None,
    permissions: Iterable[str] | Unset,
) -> Call[Role]:
    listed = permissions if isinstance(permissions, Unset) else list(permissions)
    sent = body(name=name, description=description, permissions=listed)
    return Call("PATCH", f"{PATH}/{role_id}", model(Role), json=sent)


class Roles:
    """``client.roles``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, *, page_size: int = 100) -> Iterator[Role]:
        """Every role of the tenant, system roles included.

        Example::

            admin = next(r for r in client.roles.list() if r.name == "Admin")
        """
        return self._t.pages(_list(page_size))

    def get(self, role_id: str) -> Role:
        """Example: ``role = client.roles.get(role_id)``"""
        return self._t.run(Call("GET", f"{PATH}/{role_id}", model(Role)))

    def create(
        self, *, name: str, description: str | None = None, permissions: Iterable[str] = ()
    ) -> Role:
        """Example: ``client.roles.create(name="Auditor", permissions=["audit.read"])``"""
        return self._t.run(_create(name, description, permissions))

    def update(
        self,
        role_id: str,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        permissions: Iterable[str] | Unset = UNSET,
    ) -> Role:
        """Example: ``client.roles.update(role.id, description="Reads the audit trail")``"""
        return self._t.run(_update(role_id, name, description, permissions))

    def delete(self, role_id: str) -> None:
        """Example: ``client.roles.delete(role.id)``"""
        self._t.run(Call("DELETE", f"{PATH}/{role_id}", nothing))


class AsyncRoles:
    """``client.roles`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(self, *, page_size: int = 100) -> AsyncIterator[Role]:
        """Example: ``roles = [r async for r in client.roles.list()]``"""
        return self._t.pages(_list(page_size))

    async def get(self, role_id: str) -> Role:
        """Example: ``role = await client.roles.get(role_id)``"""
        return await self._t.run(Call("GET", f"{PATH}/{role_id}", model(Role)))

    async def create(
        self, *, name: str, description: str | None = None, permissions: Iterable[str] = ()
    ) -> Role:
        """Example: ``await client.roles.create(name="Auditor")``"""
        return await self._t.run(_create(name, description, permissions))

    async def update(
        self,
        role_id: str,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        permissions: Iterable[str] | Unset = UNSET,
    ) -> Role:
        """Example: ``await client.roles.update(role.id, name="Auditors")``"""
        return await self._t.run(_update(role_id, name, description, permissions))

    async def delete(self, role_id: str) -> None:
        """Example: ``await client.roles.delete(role.id)``"""
        await self._t.run(Call("DELETE", f"{PATH}/{role_id}", nothing))
