"""/scim/v2/Users (RFC 7644 §3)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import Body, Depends, Header, Request, Response
from scim2_models import (
    Context,
    ListResponse,
    MutabilityException,
    PatchOp,
    ResponseParameters,
)
from sqlalchemy.orm import Session

from rosterd.api.deps import ReadSession, SearchSession, WriteSession, in_unit_of_work
from rosterd.api.fast_paths import FastPath, QueryForm, endpoint_path, query_arguments
from rosterd.api.routing import api_router
from rosterd.api.scim import mapping, plain_users
from rosterd.api.scim.auth import ScimActor, fast_actor
from rosterd.api.scim.errors import ScimResponse, reading_request
from rosterd.api.scim.mapping import Document, ScimUser
from rosterd.api.scim.params import (
    ListParams,
    list_params,
    list_response,
    resource_params,
    resource_response,
    search_params,
)
from rosterd.api.scim.policy import PATCH_POLICY, REQUEST_POLICY, base_url, resource_id
from rosterd.db.work import Kind
from rosterd.domain.commands import NewUser, UserPatch
from rosterd.models import User, UserStatus
from rosterd.repositories import scim_filter
from rosterd.services import tenants as tenants_service
from rosterd.services import users as users_service
from rosterd.services.context import Actor

router = api_router(prefix="/Users", tags=["SCIM"])

Payload = Annotated[dict[str, Any], Body()]
# Parametrised once and held: pydantic keeps parametrised generics only weakly, so a
# subscription per request rebuilt the class every few dozen requests, several ms each.
_UserList = ListResponse[mapping.ScimUser]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _render(session: Session, actor: Actor, users: list[User], base: str) -> list[Document]:
    groups = users_service.groups_of_users(session, actor, [u.id for u in users])
    return [mapping.user_document(u, groups.get(u.id, []), base) for u in users]


def _one(session: Session, actor: Actor, user_id: str, base: str) -> Document:
    user = users_service.get_user(session, actor, resource_id(user_id, "User"))
    return _render(session, actor, [user], base)[0]


def _list(session: Session, actor: Actor, params: ListParams, base: str) -> ScimResponse:
    users, total = users_service.search_by_filter(
        session,
        actor,
        params.filter_tree,
        sort_by=params.sort_by,
        descending=params.descending,
        offset=params.offset,
        limit=params.count,
    )
    return list_response(_render(session, actor, users, base), _UserList, params, total)


@router.get("", operation_id="scimListUsers", summary="List or filter users")
def list_users(
    request: Request,
    actor: ScimActor,
    session: SearchSession,
    params: Annotated[ListParams, Depends(list_params)],
) -> ScimResponse:
    return _list(session, actor, params, base_url(request))


@router.post("/.search", operation_id="scimSearchUsers", summary="Search users (POST)")
def search_users(
    request: Request, payload: Payload, actor: ScimActor, session: SearchSession
) -> ScimResponse:
    params = search_params(payload)
    return _list(session, actor, params, base_url(request))


@router.get("/{user_id}", operation_id="scimGetUser", summary="Get a user")
def get_user(
    user_id: str,
    request: Request,
    actor: ScimActor,
    session: ReadSession,
    response: Annotated[ResponseParameters[Any] | None, Depends(resource_params)],
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response:
    document = _one(session, actor, user_id, base_url(request))
    version = document["meta"]["version"]
    if if_none_match and if_none_match.strip() == version:
        return Response(status_code=304, headers={"ETag": version})
    return resource_response(document, ScimUser, response=response)


# The operations themselves, shared by the endpoints below and by /Bulk.


def new_user(payload: dict[str, Any]) -> NewUser:
    """A creation's body as the domain's command: read plainly when it is in the common
    shape (``plain_users``), else by scim2-models (``validated_new_user``). Neither reads the
    store, so the endpoint has this done before its write (on SQLite, not on the one writer
    every write of the process queues for)."""
    payload = mapping.normalize_user_payload(payload)
    return plain_users.new_user(payload) or validated_new_user(payload)


def validated_new_user(payload: dict[str, Any]) -> NewUser:
    """A normalised creation body through scim2-models' validation and the mapping."""
    with reading_request(REQUEST_POLICY):
        resource = ScimUser.model_validate(payload, scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    return NewUser(**mapping.user_fields(resource, None))


def create(session: Session, actor: Actor, base: str, payload: dict[str, Any]) -> Document:
    return create_checked(session, actor, base, new_user(payload))


def create_checked(session: Session, actor: Actor, base: str, command: NewUser) -> Document:
    user = users_service.create_user(session, actor, command)
    # A user SCIM creates is in no group yet (groups is read-only there).
    return mapping.user_document(user, [], base)


def replace(
    session: Session,
    actor: Actor,
    base: str,
    user_id: str,
    payload: dict[str, Any],
    if_match: str | None,
) -> Document:
    user = users_service.lock_user(
        session, actor, resource_id(user_id, "User"), mapping.parse_etag(if_match)
    )
    payload = mapping.normalize_user_payload(payload)
    fields = plain_users.user_fields(payload, user.status)
    if fields is None:
        with reading_request(REQUEST_POLICY):
            resource = ScimUser.model_validate(
                payload, scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
            )
        fields = mapping.user_fields(resource, user.status)
    groups = users_service.groups_of_users(session, actor, [user.id]).get(user.id, [])
    users_service.apply_patch(session, actor, user, UserPatch(**fields))
    return mapping.user_document(user, groups, base)


def modify(
    session: Session,
    actor: Actor,
    base: str,
    user_id: str,
    payload: dict[str, Any],
    if_match: str | None,
) -> Document:
    """PATCH: apply the operations to the user's SCIM view, then store what changed."""
    user = users_service.lock_user(
        session, actor, resource_id(user_id, "User"), mapping.parse_etag(if_match)
    )
    # A user's groups are read-only in SCIM: read once, shown before and after.
    groups = users_service.groups_of_users(session, actor, [user.id]).get(user.id, [])
    resource = mapping.user_to_scim(user, groups, base)
    with reading_request(PATCH_POLICY):
        patch = PatchOp[ScimUser].model_validate(
            mapping.normalize_user_patch(payload), scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
        patch.patch(resource)
    if resource.active is None:
        # A user always has a status, so /Schemas publishes active as required, and unassigning
        # a required attribute is a mutability error (RFC 7644 §3.5.2.2).
        raise MutabilityException(attribute="active", detail="active cannot be removed")
    users_service.apply_patch(
        session, actor, user, UserPatch(**mapping.user_fields(resource, user.status))
    )
    return mapping.user_document(user, groups, base)


def remove(session: Session, actor: Actor, user_id: str, if_match: str | None) -> None:
    """DELETE: removes the user, or deactivates it where the tenant says so."""
    user = users_service.lock_user(
        session, actor, resource_id(user_id, "User"), mapping.parse_etag(if_match)
    )
    if tenants_service.scim_delete_deactivates(session, actor.tenant_id):
        users_service.apply_patch(session, actor, user, UserPatch(status=UserStatus.inactive))
    else:
        users_service.delete_user(session, actor, user.id)


async def _new_user(payload: Payload) -> NewUser:
    """The body of a creation as its command (``new_user``), on the event loop: after the
    token's check (the endpoint's parameter before this one), before the write."""
    return new_user(payload)


@router.post("", operation_id="scimCreateUser", summary="Create a user", status_code=201)
def create_user(
    request: Request,
    actor: ScimActor,
    command: Annotated[NewUser, Depends(_new_user)],
    session: WriteSession,
) -> ScimResponse:
    document = create_checked(session, actor, base_url(request), command)
    return resource_response(
        document, ScimUser, status=201, context=Context.RESOURCE_CREATION_RESPONSE
    )


@router.put("/{user_id}", operation_id="scimReplaceUser", summary="Replace a user")
def replace_user(
    user_id: str,
    request: Request,
    payload: Payload,
    actor: ScimActor,
    session: WriteSession,
    if_match: IfMatch = None,
) -> ScimResponse:
    document = replace(session, actor, base_url(request), user_id, payload, if_match)
    return resource_response(document, ScimUser, context=Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch("/{user_id}", operation_id="scimPatchUser", summary="Modify a user")
def patch_user(
    user_id: str,
    request: Request,
    payload: Payload,
    actor: ScimActor,
    session: WriteSession,
    if_match: IfMatch = None,
) -> ScimResponse:
    document = modify(session, actor, base_url(request), user_id, payload, if_match)
    return resource_response(document, ScimUser, context=Context.RESOURCE_PATCH_RESPONSE)


@router.delete(
    "/{user_id}", operation_id="scimDeleteUser", summary="Delete a user", status_code=204
)
def delete_user(
    user_id: str, actor: ScimActor, session: WriteSession, if_match: IfMatch = None
) -> Response:
    remove(session, actor, user_id, if_match)
    return Response(status_code=204)


# The query parameters the fast paths take (any value FastAPI would take as it is given;
# integers only in their plain spelling), to the endpoint or dependency argument they are.
_ANY = re.compile(r"(?s).*")
_INTEGER = re.compile(r"-?\d{1,9}")
_SHAPE_FORMS = {
    "attributes": QueryForm("attributes", re.compile(r"(?s).{0,4000}")),
    "excludedAttributes": QueryForm("excluded_attributes", re.compile(r"(?s).{0,4000}")),
}
_LIST_FORMS = {
    **_SHAPE_FORMS,
    "filter": QueryForm("filter_", _ANY),
    "startIndex": QueryForm("start_index", _INTEGER, int),
    "count": QueryForm("count", _INTEGER, int),
    "sortBy": QueryForm("sort_by", re.compile(r"(?s).{0,300}")),
    "sortOrder": QueryForm("sort_order", re.compile(r"(?s).{0,20}")),
}


async def list_users_fast(request: Request, params: Mapping[str, Any]) -> Response | None:
    """``list_users`` on its fast path (rosterd.api.fast_paths): Okta and Entra ID ask
    ``userName eq`` before every create."""
    arguments = query_arguments(request.scope["query_string"], _LIST_FORMS)
    if arguments is None:
        return None
    actor = await fast_actor(request)
    if actor is None:
        return None
    listing = list_params(**arguments)
    lookup = scim_filter.key_lookup(listing.filter_tree) if listing.sort_by is None else None
    if lookup is not None:
        return await _found_by_key(request, actor, listing, lookup)
    # A lookup by an indexed key reads a few rows: run it as a point read (on the event
    # loop, on SQLite), not with the searches that may read many.
    found_by_index = scim_filter.finds_by_index(listing.filter_tree)
    return await in_unit_of_work(
        request.app.state.runtime,
        Kind.POINT_READ if found_by_index else Kind.SLOW_READ,
        lambda session: list_users(request=request, actor=actor, session=session, params=listing),
    )


async def _found_by_key(
    request: Request, actor: Actor, listing: ListParams, lookup: scim_filter.KeyLookup
) -> Response:
    """``list_users`` for a filter on a unique key (the IdPs' lookup before a create), as
    point reads of rows: no session, transaction or statement built per request, which cost
    several times the lookup (users_service.find_by_key)."""
    found, total = await request.app.state.runtime.work.read_point(
        lambda db: users_service.find_by_key(
            db, actor, lookup, offset=listing.offset, limit=listing.count
        )
    )
    base = base_url(request)
    documents = [mapping.user_document(row, groups, base) for row, groups in found]
    return list_response(documents, _UserList, listing, total)


async def get_user_fast(request: Request, params: Mapping[str, Any]) -> Response | None:
    """``get_user`` on its fast path (rosterd.api.fast_paths)."""
    arguments = query_arguments(request.scope["query_string"], _SHAPE_FORMS)
    if arguments is None:
        return None
    actor = await fast_actor(request)
    if actor is None:
        return None
    shape = resource_params(**arguments)
    return await in_unit_of_work(
        request.app.state.runtime,
        Kind.POINT_READ,
        lambda session: get_user(
            user_id=params["user_id"], request=request, actor=actor, session=session, response=shape
        ),
    )


# The operations of this module with a fast path, by their paths under a SCIM prefix.
FAST_PATHS = (
    FastPath("GET", "/Users", list_users_fast),
    FastPath("GET", "/Users/{user_id}", get_user_fast),
    FastPath(
        "POST",
        "/Users",
        endpoint_path(
            create_user,
            fast_actor,
            body=("payload", dict),
            checked=("command", new_user),
            status_code=201,
        ),
    ),
)
