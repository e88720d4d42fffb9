"""/user_identities/* (seed 003, and what the official Seam SDK calls).

Each operation takes its parameters from the query string or a JSON body, as the SDK sends
GET, POST, PATCH or DELETE. Listing pages with an opaque, signed keyset cursor over
(created_at, id), so paging stays right while identities are added or removed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol, TypeVar

import orjson
from fastapi import Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from rosterd.api.deps import (
    ReadSession,
    RuntimeDep,
    SearchSession,
    WriteSession,
    in_unit_of_work,
)
from rosterd.api.errors import malformed_body
from rosterd.api.fast_paths import FastPath
from rosterd.api.identities.auth import IdentitiesActor, fast_actor
from rosterd.api.routing import api_router
from rosterd.api.wire import Text, field_table
from rosterd.db.work import Kind
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models.user import full_name
from rosterd.runtime import Runtime
from rosterd.services import users as users_service
from rosterd.services.errors import FieldError, Invalid, invalid_field

PREFIX = "/user_identities"
router = api_router(prefix=PREFIX, tags=["User identities"])

# What a list or a get looks for (never stored). Identity fields carry no value rules here:
# rosterd.domain.rules decides, the same way on every surface, and this surface asks it
# for E.164 phone numbers (phone_must_be_e164).
Lookup = Annotated[Text, StringConstraints(strip_whitespace=True, max_length=255)]
MAX_LIMIT = 1000
M = TypeVar("M", bound=BaseModel)


class _Params(BaseModel):
    # The SDK appends _strict=true to every query string.
    model_config = ConfigDict(extra="forbid")
    strict_: bool | None = Field(default=None, alias="_strict")


class ListParams(_Params):
    search: Lookup | None = None
    created_before: datetime | None = None
    limit: int = Field(default=500, ge=1, le=MAX_LIMIT)
    page_cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
    user_identity_ids: list[uuid.UUID] | None = Field(default=None, max_length=1000)
    credential_manager_acs_system_id: uuid.UUID | None = None


class GetParams(_Params):
    user_identity_id: uuid.UUID | None = None
    user_identity_key: Lookup | None = None


class _IdentityFields(_Params):
    """Attributes are named after the domain fields they carry, aliased to this API's names;
    ``full_name`` is split into the first and last name."""

    email: str | None = Field(
        default=None, alias="email_address", json_schema_extra={"format": "email"}
    )
    phone: str | None = Field(
        default=None, alias="phone_number", json_schema_extra={"format": "E.164"}
    )
    full_name: str | None = None
    identity_key: str | None = Field(default=None, alias="user_identity_key")


class CreateParams(_IdentityFields):
    acs_system_ids: list[uuid.UUID] = Field(default_factory=list, max_length=0)


class UpdateParams(_IdentityFields):
    user_identity_id: uuid.UUID


# The surface's one field table: domain field name -> wire name. The name's parts are told
# as the full name they come from; the username is the identity's email (or key, or phone).
WIRE_NAMES = field_table(
    UpdateParams, first_name="full_name", last_name="full_name", username="email_address"
)


class DeleteParams(_Params):
    user_identity_id: uuid.UUID


def _query_params(request: Request) -> dict[str, Any]:
    """The query string's parameters; repeated keys become lists."""
    params: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        params[key] = values if key == "user_identity_ids" or len(values) > 1 else values[0]
    return params


async def _raw_params(request: Request) -> dict[str, Any]:
    """Query string and JSON body merged (the body wins); repeated keys become lists."""
    params = _query_params(request)
    body = await request.body()
    if body.strip():
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, RecursionError, json.JSONDecodeError) as exc:
            raise malformed_body(exc) from exc
        if not isinstance(payload, dict):
            raise Invalid("the JSON body must be an object")
        params.update(payload)
    return params


RawParams = Annotated[dict[str, Any], Depends(_raw_params)]


