"""``client.teams``: /integration/v2/teams."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

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
    query,
)
from rosterd.client._resources import users
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import Team, User

PATH = f"{V2}/teams"


def _list(query_: str | None, page_size: int) -> Paged[Team]:
    params = {**query(query=query_), "limit": page_size}
    return Paged(PATH, params, items_of(Team), by_offset)


def _members(team_id: str, page_size: int) -> Paged[User]:
    # The user list filtered to the team: keyset pages (see users.by_creation).
    return users.by_creation(page_size=page_size, team_id=team_id)


def _create(name: str, description: str | None, manager_id: str | None) -> Call[Team]:
    sent = body(name=name, description=description, manager_id=manager_id)
    return Call("POST", PATH, model(Team), json=sent)


def _update(
    team_id: str,
    name: str | Unset,
    description: str | Unset | None,
    manager_id: str | Unset | None,
) -> Call[Team]:
    sent = body(name=name, description=description, manager_id=manager_id)
    return Call("PATCH", f"{PATH}/{team_id}", model(Team), json=sent)


class Teams:
    """``client.teams``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def list(self, *, query: str | None = None, page_size: int = 100) -> Iterator[Team]:
        """Every team matching ``query`` (by name, partial).

        Example::

            for team in client.teams.list():
                print(team.name, team.manager_name)
        """
        return self._t.pages(_list(query, page_size))

    def members(self, team_id: str, *, page_size: int = 100) -> Iterator[User]:
        """Example: ``people = list(client.teams.members(team.id))``"""
        return self._t.pages(_members(team_id, page_size))

    def get(self, team_id: str) -> Team:
        """Example: ``team = client.teams.get(team_id)``"""
        return self._t.run(Call("GET", f"{PATH}/{team_id}", model(Team)))

    def create(
        self, *, name: str, description: str | None = None, manager_id: str | None = None
    ) -> Team:
        """Example: ``client.teams.create(name="Platform", manager_id=ada.id)``"""
        return self._t.run(_create(name, description, manager_id))

    def update(
        self,
        team_id: str,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        manager_id: str | Unset | None = UNSET,
    ) -> Team:
        """Example: ``client.teams.update(team.id, manager_id=None)``"""
        return self._t.run(_update(team_id, name, description, manager_id))

    def delete(self, team_id: str) -> None:
        """Example: ``client.teams.delete(team.id)``"""
        self._t.run(Call("DELETE", f"{PATH}/{team_id}", nothing))


class AsyncTeams:
    """``client.teams`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    def list(self, *, query: str | None = None, page_size: int = 100) -> AsyncIterator[Team]:
        """Example: ``teams = [t async for t in client.teams.list()]``"""
        return self._t.pages(_list(query, page_size))

    def members(self, team_id: str, *, page_size: int = 100) -> AsyncIterator[User]:
        """Example: ``async for user in client.teams.members(team.id): ...``"""
        return self._t.pages(_members(team_id, page_size))

    async def get(self, team_id: str) -> Team:
        """Example: ``team = await client.teams.get(team_id)``"""
        return await self._t.run(Call("GET", f"{PATH}/{team_id}", model(Team)))

    async def create(
        self, *, name: str, description: str | None = None, manager_id: str | None = None
    ) -> Team:
        """Example: ``await client.teams.create(name="Platform")``"""
        return await self._t.run(_create(name, description, manager_id))

    async def update(
        self,
        team_id: str,
        *,
        name: str | Unset = UNSET,
        description: str | Unset | None = UNSET,
        manager_id: str | Unset | None = UNSET,
    ) -> Team:
        """Example: ``await client.teams.update(team.id, name="Core")``"""
        return await self._t.run(_update(team_id, name, description, manager_id))

    async def delete(self, team_id: str) -> None:
        """Example: ``await client.teams.delete(team.id)``"""
        await self._t.run(Call("DELETE", f"{PATH}/{team_id}", nothing))
