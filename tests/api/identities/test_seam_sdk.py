"""The official Seam SDK, unmodified, against a real rosterd (seed 003).

Every call goes through ``seam.Seam(api_key=..., endpoint=live_server.base_url)``: what the
SDK sends (GET with ``_strict=true`` query strings, POST/PATCH/DELETE with JSON or query
parameters) and what it expects back (``user_identity``, ``user_identities``, ``pagination``,
the error envelope it turns into exceptions) are rosterd's contract here.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from seam import NULL, Seam
from seam.exceptions import (
    SeamHttpApiError,
    SeamHttpInvalidInputError,
    SeamHttpUnauthorizedError,
)

from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.conftest import LiveServer
from tests.factories import TenantHandle

pytestmark = pytest.mark.live


def issue_api_key(tenant: TenantHandle, name: str = "seam sdk") -> str:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        return bearer_secrets.create(
            session,
            api_keys.KIND,
            row,
            name=name,
            hmac_key=tenant.runtime.hmac_key,
            actor=Actor(tenant_id=row.id, actor="test", surface="test"),
        ).secret


@dataclass
class Workspace:
    """A tenant of its own, seen through the Seam SDK."""

    tenant: TenantHandle
    key: str
    seam: Seam

    def create(self, **fields: Any) -> Any:
        n = secrets.token_hex(4)
        body: dict[str, Any] = {
            "email_address": f"ident-{n}@example.com",
            "full_name": f"Test Person{n}",
        }
        body.update(fields)
        return self.seam.user_identities.create(**body)

    def all_ids(self) -> list[str]:
        items = self.seam.create_paginator(
            self.seam.user_identities.list, {"limit": 100}
        ).flatten_to_list()
        return [i.user_identity_id for i in items]


def _workspace(live_server: LiveServer) -> Workspace:
    tenant = live_server.tenant()
    key = issue_api_key(tenant)
    return Workspace(tenant=tenant, key=key, seam=Seam(api_key=key, endpoint=live_server.base_url))


@pytest.fixture
def ws(live_server: LiveServer) -> Iterator[Workspace]:
    workspace = _workspace(live_server)
    yield workspace
    workspace.seam.close()


@pytest.fixture
def other_ws(live_server: LiveServer) -> Iterator[Workspace]:
    workspace = _workspace(live_server)
    yield workspace
    workspace.seam.close()


def _phone() -> str:
    return "+1555" + "".join(secrets.choice("0123456789") for _ in range(7))


def _email() -> str:
    return f"ident-{secrets.token_hex(5)}@example.com"


def _ts(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _api_error(exc: pytest.ExceptionInfo[SeamHttpApiError], status: int, code: str) -> None:
    assert exc.value.status_code == status, (exc.value.code, str(exc.value))
    assert exc.value.code == code
    assert str(exc.value)


# ---- create, get, update, delete -----------------------------------------------------------


def test_create_get_update_delete(ws: Workspace) -> None:
    email, phone, key = _email(), _phone(), f"key-{secrets.token_hex(4)}"
    created = ws.seam.user_identities.create(
        email_address=email, phone_number=phone, full_name="Jen Smith", user_identity_key=key
    )
    assert uuid.UUID(created.user_identity_id)
    assert created.email_address == email
    assert created.phone_number == phone
    assert created.full_name == "Jen Smith"
    assert created.display_name == "Jen Smith"
    assert created.user_identity_key == key
    assert created.workspace_id == str(ws.tenant.id)
    assert created.errors == [] and created.warnings == [] and created.acs_user_ids == []
    assert _ts(created.created_at).tzinfo is not None

    assert ws.seam.user_identities.get(user_identity_id=created.user_identity_id) == created
    assert ws.seam.user_identities.get(user_identity_key=key) == created

    new_email, new_phone = _email(), _phone()
    assert (
        ws.seam.user_identities.update(
            user_identity_id=created.user_identity_id,
            full_name="Jennifer Smith-Jones",
            email_address=new_email,
            phone_number=new_phone,
            user_identity_key=f"{key}-2",
        )
        is None
    )
    updated = ws.seam.user_identities.get(user_identity_id=created.user_identity_id)
    assert updated.full_name == "Jennifer Smith-Jones"
    assert updated.email_address == new_email
    assert updated.phone_number == new_phone
    assert updated.user_identity_key == f"{key}-2"
    assert updated.created_at == created.created_at
    assert ws.seam.user_identities.get(user_identity_key=f"{key}-2") == updated
    with pytest.raises(SeamHttpApiError) as exc:
        ws.seam.user_identities.get(user_identity_key=key)
    _api_error(exc, 404, "user_identity_not_found")

    # Fields left out of an update stay; an explicit null clears.
    ws.seam.user_identities.update(user_identity_id=created.user_identity_id, phone_number=NULL)
    cleared = ws.seam.user_identities.get(user_identity_id=created.user_identity_id)
    assert cleared.phone_number is None
    assert cleared.email_address == new_email
    assert cleared.full_name == "Jennifer Smith-Jones"

    assert ws.seam.user_identities.delete(user_identity_id=created.user_identity_id) is None
    with pytest.raises(SeamHttpApiError) as exc:
        ws.seam.user_identities.get(user_identity_id=created.user_identity_id)
    _api_error(exc, 404, "user_identity_not_found")
    assert created.user_identity_id not in ws.all_ids()
    with pytest.raises(SeamHttpApiError) as exc:
        ws.seam.user_identities.delete(user_identity_id=created.user_identity_id)
    _api_error(exc, 404, "user_identity_not_found")


def test_create_with_only_a_phone_or_only_a_key(ws: Workspace) -> None:
    phone = _phone()
    by_phone = ws.seam.user_identities.create(phone_number=phone)
    assert by_phone.phone_number == phone
    assert by_phone.email_address is None
    key = f"only-key-{secrets.token_hex(4)}"
    by_key = ws.seam.user_identities.create(user_identity_key=key)
    assert by_key.user_identity_key == key
    assert ws.seam.user_identities.get(user_identity_key=key).user_identity_id == (
        by_key.user_identity_id
    )
    assert set(ws.all_ids()) == {by_phone.user_identity_id, by_key.user_identity_id}


def test_create_with_nothing_that_identifies_is_invalid(ws: Workspace) -> None:
    with pytest.raises(SeamHttpInvalidInputError) as exc:
        ws.seam.user_identities.create(full_name="Nobody In Particular")
    assert exc.value.status_code == 400
    assert ws.all_ids() == []


def test_get_of_an_unknown_identity_is_404(ws: Workspace) -> None:
    with pytest.raises(SeamHttpApiError) as exc:
        ws.seam.user_identities.get(user_identity_id=str(uuid.uuid4()))
    _api_error(exc, 404, "user_identity_not_found")
    with pytest.raises(SeamHttpApiError) as exc:
        ws.seam.user_identities.update(user_identity_id=str(uuid.uuid4()), full_name="X Y")
    _api_error(exc, 404, "user_identity_not_found")


# ---- list: search --------------------------------------------------------------------------


@pytest.fixture
def people(ws: Workspace) -> dict[str, Any]:
    tag = secrets.token_hex(3)
    return {
        "ada": ws.create(
            full_name="Ada Lovelace",
            email_address=f"countess.{tag}@analytical.example",
            phone_number="+14155550101",
        ),
        "grace": ws.create(
            full_name="Grace Hopper",
            email_address=f"admiral.{tag}@navy.example",
            phone_number="+14155550202",
        ),
        "alan": ws.create(
            full_name="Alan Turing",
            email_address=f"alan.{tag}@bletchley.example",
            phone_number="+442079460303",
        ),
    }


def _search(ws: Workspace, term: str) -> set[str]:
    return {i.user_identity_id for i in ws.seam.user_identities.list(search=term)}


def test_search_is_partial_and_case_insensitive(ws: Workspace, people: dict[str, Any]) -> None:
    ada, grace, alan = people["ada"], people["grace"], people["alan"]
    ids = {name: p.user_identity_id for name, p in people.items()}
    # Ids (and the random tags in the emails) are hex and searched too, so a term that should
    # miss some identity has a character no hex string has, or is too long to match by chance.
    # Full name: any part, any case, across the first/last name boundary.
    assert _search(ws, "lovelace") == {ids["ada"]}
    assert _search(ws, "GRACE") == {ids["grace"]}
    assert _search(ws, "a LOVE") == {ids["ada"]}
    assert _search(ws, "ace Hop") == {ids["grace"]}
    assert _search(ws, "A") == set(ids.values())
    # Email address.
    assert _search(ws, "navy.EXAMPLE") == {ids["grace"]}
    assert _search(ws, ada.email_address.upper()) == {ids["ada"]}
    # Phone number: a few digits, or the whole number.
    assert _search(ws, "+1415555") == {ids["ada"], ids["grace"]}
    assert _search(ws, "5550101") == {ids["ada"]}
    assert _search(ws, "+44207") == {ids["alan"]}
    assert _search(ws, grace.phone_number) == {ids["grace"]}
    # Identity id: whole, a part, upper case.
    assert _search(ws, alan.user_identity_id) == {ids["alan"]}
    assert _search(ws, alan.user_identity_id.split("-")[-1].upper()) == {ids["alan"]}
    # No match, and LIKE wildcards are literal.
    assert _search(ws, "hamilton") == set()
    assert _search(ws, "%") == set()
    assert _search(ws, "_") == set()


def test_search_pages_too(ws: Workspace, people: dict[str, Any]) -> None:
    ws.create(full_name="Augusta Lovelace")
    found = ws.seam.create_paginator(
        ws.seam.user_identities.list, {"search": "LoveLace", "limit": 1}
    ).flatten_to_list()
    assert [i.full_name for i in found] == ["Ada Lovelace", "Augusta Lovelace"]


# ---- list: paging --------------------------------------------------------------------------


def test_paginator_walks_every_page(ws: Workspace) -> None:
    created = [ws.create().user_identity_id for _ in range(7)]
    items = ws.seam.create_paginator(ws.seam.user_identities.list, {"limit": 2}).flatten_to_list()
    assert [i.user_identity_id for i in items] == created

    # flatten() yields the same, lazily.
    lazy = ws.seam.create_paginator(ws.seam.user_identities.list, {"limit": 3}).flatten()
    assert [i.user_identity_id for i in lazy] == created


def test_manual_page_cursor_loop(ws: Workspace) -> None:
    created = [ws.create().user_identity_id for _ in range(5)]
    seen: list[str] = []
    pages = 0
    cursor: str | None = None
    while True:
        page = ws.seam.user_identities.list(limit=2, page_cursor=cursor)
        pages += 1
        assert len(page) <= 2
        seen.extend(i.user_identity_id for i in page)
        pagination = page.pagination
        assert pagination is not None
        if not pagination["has_next_page"]:
            assert pagination["next_page_cursor"] is None
            break
        cursor = pagination["next_page_cursor"]
        assert isinstance(cursor, str) and cursor
        assert pages < 10
    assert pages == 3
    assert seen == created


def test_a_last_full_page_says_there_is_no_next_page(ws: Workspace) -> None:
    created = [ws.create().user_identity_id for _ in range(4)]
    first = ws.seam.user_identities.list(limit=2)
    second = ws.seam.user_identities.list(limit=2, page_cursor=first.pagination["next_page_cursor"])
    assert [i.user_identity_id for i in [*first, *second]] == created
    assert second.pagination["has_next_page"] is False
    assert second.pagination["next_page_cursor"] is None
    whole = ws.seam.user_identities.list(limit=4)
    assert whole.pagination["has_next_page"] is False


def test_paging_stays_right_while_identities_come_and_go(ws: Workspace) -> None:
    created = [ws.create().user_identity_id for _ in range(10)]
    seen: list[str] = []
    deleted: set[str] = set()
    added: list[str] = []

    page = ws.seam.user_identities.list(limit=3)
    seen.extend(i.user_identity_id for i in page)
    assert seen == created[:3]

    # Between pages: delete the row the cursor points at, one already seen, and one not yet
    # seen; add new ones.
    for victim in (created[2], created[0], created[6]):
        ws.seam.user_identities.delete(user_identity_id=victim)
        deleted.add(victim)
    added.append(ws.create().user_identity_id)

    while page.pagination["has_next_page"]:
        # More churn before each further page: a deletion ahead, a new identity at the end.
        ahead = [c for c in created if c not in seen and c not in deleted]
        if ahead:
            ws.seam.user_identities.delete(user_identity_id=ahead[-1])
            deleted.add(ahead[-1])
        if len(added) < 3:
            added.append(ws.create().user_identity_id)
        page = ws.seam.user_identities.list(
            limit=3, page_cursor=page.pagination["next_page_cursor"]
        )
        seen.extend(i.user_identity_id for i in page)

    assert len(seen) == len(set(seen)), "an identity came twice"
    survivors = [c for c in created if c not in deleted]
    for identity in survivors:
        assert identity in seen, "an identity that existed throughout was skipped"
    # Deleted before their page came: never listed.
    assert not ({created[6]} | (deleted - set(created[:3]))) & set(seen)
    # New ones sort last (creation order) and were all reached.
    assert seen[-len(added) :] == added
    assert [s for s in seen if s in created] == [c for c in created if c in seen], (
        "not in creation order"
    )


def test_created_before(ws: Workspace) -> None:
    made = [ws.create() for _ in range(4)]
    for cutoff in made:
        limit = _ts(cutoff.created_at)
        expected = [m.user_identity_id for m in made if _ts(m.created_at) < limit]
        got = ws.seam.user_identities.list(created_before=cutoff.created_at)
        assert [i.user_identity_id for i in got] == expected
    assert ws.seam.user_identities.list(created_before="2000-01-01T00:00:00.000Z") == []
    everything = ws.seam.user_identities.list(created_before="2999-01-01T00:00:00Z")
    assert [i.user_identity_id for i in everything] == [m.user_identity_id for m in made]
    # Paged too.
    paged = ws.seam.create_paginator(
        ws.seam.user_identities.list, {"created_before": made[3].created_at, "limit": 1}
    ).flatten_to_list()
    assert [i.user_identity_id for i in paged] == [m.user_identity_id for m in made[:3]]


def test_user_identity_ids(ws: Workspace, other_ws: Workspace) -> None:
    made = [ws.create().user_identity_id for _ in range(4)]
    theirs = other_ws.create().user_identity_id
    got = ws.seam.user_identities.list(user_identity_ids=[made[3], made[1]])
    assert [i.user_identity_id for i in got] == [made[1], made[3]]
    assert [
        i.user_identity_id for i in ws.seam.user_identities.list(user_identity_ids=[made[0]])
    ] == [made[0]]
    # Unknown ids and other tenants' ids are not there.
    assert ws.seam.user_identities.list(user_identity_ids=[str(uuid.uuid4()), theirs]) == []
    # Combined with search.
    assert ws.seam.user_identities.list(user_identity_ids=made[:2], search="nomatch") == []


# ---- uniqueness and validation -------------------------------------------------------------


def test_key_email_and_phone_are_unique_per_tenant(ws: Workspace, other_ws: Workspace) -> None:
    email, phone, key = _email(), _phone(), f"key-{secrets.token_hex(4)}"
    first = ws.seam.user_identities.create(
        email_address=email, phone_number=phone, user_identity_key=key
    )
    for taken in (
        {"email_address": email},
        {"email_address": email.upper()},
        {"phone_number": phone},
        {"user_identity_key": key},
    ):
        with pytest.raises(SeamHttpApiError) as exc:
            ws.create(**{"email_address": _email(), **taken})
        assert exc.value.status_code == 409, taken
        assert not isinstance(exc.value, SeamHttpInvalidInputError)
    assert ws.all_ids() == [first.user_identity_id]

    # Nor can another identity take them by an update.
    second = ws.create()
    for taken in ({"email_address": email}, {"phone_number": phone}, {"user_identity_key": key}):
        with pytest.raises(SeamHttpApiError) as exc:
            ws.seam.user_identities.update(user_identity_id=second.user_identity_id, **taken)
        assert exc.value.status_code == 409, taken
    assert ws.seam.user_identities.get(user_identity_id=second.user_identity_id) == second

    # Another tenant has its own.
    theirs = other_ws.seam.user_identities.create(
        email_address=email, phone_number=phone, user_identity_key=key
    )
    assert theirs.user_identity_id != first.user_identity_id
    assert other_ws.seam.user_identities.get(user_identity_key=key) == theirs
    assert ws.seam.user_identities.get(user_identity_key=key) == first


def test_an_email_given_up_can_be_taken_again(ws: Workspace) -> None:
    email = _email()
    first = ws.create(email_address=email)
    ws.seam.user_identities.update(user_identity_id=first.user_identity_id, email_address=_email())
    second = ws.create(email_address=email)
    assert second.email_address == email
    assert ws.seam.user_identities.list(search=email)[0].user_identity_id == (
        second.user_identity_id
    )


@pytest.mark.parametrize(
    "phone", ["555-0100", "15555550100", "+0155555501", "+1 555 555 0100", "+1"]
)
def test_a_bad_phone_number_is_invalid_input(ws: Workspace, phone: str) -> None:
    with pytest.raises(SeamHttpInvalidInputError) as exc:
        ws.create(phone_number=phone)
    assert exc.value.status_code == 400
    assert exc.value.get_validation_error_messages("phone_number")
    existing = ws.create()
    with pytest.raises(SeamHttpInvalidInputError) as exc:
        ws.seam.user_identities.update(
            user_identity_id=existing.user_identity_id, phone_number=phone
        )
    assert exc.value.status_code == 400
    assert ws.seam.user_identities.get(user_identity_id=existing.user_identity_id) == existing
    assert ws.all_ids() == [existing.user_identity_id]


@pytest.mark.parametrize("email", ["not-an-email", "jane@", "@example.com", "jane doe@example.com"])
def test_a_bad_email_address_is_invalid_input(ws: Workspace, email: str) -> None:
    with pytest.raises(SeamHttpInvalidInputError) as exc:
        ws.create(email_address=email)
    assert exc.value.status_code == 400
    assert exc.value.get_validation_error_messages("email_address")
    existing = ws.create()
    with pytest.raises(SeamHttpInvalidInputError):
        ws.seam.user_identities.update(
            user_identity_id=existing.user_identity_id, email_address=email
        )
    assert ws.seam.user_identities.get(user_identity_id=existing.user_identity_id) == existing
    assert ws.all_ids() == [existing.user_identity_id]


@pytest.mark.parametrize("cursor", ["garbage", "eyJjIjogIjIwMjAifQ.0000", "", "x" * 600, "a.b.c"])
def test_an_invalid_page_cursor_is_400(ws: Workspace, cursor: str) -> None:
    ws.create()
    if cursor == "":
        # The SDK drops an empty string, as it drops None: the first page comes back.
        assert len(ws.seam.user_identities.list(page_cursor=cursor)) == 1
        return
    with pytest.raises(SeamHttpInvalidInputError) as exc:
        ws.seam.user_identities.list(page_cursor=cursor)
    assert exc.value.status_code == 400


def test_a_tampered_page_cursor_is_400(ws: Workspace) -> None:
    for _ in range(3):
        ws.create()
    cursor = ws.seam.user_identities.list(limit=1).pagination["next_page_cursor"]
    body, _, signature = cursor.partition(".")
    flipped = ("0" if signature[0] != "0" else "1") + signature[1:]
    for bad in (f"{body}.{flipped}", body, f"{body[:-2]}.{signature}"):
        with pytest.raises(SeamHttpInvalidInputError) as exc:
            ws.seam.user_identities.list(limit=1, page_cursor=bad)
        assert exc.value.status_code == 400


def test_bad_limits_are_invalid_input(ws: Workspace) -> None:
    for limit in (0, -1, 100_000):
        with pytest.raises(SeamHttpInvalidInputError):
            ws.seam.user_identities.list(limit=limit)


# ---- tenants and credentials ---------------------------------------------------------------


def test_a_key_never_sees_another_tenant(ws: Workspace, other_ws: Workspace) -> None:
    mine = ws.create(user_identity_key="shared-key", phone_number=_phone())
    theirs = other_ws.create(user_identity_key="shared-key")
    assert ws.all_ids() == [mine.user_identity_id]
    assert other_ws.all_ids() == [theirs.user_identity_id]
    assert other_ws.seam.user_identities.list(search=mine.email_address) == []
    assert other_ws.seam.user_identities.list(search=mine.user_identity_id) == []
    assert other_ws.seam.user_identities.get(user_identity_key="shared-key") == theirs

    with pytest.raises(SeamHttpApiError) as exc:
        other_ws.seam.user_identities.get(user_identity_id=mine.user_identity_id)
    _api_error(exc, 404, "user_identity_not_found")
    with pytest.raises(SeamHttpApiError) as exc:
        other_ws.seam.user_identities.update(
            user_identity_id=mine.user_identity_id, full_name="Hijacked Name"
        )
    _api_error(exc, 404, "user_identity_not_found")
    with pytest.raises(SeamHttpApiError) as exc:
        other_ws.seam.user_identities.delete(user_identity_id=mine.user_identity_id)
    _api_error(exc, 404, "user_identity_not_found")
    assert ws.seam.user_identities.get(user_identity_id=mine.user_identity_id) == mine

    # A cursor of one tenant's listing shows another tenant nothing of the first.
    for _ in range(2):
        ws.create()
    cursor = ws.seam.user_identities.list(limit=1).pagination["next_page_cursor"]
    other_page = other_ws.seam.user_identities.list(page_cursor=cursor)
    assert {i.workspace_id for i in other_page} <= {str(other_ws.tenant.id)}


def test_an_unknown_key_is_unauthorized(live_server: LiveServer, ws: Workspace) -> None:
    ws.create()
    for key in ("seam_rosterd_not_a_real_key", "seam_something_else", ws.key + "x"):
        with Seam(api_key=key, endpoint=live_server.base_url) as bad:
            with pytest.raises(SeamHttpUnauthorizedError):
                bad.user_identities.list()
            with pytest.raises(SeamHttpUnauthorizedError):
                bad.user_identities.create(email_address=_email())
    assert len(ws.all_ids()) == 1