def _validate(model: type[M], data: dict[str, Any]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        details = [
            FieldError(".".join(str(p) for p in e["loc"]) or "body", str(e["msg"]))
            for e in exc.errors()
        ]
        raise Invalid(
            "invalid input: " + "; ".join(f"{d.field}: {d.message}" for d in details), details
        ) from exc


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Shown(Protocol):
    """What ``_out`` reads of a user: a User, or a row of ``users_repo.IDENTITY_COLUMNS``."""

    @property
    def id(self) -> uuid.UUID: ...
    @property
    def tenant_id(self) -> uuid.UUID: ...
    @property
    def identity_key(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def username(self) -> str: ...
    @property
    def display_name(self) -> str | None: ...
    @property
    def first_name(self) -> str | None: ...
    @property
    def last_name(self) -> str | None: ...
    @property
    def created_at(self) -> datetime: ...


def _out(user: _Shown) -> dict[str, Any]:
    name = full_name(user.first_name, user.last_name)
    return {
        "user_identity_id": str(user.id),
        "user_identity_key": user.identity_key,
        "email_address": user.email,
        "phone_number": user.phone,
        "display_name": user.display_name or name or user.email or user.username,
        "full_name": name,
        "created_at": _iso(user.created_at),
        "workspace_id": str(user.tenant_id),
        "errors": [],
        "warnings": [],
        "acs_user_ids": [],
    }


def _split_name(full_name: str | None) -> tuple[str | None, str | None]:
    """First and last name: split at the last space; the space around them belongs to
    neither."""
    if not full_name or not full_name.strip():
        return None, None
    first, _, last = full_name.strip().rpartition(" ")
    return (first, last) if first else (last, None)


# ---- cursors -----------------------------------------------------------------------------


def _sign(key: bytes, payload: bytes) -> str:
    return hmac.new(key, payload, hashlib.sha256).hexdigest()[:32]


def encode_cursor(key: bytes, created_at: datetime, user_id: uuid.UUID) -> str:
    payload = json.dumps({"c": created_at.isoformat(), "i": str(user_id)}).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{_sign(key, payload)}"


def decode_cursor(key: bytes, cursor: str) -> tuple[datetime, uuid.UUID]:
    body, _, signature = cursor.partition(".")
    try:
        payload = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        if not hmac.compare_digest(_sign(key, payload), signature):
            raise ValueError("signature")
        data = json.loads(payload)
        return datetime.fromisoformat(data["c"]), uuid.UUID(data["i"])
    except (ValueError, KeyError, TypeError, binascii.Error, json.JSONDecodeError) as exc:
        raise invalid_field("page_cursor", "not a cursor this server issued") from exc


# ---- operations --------------------------------------------------------------------------


@router.get("/list", operation_id="listUserIdentities")
@router.post("/list", operation_id="listUserIdentitiesByPost")
def list_identities(
    request: Request,
    raw: RawParams,
    actor: IdentitiesActor,
    session: SearchSession,
    runtime: RuntimeDep,
) -> dict[str, Any]:
    params = _validate(ListParams, raw)
    if params.credential_manager_acs_system_id is not None:
        # rosterd has no access-control systems, so nothing can belong to one.
        users: Sequence[_Shown] = []
    else:
        after = decode_cursor(runtime.hmac_key, params.page_cursor) if params.page_cursor else None
        created_before = params.created_before
        if created_before is not None and created_before.tzinfo is None:
            created_before = created_before.replace(tzinfo=UTC)
        users = users_service.page_after(
            session,
            actor,
            search=params.search or None,
            created_before=created_before,
            ids=params.user_identity_ids,
            after=after,
            limit=params.limit + 1,
        )
    has_next = len(users) > params.limit
    page = users[: params.limit]
    cursor = encode_cursor(runtime.hmac_key, page[-1].created_at, page[-1].id) if has_next else None
    next_url = None
    if cursor:
        # The same request with the cursor, at ROSTERD_PUBLIC_URL (never the Host header).
        url = request.url.include_query_params(page_cursor=cursor)
        next_url = f"{runtime.settings.public_url.rstrip('/')}{url.path}?{url.query}"
    return {
        "user_identities": [_out(u) for u in page],
        "pagination": {
            "next_page_cursor": cursor,
            "has_next_page": has_next,
            "next_page_url": next_url,
        },
        "ok": True,
    }


@router.get("/get", operation_id="getUserIdentity")
@router.post("/get", operation_id="getUserIdentityByPost")
def get_identity(raw: RawParams, actor: IdentitiesActor, session: ReadSession) -> dict[str, Any]:
    params = _validate(GetParams, raw)
    if params.user_identity_id is not None:
        user = users_service.get_user(session, actor, params.user_identity_id)
    elif params.user_identity_key is not None:
        user = users_service.get_by_identity_key(session, actor, params.user_identity_key)
    else:
        raise invalid_field("user_identity_id", "give user_identity_id or user_identity_key")
    return {"user_identity": _out(user), "ok": True}


@router.post("/create", operation_id="createUserIdentity")
def create_identity(
    raw: RawParams, actor: IdentitiesActor, session: WriteSession
) -> dict[str, Any]:
    params = _validate(CreateParams, raw)
    if not (params.email or params.phone or params.identity_key):
        raise invalid_field(
            "email", "give at least one of email_address, phone_number, user_identity_key"
        )
    first, last = _split_name(params.full_name)
    user = users_service.create_user(
        session,
        actor,
        NewUser(
            email=params.email,
            # Without one, the email is the login name (as the domain normalises it).
            username=None if params.email else (params.identity_key or params.phone),
            first_name=first,
            last_name=last,
            phone=params.phone,
            phone_must_be_e164=True,
            identity_key=params.identity_key,
        ),
    )
    return {"user_identity": _out(user), "ok": True}


@router.patch("/update", operation_id="updateUserIdentity")
@router.post("/update", operation_id="updateUserIdentityByPost")
def update_identity(
    raw: RawParams, actor: IdentitiesActor, session: WriteSession
) -> dict[str, Any]:
    params = _validate(UpdateParams, raw)
    sent = params.model_fields_set
    user = users_service.lock_user(session, actor, params.user_identity_id)
    changes: dict[str, Any] = params.model_dump(include=sent & {"phone", "identity_key"})
    if "email" in sent:
        changes.update(users_service.email_changes(user, params.email))
    if "full_name" in sent:
        changes["first_name"], changes["last_name"] = _split_name(params.full_name)
    users_service.apply_patch(session, actor, user, UserPatch(**changes, phone_must_be_e164=True))
    return {"user_identity": _out(user), "ok": True}


@router.delete("/delete", operation_id="deleteUserIdentity")
@router.post("/delete", operation_id="deleteUserIdentityByPost")
def delete_identity(
    raw: RawParams, actor: IdentitiesActor, session: WriteSession
) -> dict[str, Any]:
    params = _validate(DeleteParams, raw)
    users_service.delete_user(session, actor, params.user_identity_id)
    return {"ok": True}


async def list_identities_fast(request: Request, params: Mapping[str, Any]) -> Response | None:
    """``list_identities`` on its fast path (rosterd.api.fast_paths): a GET with its
    parameters in the query string, as the Seam SDK and scripts send it. A request with a
    body goes to the route (which merges the two)."""
    if request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers:
        return None
    actor = await fast_actor(request)
    if actor is None:
        return None
    runtime: Runtime = request.app.state.runtime
    raw = _query_params(request)
    result = await in_unit_of_work(
        runtime,
        Kind.SLOW_READ,
        lambda session: list_identities(
            request=request, raw=raw, actor=actor, session=session, runtime=runtime
        ),
    )
    # What FastAPI sends for the route's dict: the same compact UTF-8 JSON.
    return Response(orjson.dumps(result), media_type="application/json")


FAST_PATHS = (FastPath("GET", f"{PREFIX}/list", list_identities_fast),)
