"""/scim/v2/Bulk (RFC 7644 §3.7): mixed operations with bulkId references, a status per
operation, one failed operation rolling back only itself, failOnErrors, and the limits.
"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from tests.api.scim.support import (
    ERROR_SCHEMA,
    GROUP_SCHEMA,
    MISSING_ID,
    PATCH_SCHEMA,
    SCIM,
    SCIM_JSON,
    USER_SCHEMA,
    scim_error,
)
from tests.factories import TenantHandle

BULK = f"{SCIM}/Bulk"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


# ---- helpers -------------------------------------------------------------------------------


def _bulk(
    http: TestClient, tenant: TenantHandle, operations: list[dict[str, Any]], **extra: Any
) -> list[dict[str, Any]]:
    r = http.post(
        BULK,
        json={"schemas": [BULK_REQUEST], "Operations": operations, **extra},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(SCIM_JSON)
    body = r.json()
    assert body["schemas"] == [BULK_RESPONSE]
    results = body["Operations"]
    for result in results:
        assert isinstance(result["status"], str), result
        assert isinstance(result["method"], str), result
    return list(results)


def _op_error(result: dict[str, Any], status: int, scim_type: str | None = None) -> None:
    """A failed operation: its status, and the SCIM error as its ``response``."""
    assert result["status"] == str(status), result
    response = result["response"]
    assert response["schemas"] == [ERROR_SCHEMA], result
    assert response["status"] == str(status), result
    assert isinstance(response["detail"], str) and response["detail"].strip()
    if scim_type is not None:
        assert response.get("scimType") == scim_type, result


def _user_op(bulk_id: str, user_name: str, **attrs: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": bulk_id,
        "data": {"schemas": [USER_SCHEMA], "userName": user_name, **attrs},
    }


def _find(http: TestClient, tenant: TenantHandle, resource: str, filter_: str) -> list[Any]:
    r = http.get(f"{SCIM}/{resource}", params={"filter": filter_}, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return list(r.json().get("Resources", []))


def _get(http: TestClient, tenant: TenantHandle, location: str) -> Response:
    return http.get(location.removeprefix("http://testserver"), headers=tenant.scim_headers())


def _total(http: TestClient, tenant: TenantHandle, resource: str) -> int:
    r = http.get(f"{SCIM}/{resource}", params={"count": 0}, headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    return int(r.json()["totalResults"])


def _bulk_limits(http: TestClient, tenant: TenantHandle) -> dict[str, Any]:
    r = http.get(f"{SCIM}/ServiceProviderConfig", headers=tenant.scim_headers())
    assert r.status_code == 200, r.text
    bulk = r.json()["bulk"]
    assert bulk["supported"] is True
    return dict(bulk)


# ---- the happy path ------------------------------------------------------------------------


def test_mixed_operations_with_bulk_id_references(http: TestClient, tenant: TenantHandle) -> None:
    results = _bulk(
        http,
        tenant,
        [
            _user_op("alice", "alice", title="Engineer"),
            _user_op("bob", "bob"),
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "eng",
                "data": {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": "Engineering",
                    "members": [{"value": "bulkId:alice"}, {"value": "bulkId:bob"}],
                },
            },
            {
                "method": "PATCH",
                "path": "/Users/bulkId:alice",
                "data": {
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [{"op": "replace", "path": "title", "value": "Lead"}],
                },
            },
            {
                "method": "PUT",
                "path": "/Groups/bulkId:eng",
                "data": {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": "Engineering Team",
                    "members": [{"value": "bulkId:alice"}],
                },
            },
            {"method": "DELETE", "path": "/Users/bulkId:bob"},
        ],
    )
    assert [r["status"] for r in results] == ["201", "201", "201", "200", "200", "204"]
    assert [r["method"] for r in results] == ["POST", "POST", "POST", "PATCH", "PUT", "DELETE"]
    assert [r.get("bulkId") for r in results[:3]] == ["alice", "bob", "eng"]
    for result in results:
        assert result["location"].startswith("http://testserver/scim/v2/"), result
        assert "response" not in result
    for result in results[:5]:
        assert result["version"].startswith('W/"'), result

    alice_url, bob_url, group_url = (r["location"] for r in results[:3])
    alice_id = alice_url.rsplit("/", 1)[1]
    assert results[3]["location"] == alice_url
    assert results[4]["location"] == group_url
    assert results[5]["location"] == bob_url

    alice = _get(http, tenant, alice_url)
    assert alice.status_code == 200, alice.text
    assert alice.json()["title"] == "Lead"
    assert alice.headers["ETag"] == results[3]["version"]
    assert _get(http, tenant, bob_url).status_code == 404
    group = _get(http, tenant, group_url).json()
    assert group["displayName"] == "Engineering Team"
    assert [m["value"] for m in group["members"]] == [alice_id]


def test_bulk_id_in_a_patch_value(http: TestClient, tenant: TenantHandle) -> None:
    group = http.post(
        f"{SCIM}/Groups",
        json={"schemas": [GROUP_SCHEMA], "displayName": "Existing"},
        headers=tenant.scim_headers(),
    ).json()
    results = _bulk(
        http,
        tenant,
        [
            _user_op("new", "newcomer"),
            {
                "method": "PATCH",
                "path": f"/Groups/{group['id']}",
                "data": {
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [
                        {"op": "add", "path": "members", "value": [{"value": "bulkId:new"}]}
                    ],
                },
            },
        ],
    )
    assert [r["status"] for r in results] == ["201", "200"]
    new_id = results[0]["location"].rsplit("/", 1)[1]
    members = _get(http, tenant, results[1]["location"]).json()["members"]
    assert [m["value"] for m in members] == [new_id]


def test_bulk_on_the_alias(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        "/api/scim/v2/Bulk",
        json={"schemas": [BULK_REQUEST], "Operations": [_user_op("a", "aliased")]},
        headers=tenant.scim_headers(),
    )
    assert r.status_code == 200, r.text
    (result,) = r.json()["Operations"]
    assert result["status"] == "201"
    assert result["location"].startswith("http://testserver/api/scim/v2/Users/")
    assert len(_find(http, tenant, "Users", 'userName eq "aliased"')) == 1


# ---- failures ------------------------------------------------------------------------------


def test_a_failed_operation_rolls_back_only_itself(http: TestClient, tenant: TenantHandle) -> None:
    results = _bulk(
        http,
        tenant,
        [
            _user_op("first", "first"),
            # the group row is written before its members are checked: the savepoint of this
            # operation must take it back
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "ghosts",
                "data": {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": "Ghosts",
                    "members": [{"value": "bulkId:first"}, {"value": MISSING_ID}],
                },
            },
            _user_op("dup", "FIRST"),
            {
                "method": "PATCH",
                "path": "/Users/bulkId:first",
                "data": {
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [
                        {"op": "replace", "path": "title", "value": "Never"},
                        {"op": "replace", "path": "id", "value": MISSING_ID},
                    ],
                },
            },
            _user_op("last", "last"),
        ],
    )
    assert [r["status"] for r in results] == ["201", "400", "409", "400", "201"]
    _op_error(results[1], 400, "invalidValue")
    _op_error(results[2], 409, "uniqueness")
    _op_error(results[3], 400, "mutability")
    assert results[1]["bulkId"] == "ghosts"
    assert "location" not in results[1]  # a failed POST has no resource
    assert results[3]["location"] == results[0]["location"]

    assert _find(http, tenant, "Groups", 'displayName eq "Ghosts"') == []
    assert _total(http, tenant, "Groups") == 0
    first = _get(http, tenant, results[0]["location"]).json()
    assert "title" not in first
    assert "groups" not in first
    assert {u["userName"] for u in _find(http, tenant, "Users", "userName pr")} == {
        "first",
        "last",
    }


def test_reference_to_a_failed_operation_fails_too(http: TestClient, tenant: TenantHandle) -> None:
    _bulk(http, tenant, [_user_op("taken", "taken")])
    results = _bulk(
        http,
        tenant,
        [
            _user_op("x", "taken"),
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g",
                "data": {
                    "schemas": [GROUP_SCHEMA],
                    "displayName": "Refers",
                    "members": [{"value": "bulkId:x"}],
                },
            },
            {"method": "DELETE", "path": "/Users/bulkId:undefined"},
        ],
    )
    assert [r["status"][0] for r in results] == ["4", "4", "4"]
    _op_error(results[0], 409, "uniqueness")
    for result in results[1:]:
        assert result["response"]["schemas"] == [ERROR_SCHEMA]
    assert _find(http, tenant, "Groups", 'displayName eq "Refers"') == []


def test_fail_on_errors_stops_processing(http: TestClient, tenant: TenantHandle) -> None:
    _bulk(http, tenant, [_user_op("taken", "taken")])
    results = _bulk(
        http,
        tenant,
        [
            _user_op("a", "a-user"),
            _user_op("dup", "taken"),
            _user_op("b", "b-user"),
        ],
        failOnErrors=1,
    )
    assert [r["status"] for r in results] == ["201", "409"]
    assert [r["bulkId"] for r in results] == ["a", "dup"]
    assert len(_find(http, tenant, "Users", 'userName eq "a-user"')) == 1
    assert _find(http, tenant, "Users", 'userName eq "b-user"') == []

    results = _bulk(
        http,
        tenant,
        [
            _user_op("d1", "taken"),
            _user_op("c", "c-user"),
            _user_op("d2", "TAKEN"),
            _user_op("e", "e-user"),
        ],
        failOnErrors=2,
    )
    assert [r["status"] for r in results] == ["409", "201", "409"]
    assert len(_find(http, tenant, "Users", 'userName eq "c-user"')) == 1
    assert _find(http, tenant, "Users", 'userName eq "e-user"') == []


def test_without_fail_on_errors_everything_is_tried(http: TestClient, tenant: TenantHandle) -> None:
    results = _bulk(
        http,
        tenant,
        [_user_op(f"d{i}", "same") for i in range(4)],
    )
    assert [r["status"] for r in results] == ["201", "409", "409", "409"]


def test_stale_version_fails_the_operation(http: TestClient, tenant: TenantHandle) -> None:
    created = _bulk(http, tenant, [_user_op("u", "versioned")])[0]
    stale = created["version"]
    _bulk(
        http,
        tenant,
        [
            {
                "method": "PATCH",
                "path": created["location"].split("/scim/v2", 1)[1],
                "version": stale,
                "data": {
                    "schemas": [PATCH_SCHEMA],
                    "Operations": [{"op": "replace", "path": "title", "value": "One"}],
                },
            }
        ],
    )
    (result,) = _bulk(
        http,
        tenant,
        [
            {
                "method": "DELETE",
                "path": created["location"].split("/scim/v2", 1)[1],
                "version": stale,
            }
        ],
    )
    _op_error(result, 412)
    assert result["location"] == created["location"]
    assert _get(http, tenant, created["location"]).json()["title"] == "One"


@pytest.mark.parametrize(
    ("operation", "status"),
    [
        ({"method": "POST", "path": "/Widgets", "data": {}}, 400),
        ({"method": "POST", "path": "/Users/123", "data": {}}, 400),
        ({"method": "GET", "path": "/Users"}, 400),
        ({"method": "PUT", "path": "/Users"}, 400),
        ({"method": "DELETE", "path": f"/Users/{MISSING_ID}"}, 404),
        ({"method": "POST", "path": "/Users", "data": "not an object"}, 400),
        ({"method": "POST", "data": {"schemas": [USER_SCHEMA], "userName": "x"}}, 400),
    ],
)
def test_bad_operation_fails_alone(
    http: TestClient, tenant: TenantHandle, operation: dict[str, Any], status: int
) -> None:
    results = _bulk(http, tenant, [operation, _user_op("ok", "ok")])
    _op_error(results[0], status)
    if operation["method"] == "POST":
        assert "location" not in results[0]
    assert results[1]["status"] == "201"
    assert [u["userName"] for u in _find(http, tenant, "Users", "userName pr")] == ["ok"]


# ---- limits and the envelope ---------------------------------------------------------------


def test_more_than_max_operations_is_413(http: TestClient, tenant: TenantHandle) -> None:
    limit = int(_bulk_limits(http, tenant)["maxOperations"])
    operations = [_user_op("first", "first")] + [
        {"method": "DELETE", "path": f"/Users/{MISSING_ID}"} for _ in range(limit)
    ]
    r = http.post(
        BULK,
        json={"schemas": [BULK_REQUEST], "Operations": operations},
        headers=tenant.scim_headers(),
    )
    body = scim_error(r, 413)
    assert str(limit) in body["detail"]
    assert _total(http, tenant, "Users") == 0


def test_exactly_max_operations_is_accepted(http: TestClient, tenant: TenantHandle) -> None:
    limit = int(_bulk_limits(http, tenant)["maxOperations"])
    operations = [{"method": "DELETE", "path": f"/Users/{MISSING_ID}"}] * (limit - 1)
    results = _bulk(http, tenant, [*operations, _user_op("last", "last")])
    assert len(results) == limit
    assert results[-1]["status"] == "201"


def test_payload_over_max_payload_size_is_413(http: TestClient, tenant: TenantHandle) -> None:
    limit = int(_bulk_limits(http, tenant)["maxPayloadSize"])
    big = _user_op("big", "big", title="x" * (limit + 10))
    r = http.post(
        BULK, json={"schemas": [BULK_REQUEST], "Operations": [big]}, headers=tenant.scim_headers()
    )
    scim_error(r, 413)
    assert _total(http, tenant, "Users") == 0


@pytest.mark.parametrize(
    ("body", "scim_type"),
    [
        (b'{"schemas": [', "invalidSyntax"),
        (b"[]", "invalidSyntax"),
        ({"Operations": []}, "invalidSyntax"),
        ({"schemas": ["urn:example:Bulk"], "Operations": []}, "invalidSyntax"),
        ({"schemas": [BULK_REQUEST]}, "invalidSyntax"),
        ({"schemas": [BULK_REQUEST], "Operations": {"method": "POST"}}, "invalidSyntax"),
        ({"schemas": [BULK_REQUEST], "Operations": ["POST /Users"]}, "invalidSyntax"),
        ({"schemas": [BULK_REQUEST], "Operations": [], "failOnErrors": 0}, "invalidValue"),
        ({"schemas": [BULK_REQUEST], "Operations": [], "failOnErrors": "x"}, "invalidValue"),
    ],
)
def test_bad_envelope_is_400(
    http: TestClient, tenant: TenantHandle, body: Any, scim_type: str
) -> None:
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    r = http.post(BULK, headers=tenant.scim_headers(), **kwargs)
    scim_error(r, 400, scim_type)


def test_bad_envelope_applies_nothing(http: TestClient, tenant: TenantHandle) -> None:
    r = http.post(
        BULK,
        json={"schemas": [BULK_REQUEST], "Operations": [_user_op("a", "a"), "not an object"]},
        headers=tenant.scim_headers(),
    )
    scim_error(r, 400, "invalidSyntax")
    assert _total(http, tenant, "Users") == 0


def test_bulk_needs_a_scim_token(http: TestClient, tenant: TenantHandle) -> None:
    body = {"schemas": [BULK_REQUEST], "Operations": [_user_op("a", "a")]}
    scim_error(http.post(BULK, json=body), 401)
    scim_error(http.post(BULK, json=body, headers=tenant.headers()), 401)
    assert _total(http, tenant, "Users") == 0
