"""The users list's orders: name, last sign-in and creation, either way, walked page by
page by keyset (ties broken by id; users without a name or never signed in last in both
directions), and cursors that are not the list's own refused with a 400."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rosterd.console import users as console_users
from rosterd.domain.commands import NewUser
from rosterd.repositories import users as users_repo
from rosterd.runtime import Runtime
from rosterd.services import users as users_service
from rosterd.services.context import Actor
from tests.console.conftest import Console
from tests.factories import V2


def _ids(html: str) -> list[str]:
    return re.findall(r'name="user_id" value="([^"]+)"', html)


def _walk(console: Console, url: str | None) -> list[str]:
    """Every user the list shows from ``url`` on, following its Next page links."""
    seen: list[str] = []
    while url:
        r = console.get(url.replace("&amp;", "&"))
        assert r.status_code == 200, r.text
        seen += _ids(r.text)
        link = re.search(r'<a rel="next" href="([^"]+)"', r.text)
        url = link.group(1) if link else None
    return seen


@pytest.fixture
def people(console: Console, runtime: Runtime) -> list[dict[str, Any]]:
    """Users whose names and last sign-ins tie (so ties fall on page boundaries), some
    without a last or first name, some never signed in."""
    names = [("Ada", "Lovelace"), ("Ada", "Lovelace"), ("Ada", "Lovelace"), ("Alan", "Turing"),
             ("Grace", None), (None, "Hopper"), ("Zed", "Lovelace"), ("Bob", None),
             ("Cy", "Turing")]  # fmt: skip
    actor = Actor(tenant_id=console.tenant.id, actor="test", surface="test")
    made = []
    with runtime.db.writer.begin() as session:
        for n, (first, last) in enumerate(names):
            user = users_service.create_user(
                session,
                actor,
                NewUser(email=f"person-{n}@example.com", first_name=first, last_name=last),
            )
            made.append({"id": str(user.id), "firstName": first, "lastName": last,
                         "createdAt": user.created_at.isoformat()})  # fmt: skip
    at = datetime(2026, 3, 1, tzinfo=UTC)
    sign_ins = [at, at, None, at + timedelta(days=1), None, at - timedelta(days=1), at, None, at]
    with runtime.db.writer.begin() as session:
        for user, signed_in in zip(made, sign_ins, strict=True):
            user["signedIn"] = signed_in
            if signed_in is not None:
                users_repo.record_sign_in(
                    session, console.tenant.id, uuid.UUID(user["id"]), signed_in
                )
    return made


def _expected(people: list[dict[str, Any]], order: str) -> list[str]:
    def name(u: dict[str, Any]) -> tuple[Any, ...]:
        last, first = (u.get("lastName") or "").lower(), (u.get("firstName") or "").lower()
        return (bool(last), last, bool(first), first, uuid.UUID(u["id"]))

    def login(u: dict[str, Any]) -> tuple[Any, ...]:
        moment = u["signedIn"]
        return (moment is not None, moment or datetime.min.replace(tzinfo=UTC), uuid.UUID(u["id"]))

    def created(u: dict[str, Any]) -> tuple[Any, ...]:
        return (datetime.fromisoformat(u["createdAt"]), uuid.UUID(u["id"]))

    def present_first(key: Any) -> Any:
        # Ascending: having a value sorts before not having one.
        return lambda u: tuple(not k if isinstance(k, bool) else k for k in key(u))

    keys = {
        "name": (present_first(name), False),
        "name_desc": (name, True),
        "signed_in_earliest": (present_first(login), False),
        "signed_in_latest": (login, True),
        "oldest": (created, False),
        "newest": (created, True),
    }
    key, descending = keys[order]
    return [u["id"] for u in sorted(people, key=key, reverse=descending)]


@pytest.mark.parametrize("order", list(console_users.ORDERS))
def test_every_order_is_right_across_page_boundaries(
    console: Console,
    people: list[dict[str, Any]],
    order: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(console_users, "PAGE_SIZE", 2)
    expected = _expected(people, order)
    assert _walk(console, f"/admin/users?order={order}") == expected
    # Never-signed-in and nameless users come last in both directions.
    if order.startswith("signed_in"):
        assert {u["id"] for u in people if u["signedIn"] is None} == set(expected[-3:])
    if order.startswith("name"):
        nameless = {u["id"] for u in people if not u.get("lastName")}
        assert nameless == set(expected[-2:])


def test_an_order_combines_with_filters_and_search(
    console: Console, people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_users, "PAGE_SIZE", 2)
    lovelaces = [u for u in people if u.get("lastName") == "Lovelace"]
    expected = _expected(lovelaces, "name_desc")
    assert _walk(console, "/admin/users?order=name_desc&q=lovelace") == expected
    active = _walk(console, "/admin/users?order=signed_in_latest&status=active&q=lovelace")
    assert active == _expected(lovelaces, "signed_in_latest")


def test_a_user_deleted_at_the_page_boundary_skips_nobody(
    console: Console, people: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console_users, "PAGE_SIZE", 3)
    expected = _expected(people, "name")
    first = console.get("/admin/users?order=name")
    link = re.search(r'<a rel="next" href="([^"]+)"', first.text)
    assert link and _ids(first.text) == expected[:3]
    r = console.tenant.http.delete(f"{V2}/users/{expected[2]}", headers=console.tenant.headers())
    assert r.status_code == 204, r.text
    assert _walk(console, link.group(1)) == expected[3:]


def test_sort_headers_say_the_order_and_link_to_the_other_direction(console: Console) -> None:
    console.tenant.user()
    page = console.get("/admin/users?order=name&q=user").text
    assert re.search(r'<th scope="col" aria-sort="ascending"><a href="[^"]*order=name_desc', page)
    assert page.count("aria-sort=") == 1
    assert re.search(r'<option value="name" selected>', page)
    fragment = console.get("/admin/users/rows?order=signed_in_latest").text
    assert 'aria-sort="descending"' in fragment


def _encoded(raw: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(raw).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor",
        "%%%",
        _encoded(["name", "asc", "a", "b", "not-hex"]),
        _encoded(["name", "asc", "a", uuid.uuid4().hex]),  # a value short
        _encoded(["createdAt", "desc", "2026-01-01T00:00:00+00:00", uuid.uuid4().hex]),
        _encoded(["name", "asc", 1, None, uuid.uuid4().hex]),
        _encoded({"name": "asc"}),
    ],
)
def test_a_tampered_cursor_is_a_400_that_says_so(console: Console, cursor: str) -> None:
    for path in ("/admin/users", "/admin/users/rows"):
        r = console.get(path, params={"order": "name", "cursor": cursor})
        assert r.status_code == 400
        assert "not a cursor this list gave" in r.text
        assert _ids(r.text) == []


def test_a_cursor_of_another_order_is_refused(console: Console, monkeypatch: Any) -> None:
    monkeypatch.setattr(console_users, "PAGE_SIZE", 1)
    console.tenant.user()
    console.tenant.user()
    first = console.get("/admin/users?order=signed_in_latest").text
    cursor = re.search(r"cursor=([^\"&]+)", first)
    assert cursor
    r = console.get(f"/admin/users?order=newest&cursor={cursor.group(1)}")
    assert r.status_code == 400


def test_an_unknown_order_is_refused(console: Console) -> None:
    assert console.get("/admin/users?order=shoe_size").status_code in (400, 422)
