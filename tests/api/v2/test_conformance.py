"""Schemathesis against a live rosterd: every operation of the *seed* spec, on both backends.

The spec is the Seismic seed
(`spec/seismic-user-management-openapi.yml`, a copy of the seed), not our
own /openapi.json: rosterd promises to answer the way the seed documents, so the seed is what
its answers are checked against. Each operation, in positive and in negative generation mode,
gets a fresh tenant seeded with linked users, groups, a team and a role; the ids of generated
cases (path ids, id filters, ids in bodies) are often pointed at those resources, so 200/201/204
answers and their bodies are checked too, not only 400s and 404s.

Checks: ``not_a_server_error`` and ``response_schema_conformance`` (with formats: email,
date-time, uri). ``status_code_conformance`` is deliberately left out: rosterd answers 400 for
malformed ids (``GET /users/not-a-uuid``) and for invalid query parameters, which the seed does
not list for most operations; that is a documented choice (README, "REST v2"), not a bug.
Responses with a status the seed does not document are not schema-checked by schemathesis.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.conftest import LiveServer
from tests.factories import V2, TenantHandle

pytestmark = pytest.mark.live

SEED_SPEC = Path(__file__).resolve().parents[3] / "spec" / "seismic-user-management-openapi.yml"
# No status_code_conformance on purpose: rosterd answers 400 for malformed ids
# (GET /users/not-a-uuid) and other invalid input where the seed lists no 400 (see above).
CHECKS = [not_a_server_error, response_schema_conformance]
HTTP_METHODS = {"get", "put", "post", "patch", "delete", "head", "options"}

# Examples per operation and generation mode: 20 operations x (50 + 25) requests per backend,
# about 45 s per backend.
POSITIVE_EXAMPLES = 50
NEGATIVE_EXAMPLES = 25


def _seed_operations() -> dict[str, set[str] | None]:
    """operationId -> the property names its JSON request body declares (None: no body)."""
    doc = yaml.safe_load(SEED_SPEC.read_text(encoding="utf-8"))
    operations: dict[str, set[str] | None] = {}
    for item in doc["paths"].values():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            operations[op["operationId"]] = (
                set(body["schema"].get("properties", {})) if body is not None else None
            )
    return operations


SEED_OPERATIONS = _seed_operations()


def _hypothesis_settings(max_examples: int) -> settings:
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.filter_too_much,
            HealthCheck.data_too_large,
        ],
    )


@pytest.fixture(scope="module")
def seed_schema(live_server: LiveServer) -> Any:
    schema = schemathesis.openapi.from_path(SEED_SPEC, config=schemathesis.Config())
    schema.config.update(base_url=f"{live_server.base_url}{V2}")
    return schema


@pytest.fixture
def http_session() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


# ---- a tenant with real resources to aim at --------------------------------------------------


def _seed_tenant(tenant: TenantHandle) -> dict[str, list[str]]:
    """Users, groups, a team and a custom role, linked together; returns their ids by kind."""
    role = tenant.role(description="conformance role", permissions=["content:read"])
    team = tenant.team(description="conformance team")
    manager = tenant.user(roleId=role["id"], teamId=team["id"], title="Lead", department="R&D")
    member = tenant.user(teamId=team["id"])
    loner = tenant.user()
    r = tenant.http.patch(
        f"{V2}/teams/{team['id']}", json={"managerId": manager["id"]}, headers=tenant.headers()
    )
    assert r.status_code == 200, r.text
    parent = tenant.group(description="parent group")
    child = tenant.group(parentId=parent["id"])
    for group, user in ((parent, manager), (parent, member), (child, manager)):
        r = tenant.http.post(
            f"{V2}/groups/{group['id']}/members",
            json={"userId": user["id"]},
            headers=tenant.headers(),
        )
        assert r.status_code == 201, r.text
    r = tenant.http.get(f"{V2}/roles", params={"limit": 100}, headers=tenant.headers())
    assert r.status_code == 200, r.text
    users = [manager["id"], member["id"], loner["id"]]
    return {
        "user": users,
        "group": [parent["id"], child["id"]],
        "team": [team["id"]],
        "role": [item["id"] for item in r.json()["items"]],
    }


# Which kind of resource a parameter or body field names.
_PATH_KINDS = {"userId": "user", "groupId": "group", "roleId": "role", "teamId": "team"}
_QUERY_KINDS = {
    "groupId": "group",
    "parentId": "group",
    "roleId": "role",
    "teamId": "team",
    "reassignTo": "user",
}
_BODY_KINDS = {
    "userId": "user",
    "roleId": "role",
    "teamId": "team",
    "parentId": "group",
    "managerId": "user",
}


def _aim_at_pool(
    case: Any,
    pool: dict[str, list[str]],
    data: st.DataObject,
    *,
    declared: set[str] | None,
    tidy_allowed: bool,
) -> None:
    """Point the ids of a generated case at resources of the tenant.

    Each id slot (path parameter, id filter, id in the body) keeps its generated value (mostly
    malformed: 400), gets the id of an existing resource, or a well-formed unknown id (404 or
    400). A "tidy" positive case also drops the body fields the seed does not declare (rosterd
    refuses unknown fields) and uses existing ids everywhere, so that it can succeed.
    """
    tidy = tidy_allowed and data.draw(st.booleans(), label="tidy")

    def choose(label: str) -> str:
        if tidy:
            return "existing"
        return str(data.draw(st.sampled_from(["generated", "existing", "unknown"]), label=label))

    def pick(kind: str, label: str) -> str | None:
        choice = choose(label)
        if choice == "existing":
            return str(data.draw(st.sampled_from(pool[kind]), label=label))
        if choice == "unknown":
            return str(data.draw(st.uuids(), label=label))
        return None

    for name in list(case.path_parameters or {}):
        if name in _PATH_KINDS and (value := pick(_PATH_KINDS[name], name)) is not None:
            case.path_parameters[name] = value
    for name in list(case.query or {}):
        if name in _QUERY_KINDS and (value := pick(_QUERY_KINDS[name], name)) is not None:
            case.query[name] = value
    if not isinstance(case.body, dict):
        return
    if tidy and declared is not None:
        for name in set(case.body) - declared:
            del case.body[name]
    for name in list(case.body):
        if name in _BODY_KINDS and (value := pick(_BODY_KINDS[name], name)) is not None:
            case.body[name] = value
        elif name == "groupIds":
            choice = choose(name)
            if choice == "existing":
                ids = st.lists(st.sampled_from(pool["group"]), unique=True)
                case.body[name] = data.draw(ids, label=name)
            elif choice == "unknown":
                case.body[name] = [str(u) for u in data.draw(st.lists(st.uuids()), label=name)]


# ---- the fuzzing -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "max_examples"),
    [(GenerationMode.POSITIVE, POSITIVE_EXAMPLES), (GenerationMode.NEGATIVE, NEGATIVE_EXAMPLES)],
    ids=["positive", "negative"],
)
@pytest.mark.parametrize("operation_id", list(SEED_OPERATIONS))
def test_seed_operation_conforms(
    live_server: LiveServer,
    seed_schema: Any,
    http_session: requests.Session,
    operation_id: str,
    mode: GenerationMode,
    max_examples: int,
) -> None:
    tenant = live_server.tenant()
    pool = _seed_tenant(tenant)
    headers = tenant.headers()
    operation = seed_schema.find_operation_by_id(operation_id)
    # (status, whether the request carried our token): negative cases may drop the
    # Authorization header on purpose.
    answers: list[tuple[int, bool]] = []

    @_hypothesis_settings(max_examples)
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def run(case: Any, data: st.DataObject) -> None:
        _aim_at_pool(
            case,
            pool,
            data,
            declared=SEED_OPERATIONS[operation_id],
            tidy_allowed=mode.is_positive,
        )
        response = case.call_and_validate(session=http_session, headers=headers, checks=CHECKS)
        sent = response.request.headers.get("Authorization")
        answers.append((response.status_code, sent == headers["Authorization"]))

    run()
    # The run really was authenticated: a broken token would make every answer a 401, which
    # the seed documents and so would pass the checks. Requests without our token, and only
    # those, must be refused with 401.
    assert any(authenticated for _, authenticated in answers), answers
    assert all((status not in (401, 403)) == authenticated for status, authenticated in answers), (
        answers
    )
    # Positive runs reach real resources: at least one case succeeded, so a 2xx body was
    # checked against the seed schema (not only error envelopes).
    if mode.is_positive:
        assert any(200 <= status < 300 for status, _ in answers), answers


# ---- the checks above can fail ------------------------------------------------------------------


@pytest.fixture
def seeded(live_server: LiveServer) -> tuple[TenantHandle, dict[str, list[str]]]:
    tenant = live_server.tenant()
    return tenant, _seed_tenant(tenant)


def _forged(real: schemathesis.Response, status: int, body: Any) -> schemathesis.Response:
    """The answer ``real`` with another status and JSON body, as if the server had sent them."""
    return schemathesis.Response(
        status_code=status,
        headers={k: v for k, v in real.headers.items() if k != "content-length"},
        content=json.dumps(body).encode(),
        request=real.request,
        elapsed=real.elapsed,
        verify=real.verify,
    )


def _tampered(body: dict[str, Any], how: str) -> dict[str, Any]:
    item = body["items"][0]
    if how == "status-outside-enum":
        item["status"] = "deleted"
    elif how == "count-as-string":
        body["totalCount"] = str(body["totalCount"])
    elif how == "email-format":
        item["email"] = "not an email"
    elif how == "date-time-format":
        item["createdAt"] = "yesterday"
    elif how == "items-not-array":
        body["items"] = item
    else:  # pragma: no cover
        raise AssertionError(how)
    return body


def test_list_users_answer_matches_seed_schema(
    seed_schema: Any,
    seeded: tuple[TenantHandle, dict[str, list[str]]],
) -> None:
    tenant, pool = seeded
    case = seed_schema.find_operation_by_id("listUsers").Case(query={"limit": 100})
    response = case.call(headers=tenant.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert {u["id"] for u in body["items"]} == set(pool["user"])
    # Fully populated users (role, team, title, department) are in the answer.
    assert any("roleName" in u and "teamName" in u for u in body["items"])
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize(
    "how",
    [
        "status-outside-enum",
        "count-as-string",
        "email-format",
        "date-time-format",
        "items-not-array",
    ],
)
def test_schema_check_rejects_a_tampered_answer(
    seed_schema: Any,
    seeded: tuple[TenantHandle, dict[str, list[str]]],
    how: str,
) -> None:
    tenant, _ = seeded
    case = seed_schema.find_operation_by_id("listUsers").Case(query={"limit": 100})
    real = case.call(headers=tenant.headers())
    assert real.status_code == 200, real.text
    forged = _forged(real, 200, _tampered(real.json(), how))
    with pytest.raises(FailureGroup):
        case.validate_response(forged, checks=[response_schema_conformance])


def test_server_error_check_rejects_a_500(
    seed_schema: Any, seeded: tuple[TenantHandle, dict[str, list[str]]]
) -> None:
    tenant, _ = seeded
    case = seed_schema.find_operation_by_id("listUsers").Case()
    real = case.call(headers=tenant.headers())
    assert real.status_code == 200, real.text
    case.validate_response(real, checks=[not_a_server_error])
    forged = _forged(real, 500, {"error": {"code": "internal", "message": "boom", "details": []}})
    with pytest.raises(FailureGroup):
        case.validate_response(forged, checks=[not_a_server_error])
