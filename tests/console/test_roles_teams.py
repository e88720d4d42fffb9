"""The roles and teams pages: every role and team reachable, past the first 200, a keyset
page at a time in name order; a cursor that is not the page's own is a 400."""

from __future__ import annotations

import re

import pytest

from rosterd.domain.commands import NewRole, NewTeam
from rosterd.runtime import Runtime
from rosterd.services import roles as roles_service
from rosterd.services import teams as teams_service
from rosterd.services.context import Actor
from tests.console.conftest import Console
from tests.factories import V2

MANY = 230


def _names(html: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>([^<]+?)(?: <span|</td>)", html)


def _walk(console: Console, url: str | None) -> list[str]:
    seen: list[str] = []
    pages = 0
    while url:
        r = console.get(url.replace("&amp;", "&"))
        assert r.status_code == 200, r.text
        seen += _names(r.text)
        pages += 1
        link = re.search(r'<a rel="next" href="([^"]+)"', r.text)
        url = link.group(1) if link else None
    assert pages > 1
    return seen


@pytest.fixture
def actor(console: Console) -> Actor:
    return Actor(tenant_id=console.tenant.id, actor="test", surface="test")


def test_every_role_is_reachable_in_name_order(
    console: Console, runtime: Runtime, actor: Actor
) -> None:
    # Mixed case, so the order is the case-insensitive one the API lists in.
    names = [f"{'Role' if n % 2 else 'role'}-{n:03d}" for n in range(MANY)]
    with runtime.db.writer.begin() as session:
        for name in names:
            roles_service.create_role(session, actor, NewRole(name=name))
    api = console.tenant.http.get(
        f"{V2}/roles", params={"limit": 100}, headers=console.tenant.headers()
    ).json()
    seen = _walk(console, "/admin/roles")
    assert len(seen) == api["totalCount"] > MANY
    assert set(names) <= set(seen)
    assert seen == sorted(seen, key=str.lower)
    # The API's offset pages are as they were.
    assert [r["name"] for r in api["items"]] == seen[:100]


def test_every_team_is_reachable_in_name_order(
    console: Console, runtime: Runtime, actor: Actor
) -> None:
    names = [f"Team {n:03d}" for n in range(MANY)]
    with runtime.db.writer.begin() as session:
        for name in reversed(names):
            teams_service.create_team(session, actor, NewTeam(name=name))
    assert _walk(console, "/admin/teams") == names
    api = console.tenant.http.get(
        f"{V2}/teams", params={"offset": 200, "limit": 100}, headers=console.tenant.headers()
    ).json()
    assert [t["name"] for t in api["items"]] == names[200:]


@pytest.mark.parametrize("path", ["/admin/roles", "/admin/teams"])
@pytest.mark.parametrize("cursor", ["garbage", "WyJhIiwiYiJd", "W10"])
def test_a_tampered_cursor_is_a_400(console: Console, path: str, cursor: str) -> None:
    r = console.get(path, params={"cursor": cursor})
    assert r.status_code == 400
    assert "cursor" in r.text
