"""/user_identities/* over plain HTTP (seed 003): the wire shapes the SDK relies on, GET and
POST listing, credentials, and the error envelope."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from rosterd.services import api_keys, bearer_secrets
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from tests.factories import TenantHandle

UI = "/user_identities"
IDENTITY_FIELDS = {
    "user_identity_id",
    "user_identity_key",
    "email_address",
    "phone_number",
    "display_name",
    "full_name",
    "created_at",
    "workspace_id",
    "errors",
    "warnings",
    "acs_user_ids",
}
PAGINATION_FIELDS = {"next_page_cursor", "has_next_page", "next_page_url"}


def issue_api_key(tenant: TenantHandle, name: str = "http") -> tuple[str, uuid.UUID]:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        issued = bearer_secrets.create(
            session,
            api_keys.KIND,
            row,
            name=name,
            hmac_key=tenant.runtime.hmac_key,
            actor=Actor(tenant_id=row.id, actor="test", surface="test"),
        )
        return issued.secret, issued.record.id


@pytest.fixture
def key(tenant: TenantHandle) -> str:
    return issue_api_key(tenant)[0]


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _create(http: TestClient, key: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"email_address": f"h-{secrets.token_hex(5)}@example.com"}
    body.update(fields)
    r = http.post(f"{UI}/create", json=body, headers=_auth(key))
    assert r.status_code == 200, r.text
    payload = r.json()
    assert set(payload) == {"user_identity", "ok"}
    assert payload["ok"] is True
    return dict(payload["user_identity"])


def assert_error(r: Response, status: int, error_type: str | None = None) -> dict[str, Any]:
    """The user identities error envelope: {"error": {"type", "message"}, "ok": false}."""
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "ok"}, body
    assert body["ok"] is False
    error = body["error"]
    assert {"type", "message"} <= set(error) <= {"type", "message", "validation_errors"}, error
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and error["message"]
    if status != 400:
        assert set(error) == {"type", "message"}, error
    if error_type is not None:
        assert error["type"] == error_type
    return dict(error)


# ---- shapes --------------------------------------------------------------------------------


def test_a_user_identity_has_exactly_the_documented_fields(
    http: TestClient, key: str, tenant: TenantHandle
) -> None:
    created = _create(
        http,
        key,
        full_name="Jen Smith",
        phone_number="+15555550106",
        user_identity_key=f"jen-{secrets.token_hex(3)}",
    )
    assert set(created) == IDENTITY_FIELDS
    assert created["workspace_id"] == str(tenant.id)
    assert created["full_name"] == created["display_name"] == "Jen Smith"
    assert created["errors"] == [] and created["warnings"] == [] and created["acs_user_ids"] == []
    assert created["created_at"].endswith("Z")

    r = http.get(
        f"{UI}/get", params={"user_identity_id": created["user_identity_id"]}, headers=_auth(key)
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"user_identity": created, "ok": True}

    r = http.get(f"{UI}/list", headers=_auth(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"user_identities", "pagination", "ok"}
    assert body["ok"] is True
    assert body["user_identities"] == [created]
    assert set(body["pagination"]) == PAGINATION_FIELDS
    assert body["pagination"] == {
        "next_page_cursor": None,
        "has_next_page": False,
        "next_page_url": None,
    }


def test_an_identity_without_a_name_or_key_has_nulls(http: TestClient, key: str) -> None:
    created = _create(http, key)
    assert set(created) == IDENTITY_FIELDS
    assert created["full_name"] is None
    assert created["user_identity_key"] is None
    assert created["phone_number"] is None
    assert isinstance(created["display_name"], str) and created["display_name"]
    # The list reads its page as rows, not users: it shows the same fallbacks.
    r = http.get(f"{UI}/list", headers=_auth(key))
    assert r.status_code == 200, r.text
    assert r.json()["user_identities"] == [created]


def test_list_by_get_and_by_post_agree(http: TestClient, key: str) -> None:
    made = [_create(http, key, full_name=f"Same Name{i}") for i in range(3)]
    _create(http, key, full_name="Other Person")

    by_get = http.get(f"{UI}/list", params={"search": "same name", "limit": 2}, headers=_auth(key))
    by_post = http.post(f"{UI}/list", json={"search": "same name", "limit": 2}, headers=_auth(key))
    assert by_get.status_code == by_post.status_code == 200, (by_get.text, by_post.text)
    get_body, post_body = by_get.json(), by_post.json()
    ids = [m["user_identity_id"] for m in made]
    assert [i["user_identity_id"] for i in get_body["user_identities"]] == ids[:2]
    assert get_body["user_identities"] == post_body["user_identities"]
    assert get_body["pagination"]["has_next_page"] is True
    assert post_body["pagination"]["has_next_page"] is True

    # The cursor of one works in the other.
    cursor = get_body["pagination"]["next_page_cursor"]
    rest = http.post(
        f"{UI}/list",
        json={"search": "same name", "limit": 2, "page_cursor": cursor},
        headers=_auth(key),
    )
    assert rest.status_code == 200, rest.text
    assert [i["user_identity_id"] for i in rest.json()["user_identities"]] == ids[2:]
    assert rest.json()["pagination"]["has_next_page"] is False

    # An empty POST body lists everything, like a bare GET.
    everything = http.post(f"{UI}/list", headers=_auth(key))
    assert everything.status_code == 200, everything.text
    assert len(everything.json()["user_identities"]) == 4


def test_next_page_url_fetches_the_next_page(http: TestClient, key: str) -> None:
    made = [_create(http, key)["user_identity_id"] for _ in range(3)]
    r = http.get(f"{UI}/list", params={"limit": 2}, headers=_auth(key))
    assert r.status_code == 200, r.text
    pagination = r.json()["pagination"]
    assert pagination["has_next_page"] is True
    url = pagination["next_page_url"]
    assert isinstance(url, str) and pagination["next_page_cursor"] in url
    nxt = http.get(url, headers=_auth(key))
    assert nxt.status_code == 200, nxt.text
    assert [i["user_identity_id"] for i in nxt.json()["user_identities"]] == made[2:]


def test_get_and_delete_take_query_or_body(http: TestClient, key: str) -> None:
    a, b = _create(http, key), _create(http, key)
    r = http.post(f"{UI}/get", json={"user_identity_id": a["user_identity_id"]}, headers=_auth(key))
    assert r.status_code == 200, r.text
    assert r.json()["user_identity"] == a
    r = http.post(
        f"{UI}/delete", json={"user_identity_id": a["user_identity_id"]}, headers=_auth(key)
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True}
    r = http.delete(
        f"{UI}/delete", params={"user_identity_id": b["user_identity_id"]}, headers=_auth(key)
    )
    assert r.status_code == 200, r.text
    r = http.get(f"{UI}/list", headers=_auth(key))
    assert r.json()["user_identities"] == []


# ---- credentials ---------------------------------------------------------------------------


def _refused(http: TestClient, key: str, headers: dict[str, str]) -> None:
    """Every operation answers 401 in the envelope; nothing is written."""
    ident = _create(http, key)["user_identity_id"]
    before = http.get(f"{UI}/list", headers=_auth(key)).json()["user_identities"]
    calls = [
        http.get(f"{UI}/list", headers=headers),
        http.post(f"{UI}/list", json={}, headers=headers),
        http.get(f"{UI}/get", params={"user_identity_id": ident}, headers=headers),
        http.post(f"{UI}/create", json={"email_address": "intruder@example.com"}, headers=headers),
        http.patch(
            f"{UI}/update", json={"user_identity_id": ident, "full_name": "X Y"}, headers=headers
        ),
        http.delete(f"{UI}/delete", params={"user_identity_id": ident}, headers=headers),
    ]
    for r in calls:
        assert_error(r, 401, "unauthorized")
    r = http.get(f"{UI}/list", headers=_auth(key))
    assert r.json()["user_identities"] == before


def test_401_without_a_credential(http: TestClient, key: str) -> None:
    _refused(http, key, {})


def test_401_with_an_oauth_token(http: TestClient, key: str, tenant: TenantHandle) -> None:
    _refused(http, key, tenant.headers())


def test_401_with_a_scim_token(http: TestClient, key: str, tenant: TenantHandle) -> None:
    _refused(http, key, {"Authorization": tenant.scim_headers()["Authorization"]})


def test_401_with_an_unknown_or_revoked_key(http: TestClient, tenant: TenantHandle) -> None:
    key, key_id = issue_api_key(tenant)
    spare, _ = issue_api_key(tenant, "spare")
    _refused(http, key, _auth("seam_rosterd_not_a_real_key"))
    _refused(http, key, _auth(key + "x"))
    _refused(http, key, {"Authorization": key})  # no Bearer scheme
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        bearer_secrets.revoke(
            session, api_keys.KIND, row, key_id, Actor(tenant_id=row.id, actor="t", surface="t")
        )
    _refused(http, spare, _auth(key))


def test_the_admin_x_api_key_header_is_not_enough(
    http: TestClient, key: str, tenant: TenantHandle
) -> None:
    _refused(http, key, {"x-api-key": key})


# ---- errors --------------------------------------------------------------------------------


def test_not_found_and_conflict_envelopes(http: TestClient, key: str) -> None:
    r = http.get(f"{UI}/get", params={"user_identity_id": str(uuid.uuid4())}, headers=_auth(key))
    assert_error(r, 404, "user_identity_not_found")
    taken = _create(http, key, user_identity_key="taken")
    r = http.post(
        f"{UI}/create",
        json={"email_address": "new@example.com", "user_identity_key": "taken"},
        headers=_auth(key),
    )
    assert_error(r, 409)
    r = http.get(f"{UI}/list", headers=_auth(key))
    assert r.json()["user_identities"] == [taken]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "field"),
    [
        ("get", "/list", {"params": {"page_cursor": "garbage"}}, "page_cursor"),
        ("post", "/list", {"json": {"page_cursor": "garbage"}}, "page_cursor"),
        ("get", "/list", {"params": {"limit": "0"}}, "limit"),
        ("get", "/list", {"params": {"limit": "many"}}, "limit"),
        ("get", "/list", {"params": {"created_before": "yesterday"}}, "created_before"),
        ("get", "/list", {"params": {"user_identity_ids": "not-a-uuid"}}, "user_identity_ids"),
        ("get", "/list", {"params": {"colour": "blue"}}, "colour"),
        ("get", "/get", {"params": {"user_identity_id": "not-a-uuid"}}, "user_identity_id"),
        ("get", "/get", {}, "user_identity_id"),
        ("post", "/create", {"json": {"email_address": "nope"}}, "email_address"),
        ("post", "/create", {"json": {"phone_number": "555-0100"}}, "phone_number"),
        ("post", "/create", {"json": {"email_address": "a@example.com", "x": 1}}, "x"),
        ("post", "/create", {"json": {"full_name": "No Identifier"}}, "email_address"),
        ("patch", "/update", {"json": {"full_name": "No Id"}}, "user_identity_id"),
        ("delete", "/delete", {"params": {"user_identity_id": "nope"}}, "user_identity_id"),
    ],
)
def test_invalid_input_envelope(
    http: TestClient, key: str, method: str, path: str, kwargs: dict[str, Any], field: str
) -> None:
    existing = _create(http, key)
    r = http.request(method.upper(), f"{UI}{path}", headers=_auth(key), **kwargs)
    error = assert_error(r, 400, "invalid_input")
    assert field in error["message"], error
    if "validation_errors" in error:
        for messages in error["validation_errors"].values():
            assert isinstance(messages["_errors"], list) and messages["_errors"]
    r = http.get(f"{UI}/list", headers=_auth(key))
    assert r.json()["user_identities"] == [existing]


def test_malformed_json_is_invalid_input(http: TestClient, key: str) -> None:
    for content in (b'{"email_address": ', b"[1, 2]", b'"text"'):
        r = http.post(
            f"{UI}/create",
            content=content,
            headers={**_auth(key), "Content-Type": "application/json"},
        )
        assert_error(r, 400, "invalid_input")
    assert http.get(f"{UI}/list", headers=_auth(key)).json()["user_identities"] == []


def test_unknown_path_uses_the_envelope(http: TestClient, key: str) -> None:
    r = http.get(f"{UI}/nonexistent", headers=_auth(key))
    assert_error(r, 404)
