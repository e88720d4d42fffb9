"""Groups, roles and teams through their typed commands: names, texts and patches."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from rosterd.domain.commands import GroupPatch, NewGroup, NewRole, NewTeam, RolePatch, TeamPatch
from rosterd.services import groups as groups_service
from rosterd.services import roles as roles_service
from rosterd.services import teams as teams_service
from rosterd.services.context import Actor
from rosterd.services.errors import Conflict, Invalid


def _fields(err: Exception) -> list[str]:
    return [d.field for d in getattr(err, "details", [])]


def test_names_are_given_text_not_blank_and_unique(session: Session, actor: Actor) -> None:
    groups_service.create_group(session, actor, NewGroup(name="Sales"))
    roles_service.create_role(session, actor, NewRole(name="Auditor"))
    teams_service.create_team(session, actor, NewTeam(name="EMEA"))
    for create, model in (
        (lambda n: groups_service.create_group(session, actor, NewGroup(name=n)), "Sales"),
        (lambda n: roles_service.create_role(session, actor, NewRole(name=n)), "Auditor"),
        (lambda n: teams_service.create_team(session, actor, NewTeam(name=n)), "EMEA"),
    ):
        with pytest.raises(Conflict) as conflict:
            create(model.upper())
        assert _fields(conflict.value) == ["name"]
        for bad in ("   ", "a\x00b", "x" * 256):
            with pytest.raises(Invalid) as invalid:
                create(bad)
            assert _fields(invalid.value) == ["name"]


def test_a_patch_changes_only_what_it_sets(session: Session, actor: Actor) -> None:
    group = groups_service.create_group(
        session, actor, NewGroup(name="Ops", description="runs things")
    )
    locked = groups_service.lock_group(session, actor, group.id)
    groups_service.update_group(session, actor, locked, GroupPatch(external_id="ext-1"))
    assert (group.name, group.description, group.external_id) == ("Ops", "runs things", "ext-1")
    with pytest.raises(Invalid) as invalid:
        groups_service.update_group(session, actor, locked, GroupPatch(name=None))  # type: ignore[arg-type]
    assert _fields(invalid.value) == ["name"]

    role = roles_service.create_role(session, actor, NewRole(name="R", permissions=("a", "a")))
    assert role.permissions == ["a"]
    roles_service.update_role(session, actor, role.id, RolePatch(description="d"))
    assert (role.name, role.permissions, role.description) == ("R", ["a"], "d")
    with pytest.raises(Invalid):
        roles_service.update_role(session, actor, role.id, RolePatch(permissions=["x\x00"]))

    team = teams_service.create_team(session, actor, NewTeam(name="T", description="d"))
    renamed = teams_service.update_team(session, actor, team.id, TeamPatch(name="T2"))
    assert (renamed.name, renamed.description) == ("T2", "d")
