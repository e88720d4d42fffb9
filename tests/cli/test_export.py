"""`rosterd export`'s records (rosterd.cli.export): what `rosterd import` reads, parents
before children however the server listed the groups."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from rosterd.cli.export import group_record, groups_parents_first, user_record
from rosterd.client import Group, User
from rosterd.services import imports as imports_service

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _group(gid: str, name: str, parent: str | None = None) -> Group:
    return Group(
        id=gid, name=name, member_count=0, created_at=NOW, modified_at=NOW, parent_id=parent
    )


def test_every_parent_comes_before_its_children() -> None:
    # Listed by name, as the API lists them: children before parents.
    listed = [
        _group("1", "A-leaf", parent="3"),
        _group("2", "B-root"),
        _group("3", "C-middle", parent="2"),
        _group("4", "D-orphan", parent="gone"),
    ]
    ordered = [g.name for g in groups_parents_first(listed)]
    assert ordered == ["B-root", "D-orphan", "C-middle", "A-leaf"]
    names = {g.id: g.name for g in listed}
    records = [group_record(g, names) for g in groups_parents_first(listed)]
    assert records[3] == {"type": "group", "name": "A-leaf", "parent": "C-middle"}
    assert "parent" not in records[1]  # a parent not exported is not named


def test_a_user_record_is_one_the_importer_accepts() -> None:
    user = User(
        id="u", username="ada", status="inactive", is_active=False, created_at=NOW,
        modified_at=NOW, email="ada@example.com", first_name="Ada", last_name="Lovelace",
        role_name="User", team_name="Core", last_login_at=NOW,
    )  # fmt: skip
    record = user_record(user, ["Zeta", "Alpha"])
    assert record["groups"] == ["Alpha", "Zeta"]
    parsed = imports_service.parse(1, json.dumps(record))
    assert isinstance(parsed, imports_service.UserRecord)
    assert parsed.status == "inactive" and parsed.last_login_at == NOW
    assert (parsed.role, parsed.team, parsed.groups) == ("User", "Core", ["Alpha", "Zeta"])
