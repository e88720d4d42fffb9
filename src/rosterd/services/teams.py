"""Teams: a user belongs to at most one team; a team may have a manager."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from rosterd.domain import rules
from rosterd.domain.commands import NewTeam, TeamPatch
from rosterd.models import Team, User
from rosterd.repositories import teams as teams_repo
from rosterd.repositories import users as users_repo
from rosterd.repositories.users import UserQuery
from rosterd.services import audit
from rosterd.services.context import Actor
from rosterd.services.errors import NotFound, invalid_field
from rosterd.services.names import checked_name


def get_team(session: Session, actor: Actor, team_id: uuid.UUID) -> Team:
    team = teams_repo.get(session, actor.tenant_id, team_id)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    return team


def list_teams(
    session: Session, actor: Actor, *, query: str | None = None, offset: int = 0, limit: int = 25
) -> tuple[list[Team], int]:
    return teams_repo.search(session, actor.tenant_id, query=query, offset=offset, limit=limit)


def page_teams(
    session: Session, actor: Actor, *, after: tuple[str, uuid.UUID] | None, limit: int
) -> list[Team]:
    """``list_teams``' order by keyset (the console's pages; the API's keep offset)."""
    return teams_repo.page_after(session, actor.tenant_id, after=after, limit=limit)


def member_counts(session: Session, actor: Actor, teams: list[Team]) -> dict[uuid.UUID, int]:
    return teams_repo.member_counts(session, actor.tenant_id, [t.id for t in teams])


def list_members(
    session: Session, actor: Actor, team_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[User], int]:
    get_team(session, actor, team_id)
    return users_repo.search(
        session, actor.tenant_id, UserQuery(team_id=team_id, offset=offset, limit=limit)
    )


def _check_manager(session: Session, actor: Actor, manager_id: uuid.UUID | None) -> None:
    if manager_id is not None and users_repo.get(session, actor.tenant_id, manager_id) is None:
        raise invalid_field("manager_id", f"user {manager_id} does not exist")


def create_team(session: Session, actor: Actor, data: NewTeam) -> Team:
    name = checked_name(Team, data.name, _finder(session, actor))
    rules.texts(Team, {"description": data.description})
    _check_manager(session, actor, data.manager_id)
    team = teams_repo.add(
        session,
        Team(
            tenant_id=actor.tenant_id,
            name=name,
            description=data.description,
            manager_id=data.manager_id,
        ),
    )
    audit.record(session, actor, "team.created", "team", team.id, after=audit.snapshot(team))
    return get_team(session, actor, team.id)


def _finder(session: Session, actor: Actor) -> Callable[[str], Team | None]:
    return lambda name: teams_repo.find_by_name(session, actor.tenant_id, name)


def update_team(session: Session, actor: Actor, team_id: uuid.UUID, patch: TeamPatch) -> Team:
    changes = patch.sent()
    team = teams_repo.get(session, actor.tenant_id, team_id, for_update=True)
    if team is None:
        raise NotFound(f"team {team_id} not found")
    rules.texts(Team, changes)
    if "name" in changes and changes["name"] != team.name:
        checked_name(Team, changes["name"], _finder(session, actor), team.id)
    if changes.get("manager_id") != team.manager_id:
        _check_manager(session, actor, changes.get("manager_id"))
    before = audit.snapshot(team)
    for name, value in changes.items():
        setattr(team, name, value)
    after = audit.snapshot(team)
    if after != before:
        session.flush()
        audit.record(session, actor, "team.updated", "team", team.id, before=before, after=after)
        session.expire(team, ["manager"])
    return get_team(session, actor, team.id)


def delete_team(session: Session, actor: Actor, team_id: uuid.UUID) -> None:
    team = get_team(session, actor, team_id)
    before = audit.snapshot(team)
    teams_repo.remove(session, team)
    audit.record(session, actor, "team.deleted", "team", team_id, before=before)


def find(session: Session, actor: Actor, ref: str) -> Team | None:
    """A team by id or, failing that, by name (case-insensitive)."""
    try:
        team = teams_repo.get(session, actor.tenant_id, uuid.UUID(ref))
    except ValueError:
        team = None
    return team or teams_repo.find_by_name(session, actor.tenant_id, ref)
