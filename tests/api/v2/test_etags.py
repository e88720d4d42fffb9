"""ETag and If-Match on /integration/v2 users and groups: every answer carrying a user or a
group carries its version, a write conditional on a stale one is 412 and writes nothing,
the current one or ``*`` passes, and the ETag moves with each change."""

from __future__ import annotations

import secrets
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.factories import V2, TenantHandle

USERS = f"{V2}/users"
GROUPS = f"{V2}/groups"


def _error(r: Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    return dict(body["error"])


def _create(http: TestClient, tenant: TenantHandle, kind: str) -> Response:
    if kind == "users":
        body: dict[str, Any] = {
            "email": f"etag-{secrets.token_hex(5)}@example.com",
            "firstName": "E",
            "lastName": "Tag",
        }
    else:
        body = {"name": f"group-{secrets.token_hex(5)}"}
    r = http.post(f"{V2}/{kind}", json=body, headers=tenant.headers())
    assert r.status_code == 201, r.text
    return r


def _patch_body(kind: str, value: str) -> dict[str, str]:
    return {"title": value} if kind == "users" else {"description": value}


def _field(kind: str) -> str:
    return "title" if kind == "users" else "description"


KINDS = ["users", "groups"]


@pytest.mark.parametrize("kind", KINDS)
def test_create_and_get_carry_the_same_etag(
    http: TestClient, tenant: TenantHandle, kind: str
) -> None:
    created = _create(http, tenant, kind)
    tag = created.headers["etag"]
    assert tag.startswith('W/"')
    got = http.get(f"{V2}/{kind}/{created.json()['id']}", headers=tenant.headers())
    assert got.status_code == 200, got.text
    assert got.headers["etag"] == tag


@pytest.mark.parametrize("kind", KINDS)
def test_etag_changes_after_an_update(http: TestClient, tenant: TenantHandle, kind: str) -> None:
    created = _create(http, tenant, kind)
    url = f"{V2}/{kind}/{created.json()['id']}"

    patched = http.patch(url, json=_patch_body(kind, "changed"), headers=tenant.headers())

    assert patched.status_code == 200, patched.text
    assert patched.headers["etag"] != created.headers["etag"]
    assert http.get(url, headers=tenant.headers()).headers["etag"] == patched.headers["etag"]


@pytest.mark.parametrize("kind", KINDS)
def test_stale_if_match_is_412_and_writes_nothing(
    http: TestClient, tenant: TenantHandle, kind: str
) -> None:
    created = _create(http, tenant, kind)
    url = f"{V2}/{kind}/{created.json()['id']}"
    stale = created.headers["etag"]
    current = http.patch(url, json=_patch_body(kind, "first"), headers=tenant.headers())
    assert current.status_code == 200, current.text

    r = http.patch(
        url, json=_patch_body(kind, "lost update"), headers={**tenant.headers(), "If-Match": stale}
    )

    assert _error(r, 412)["code"] == "precondition_failed"
    after = http.get(url, headers=tenant.headers())
    assert after.json()[_field(kind)] == "first"
    assert after.headers["etag"] == current.headers["etag"]

    gone = http.delete(url, headers={**tenant.headers(), "If-Match": stale})
    _error(gone, 412)
    assert http.get(url, headers=tenant.headers()).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_current_if_match_and_star_pass(http: TestClient, tenant: TenantHandle, kind: str) -> None:
    created = _create(http, tenant, kind)
    url = f"{V2}/{kind}/{created.json()['id']}"

    r = http.patch(
        url,
        json=_patch_body(kind, "conditional"),
        headers={**tenant.headers(), "If-Match": created.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()[_field(kind)] == "conditional"

    # The strong form of the same tag names the same version.
    strong = r.headers["etag"].removeprefix("W/")
    r2 = http.patch(
        url, json=_patch_body(kind, "strong"), headers={**tenant.headers(), "If-Match": strong}
    )
    assert r2.status_code == 200, r2.text

    r3 = http.patch(
        url, json=_patch_body(kind, "any"), headers={**tenant.headers(), "If-Match": "*"}
    )
    assert r3.status_code == 200, r3.text

    deleted = http.delete(url, headers={**tenant.headers(), "If-Match": r3.headers["etag"]})
    assert deleted.status_code == 204, deleted.text
    assert http.get(url, headers=tenant.headers()).status_code == 404


@pytest.mark.parametrize("kind", KINDS)
def test_if_match_that_is_no_etag_is_400(http: TestClient, tenant: TenantHandle, kind: str) -> None:
    created = _create(http, tenant, kind)
    url = f"{V2}/{kind}/{created.json()['id']}"
    r = http.patch(
        url, json=_patch_body(kind, "x"), headers={**tenant.headers(), "If-Match": "banana"}
    )
    err = _error(r, 400)
    assert err["details"][0]["field"] == "If-Match"
    assert http.get(url, headers=tenant.headers()).json().get(_field(kind)) is None


def test_membership_changes_move_the_group_etag(http: TestClient, tenant: TenantHandle) -> None:
    """A group's members are part of it: adding one makes an If-Match read before stale."""
    group = _create(http, tenant, "groups")
    user = tenant.user()
    url = f"{GROUPS}/{group.json()['id']}"
    added = http.post(f"{url}/members", json={"userId": user["id"]}, headers=tenant.headers())
    assert added.status_code == 201, added.text
    r = http.patch(
        url,
        json={"description": "x"},
        headers={**tenant.headers(), "If-Match": group.headers["etag"]},
    )
    _error(r, 412)


def test_refused_membership_changes_leave_the_group_etag(
    http: TestClient, tenant: TenantHandle
) -> None:
    """A membership change that is refused changes nothing of the group; one that is made
    moves its ETag."""
    group = _create(http, tenant, "groups")
    user = tenant.user()
    url = f"{GROUPS}/{group.json()['id']}"

    def etag() -> str:
        return str(http.get(url, headers=tenant.headers()).headers["etag"])

    assert http.post(
        f"{url}/members", json={"userId": user["id"]}, headers=tenant.headers()
    ).is_success
    before = etag()
    refused = [
        (http.post, f"{url}/members", {"userId": user["id"]}, 409),  # a member already
        (http.post, f"{url}/members", {"userId": str(uuid.uuid4())}, 404),  # no such user
        (http.delete, f"{url}/members/{uuid.uuid4()}", None, 404),  # not a member
    ]
    for method, path, body, status in refused:
        kwargs: dict[str, Any] = {"headers": tenant.headers()}
        if body is not None:
            kwargs["json"] = body
        _error(method(path, **kwargs), status)
        assert etag() == before
    removed = http.delete(f"{url}/members/{user['id']}", headers=tenant.headers())
    assert removed.status_code == 204, removed.text
    assert etag() != before


def test_v2_and_scim_show_one_version(http: TestClient, tenant: TenantHandle) -> None:
    """One user, one version: an ETag read through SCIM guards a v2 write, and back."""
    user = _create(http, tenant, "users")
    url = f"{USERS}/{user.json()['id']}"
    scim = http.get(f"/scim/v2/Users/{user.json()['id']}", headers=tenant.scim_headers())
    assert scim.status_code == 200, scim.text
    assert scim.headers["etag"] == user.headers["etag"]

    patched = http.patch(
        url,
        json={"title": "via v2"},
        headers={**tenant.headers(), "If-Match": scim.headers["etag"]},
    )
    assert patched.status_code == 200, patched.text
    again = http.get(f"/scim/v2/Users/{user.json()['id']}", headers=tenant.scim_headers())
    assert again.headers["etag"] == patched.headers["etag"]
