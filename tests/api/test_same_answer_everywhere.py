"""One value, one answer: a NUL byte, an over-long value, a special-use email domain and a
Unicode case pair get the same answer on every surface that can carry them, from the
importer, and on both databases (issue 10). The rules live once, in rosterd.domain.rules;
each surface only names the field in its own terms.

Each surface below is driven as its clients drive it, and says where its error names a field
(v2's ``details``, the user identities' ``validation_errors``, the message of the formats
that have nothing else). A refusal must leave the store as it was.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from rosterd.api.errors import status_for
from rosterd.models import User
from rosterd.services import api_keys, bearer_secrets
from rosterd.services import imports as imports_service
from rosterd.services import tenants as tenants_service
from rosterd.services.context import Actor
from rosterd.services.errors import DomainError, conflict_of
from tests.api.v1.support import PASSWORD, make_admin
from tests.factories import V2, TenantHandle

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Answer:
    status: int
    # Where the answer names fields: the text a client reads them from.
    names: str = ""
    # What an update of this user needs (an id, or the whole body for a full replace).
    ref: Any = None


Fields = dict[str, str]


class Surface:
    """A way to create and change a user. ``wire`` is the surface's name of each domain
    field the cases use (first_name, email, username)."""

    name = ""
    wire: Fields = {}
    can_update = True

    def __init__(self, http: TestClient, tenant: TenantHandle) -> None:
        self.http, self.tenant = http, tenant

    @property
    def has_username(self) -> bool:
        return "username" in self.wire

    def create(self, user: Fields) -> Answer:
        raise NotImplementedError

    def update(self, ref: Any, changes: Fields) -> Answer:
        raise NotImplementedError


def _key(tenant: TenantHandle) -> str:
    with tenant.runtime.db.writer.begin() as session:
        row = tenants_service.get_tenant_by_slug(session, tenant.slug)
        return bearer_secrets.create(
            session,
            api_keys.KIND,
            row,
            name="same answer",
            hmac_key=tenant.runtime.hmac_key,
            actor=Actor(tenant_id=row.id, actor="test", surface="test"),
        ).secret


class V2Surface(Surface):
    name = "v2"
    wire = {"first_name": "firstName", "email": "email", "username": "username"}

    def _answer(self, r: Any) -> Answer:
        body = r.json()
        if r.status_code >= 400:
            return Answer(r.status_code, " ".join(d["field"] for d in body["error"]["details"]))
        return Answer(r.status_code, ref=body["id"])

    def create(self, user: Fields) -> Answer:
        body = {self.wire[k]: v for k, v in user.items()}
        r = self.http.post(
            f"{V2}/users", json={"lastName": "Lovelace", **body}, headers=self.tenant.headers()
        )
        return self._answer(r)

    def update(self, ref: Any, changes: Fields) -> Answer:
        body = {self.wire[k]: v for k, v in changes.items()}
        r = self.http.patch(f"{V2}/users/{ref}", json=body, headers=self.tenant.headers())
        return self._answer(r)


class ScimSurface(Surface):
    name = "scim"
    wire = {"first_name": "name.givenName", "email": "emails", "username": "userName"}

    def _answer(self, r: Any) -> Answer:
        body = r.json()
        if r.status_code >= 400:
            return Answer(r.status_code, body["detail"])
        return Answer(r.status_code, ref=body["id"])

    @staticmethod
    def _emails(email: str) -> list[dict[str, Any]]:
        return [{"value": email, "type": "work", "primary": True}]

    def create(self, user: Fields) -> Answer:
        body: dict[str, Any] = {
            "schemas": [USER_SCHEMA],
            "userName": user["username"],
            "name": {"givenName": user["first_name"], "familyName": "Lovelace"},
            "emails": self._emails(user["email"]),
        }
        r = self.http.post("/scim/v2/Users", json=body, headers=self.tenant.scim_headers())
        return self._answer(r)

    def update(self, ref: Any, changes: Fields) -> Answer:
        ops: list[dict[str, Any]] = []
        for name, value in changes.items():
            path = self.wire[name]
            ops.append(
                {
                    "op": "replace",
                    "path": path,
                    "value": self._emails(value) if name == "email" else value,
                }
            )
        r = self.http.patch(
            f"/scim/v2/Users/{ref}",
            json={"schemas": [PATCH_OP], "Operations": ops},
            headers=self.tenant.scim_headers(),
        )
        return self._answer(r)


class V1Surface(Surface):
    name = "api-v1"
    wire = {"first_name": "firstName", "email": "email", "username": "userName"}

    def __init__(self, http: TestClient, tenant: TenantHandle) -> None:
        super().__init__(http, tenant)
        self.headers = make_admin(tenant).headers(http)

    def _answer(self, r: Any) -> Answer:
        body = r.json()
        if r.status_code >= 400:
            return Answer(r.status_code, body["error"]["message"])
        return Answer(r.status_code, ref=body["_id"])

    def create(self, user: Fields) -> Answer:
        body = {self.wire[k]: v for k, v in user.items()}
        r = self.http.post(
            "/api/v1/users", json={"password": PASSWORD, **body}, headers=self.headers
        )
        return self._answer(r)

    def update(self, ref: Any, changes: Fields) -> Answer:
        body = {self.wire[k]: v for k, v in changes.items()}
        return self._answer(
            self.http.patch(f"/api/v1/users/{ref}", json=body, headers=self.headers)
        )


class AdminSurface(Surface):
    """/v1/seadminusers: no usernames; PUT replaces the user with the body GET returned."""

    name = "admin-users"
    wire = {"first_name": "firstName", "email": "emailAddress"}

    def __init__(self, http: TestClient, tenant: TenantHandle) -> None:
        super().__init__(http, tenant)
        self.headers = {**tenant.headers(), "x-api-key": _key(tenant)}

    def _answer(self, r: Any) -> Answer:
        body = r.json()
        if r.status_code >= 400:
            return Answer(r.status_code, body["message"])
        return Answer(r.status_code, ref=body)

    def create(self, user: Fields) -> Answer:
        body = {self.wire[k]: v for k, v in user.items()}
        r = self.http.post(
            "/v1/seadminusers", json={"lastName": "Lovelace", **body}, headers=self.headers
        )
        return self._answer(r)

    def update(self, ref: Any, changes: Fields) -> Answer:
        body = {**ref, **{self.wire[k]: v for k, v in changes.items()}}
        r = self.http.put(f"/v1/seadminusers/{ref['id']}", json=body, headers=self.headers)
        return self._answer(r)


class IdentitiesSurface(Surface):
    """/user_identities: no usernames; the first name is the first part of full_name."""

    name = "user-identities"
    wire = {"first_name": "full_name", "email": "email_address"}

    def __init__(self, http: TestClient, tenant: TenantHandle) -> None:
        super().__init__(http, tenant)
        self.headers = {"Authorization": f"Bearer {_key(tenant)}"}

    def _answer(self, r: Any) -> Answer:
        body = r.json()
        if r.status_code >= 400:
            error = body["error"]
            return Answer(
                r.status_code, " ".join([error["message"], *error.get("validation_errors", {})])
            )
        return Answer(r.status_code, ref=body["user_identity"]["user_identity_id"])

    def create(self, user: Fields) -> Answer:
        body = {self.wire[k]: v for k, v in user.items()}
        r = self.http.post("/user_identities/create", json=body, headers=self.headers)
        return self._answer(r)

    def update(self, ref: Any, changes: Fields) -> Answer:
        body = {"user_identity_id": ref, **{self.wire[k]: v for k, v in changes.items()}}
        r = self.http.post("/user_identities/update", json=body, headers=self.headers)
        return self._answer(r)


class ImportSurface(Surface):
    """`rosterd import`: JSON Lines records named by the domain's own field names, one
    batch a transaction, as the CLI runs them."""

    name = "importer"
    wire = {"first_name": "first_name", "email": "email", "username": "username"}
    can_update = False

    def create(self, user: Fields) -> Answer:
        line = json.dumps({"type": "user", "last_name": "Lovelace", **user})
        actor = Actor(tenant_id=self.tenant.id, actor="cli", surface="cli")
        runtime = self.tenant.runtime
        try:
            with runtime.db.writer.begin() as session:
                names = imports_service.Names.load(session, self.tenant.id)
                record = imports_service.parse(1, line)
                done = imports_service.import_batch(session, actor, names, [(1, record)])
        except DomainError as exc:
            return Answer(status_for(exc), _told(exc))
        except IntegrityError as exc:
            conflict = conflict_of(exc)
            if conflict is None:
                raise  # not a unique index: a bug, not an answer
            return Answer(409, _told(conflict))
        if done.existing_users:
            # The importer's 409: a user whose login name is taken is "already there" (so a
            # re-run is safe), reported and left as it was, nothing created.
            return Answer(409, "username already there")
        return Answer(201)


def _told(exc: DomainError) -> str:
    return " ".join([exc.message, *(d.field for d in exc.details)])


SURFACES: list[type[Surface]] = [
    V2Surface,
    ScimSurface,
    V1Surface,
    AdminSurface,
    IdentitiesSurface,
    ImportSurface,
]


# ---- the cases -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """``field`` set to ``value`` on a user (create), or on a user made valid first
    (update); for a case pair, ``taken`` is held by another user first."""

    name: str
    field: str
    value: str
    status: int
    taken: str | None = None


LONG_EMAIL = f"{'a' * 64}@{'b' * 63}.{'c' * 63}.{'d' * 63}.{'e' * 63}.com"
CASES = [
    Case("nul-first-name", "first_name", "Ada\x00Lovelace", 400),
    Case("256-char-first-name", "first_name", "x" * 256, 400),
    Case("over-long-email", "email", LONG_EMAIL, 400),
    Case("special-use-email-domain", "email", "ada@corp.local", 201),
    Case("unicode-case-pair-email", "email", "änna@x.com", 409, taken="ÄNNA@x.com"),
    Case("unicode-case-pair-username", "username", "ärger", 409, taken="Ärger"),
]
assert len(LONG_EMAIL) > 320


def _params() -> list[Any]:
    params = []
    for surface in SURFACES:
        for case in CASES:
            for op in ("create", "update"):
                if op == "update" and not surface.can_update:
                    continue
                if case.field not in surface.wire:
                    continue
                params.append(
                    pytest.param(surface, case, op, id=f"{surface.name}-{op}-{case.name}")
                )
    return params


def _stored(tenant: TenantHandle) -> set[tuple[Any, ...]]:
    """Every user of the tenant, as the store holds it."""
    with tenant.runtime.db.reader() as session:
        rows = session.execute(
            select(User.id, User.username, User.email, User.first_name, User.version).where(
                User.tenant_id == tenant.id
            )
        )
        return {tuple(row) for row in rows}


def _valid(surface: Surface, **fields: str) -> Fields:
    n = secrets.token_hex(4)
    user = {"first_name": "Ada", "email": f"ada-{n}@example.com", **fields}
    if surface.has_username:
        user.setdefault("username", f"ada-{n}")
    return {k: v for k, v in user.items() if k in surface.wire}


def _made(answer: Answer) -> Any:
    assert 200 <= answer.status < 300, answer
    return answer.ref


@pytest.mark.parametrize(("surface_type", "case", "op"), _params())
def test_one_value_gets_one_answer_on_every_surface(
    http: TestClient,
    tenant: TenantHandle,
    surface_type: Callable[[TestClient, TenantHandle], Surface],
    case: Case,
    op: str,
) -> None:
    surface = surface_type(http, tenant)
    if case.taken is not None:
        _made(surface.create(_valid(surface, **{case.field: case.taken})))
    ref = _made(surface.create(_valid(surface))) if op == "update" else None
    before = _stored(tenant)

    if op == "create":
        answer = surface.create(_valid(surface, **{case.field: case.value}))
    else:
        answer = surface.update(ref, {case.field: case.value})

    after = _stored(tenant)
    if case.status == 201:
        assert 200 <= answer.status < 300, answer
        assert case.value in {row[2] for row in after}, after
        return
    assert answer.status == case.status, answer
    assert surface.wire[case.field] in answer.names, answer
    assert after == before
