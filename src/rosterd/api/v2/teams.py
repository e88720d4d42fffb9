"""/integration/v2/teams. Create, update and delete are documented extensions."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import Query, Response, status
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, SearchSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.v2.auth import TeamRead, TeamWrite
from rosterd.api.v2.paging import WindowDep, errors
from rosterd.api.v2.schemas import (
    MemberList,
    TeamCreate,
    TeamList,
    TeamOut,
    TeamUpdate,
    UserOut,
)
from rosterd.api.wire import Text
from rosterd.domain.commands import NewTeam, TeamPatch
from rosterd.services import teams as teams_service
from rosterd.services.context import Actor

router = api_router(prefix="/teams", tags=["Teams"])


def _out(session: Session, actor: Actor, team_id: uuid.UUID) -> TeamOut:
    team = teams_service.get_team(session, actor, team_id)
    return TeamOut.of(team, teams_service.member_counts(session, actor, [team]).get(team.id, 0))


@router.get(
    "",
    operation_id="listTeams",
    summary="List Teams",
    response_model=TeamList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403),
)
def list_teams(
    actor: TeamRead,
    session: SearchSession,
    window: WindowDep,
    query: Annotated[
        Text | None, Query(max_length=255, description="Search by name (partial).")
    ] = None,
) -> dict[str, Any]:
    teams, total = teams_service.list_teams(
        session, actor, query=query or None, offset=window.offset, limit=window.limit
    )
    counts = teams_service.member_counts(session, actor, teams)
    return {
        "items": [TeamOut.of(t, counts.get(t.id, 0)) for t in teams],
        "totalCount": total,
        **window.envelope(),
    }


@router.post(
    "",
    operation_id="createTeam",
    summary="Create a Team (extension)",
    status_code=status.HTTP_201_CREATED,
    response_model=TeamOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 409),
)
def create_team(body: TeamCreate, actor: TeamWrite, session: WriteSession) -> TeamOut:
    team = teams_service.create_team(
        session,
        actor,
        NewTeam(name=body.name, description=body.description, manager_id=body.manager_id),
    )
    return TeamOut.of(team, 0)


@router.get(
    "/{teamId}",
    operation_id="getTeam",
    summary="Get a Team",
    response_model=TeamOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def get_team(teamId: uuid.UUID, actor: TeamRead, session: ReadSession) -> TeamOut:  # noqa: N803
    return _out(session, actor, teamId)


@router.patch(
    "/{teamId}",
    operation_id="updateTeam",
    summary="Update a Team (extension)",
    response_model=TeamOut,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404, 409),
)
def update_team(
    teamId: uuid.UUID,  # noqa: N803
    body: TeamUpdate,
    actor: TeamWrite,
    session: WriteSession,
) -> TeamOut:
    teams_service.update_team(
        session, actor, teamId, TeamPatch(**body.model_dump(exclude_unset=True))
    )
    return _out(session, actor, teamId)


@router.delete(
    "/{teamId}",
    operation_id="deleteTeam",
    summary="Delete a Team (extension)",
    description="Deletes the team; its members are left without a team.",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses=errors(400, 401, 403, 404),
)
def delete_team(teamId: uuid.UUID, actor: TeamWrite, session: WriteSession) -> Response:  # noqa: N803
    teams_service.delete_team(session, actor, teamId)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/{teamId}/members",
    operation_id="listTeamMembers",
    summary="List Team Members",
    response_model=MemberList,
    response_model_exclude_none=True,
    responses=errors(400, 401, 403, 404),
)
def list_members(
    teamId: uuid.UUID,  # noqa: N803
    actor: TeamRead,
    session: SearchSession,
    window: WindowDep,
) -> dict[str, Any]:
    users, total = teams_service.list_members(
        session, actor, teamId, offset=window.offset, limit=window.limit
    )
    return {"items": [UserOut.of(u) for u in users], "totalCount": total, **window.envelope()}
