"""/scim/v2/Groups (RFC 7644 §3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Body, Depends, Header, Request, Response
from scim2_models import Context, Group, ListResponse, PatchOp, ResponseParameters
from sqlalchemy.orm import Session

from rosterd.api.deps import SessionDep
from rosterd.api.routing import api_router
from rosterd.api.scim import mapping
from rosterd.api.scim.auth import ScimActor
from rosterd.api.scim.errors import ScimResponse
from rosterd.api.scim.params import (
    ListParams,
    excluded,
    list_params,
    resource_params,
    resource_response,
    search_params,
)
from rosterd.api.scim.policy import PATCH_POLICY, REQUEST_POLICY, base_url, resource_id
from rosterd.models import Group as GroupRow
from rosterd.services import groups as groups_service
from rosterd.services.context import Actor

router = api_router(prefix="/Groups", tags=["SCIM"])

Payload = Annotated[dict[str, Any], Body()]
# Parametrised once and held: pydantic keeps parametrised generics only weakly, so a
# subscription per request rebuilt the class every few dozen requests, several ms each.
_GroupList = ListResponse[Group]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _render(
    session: Session, actor: Actor, groups: list[GroupRow], base: str, *, with_members: bool
) -> list[Group]:
    members = (
        groups_service.members_of_groups(session, actor, [g.id for g in groups])
        if with_members
        else {}
    )
    return [
        mapping.group_to_scim(g, members.get(g.id) if with_members else None, base) for g in groups
    ]


def _one(
    session: Session, actor: Actor, group_id: str, base: str, *, with_members: bool = True
) -> Group:
    group = groups_service.get_group(session, actor, resource_id(group_id, "Group"))
    return _render(session, actor, [group], base, with_members=with_members)[0]


def _list(session: SessionDep, actor: Actor, params: ListParams, base: str) -> ScimResponse:
    groups, total = groups_service.search_by_filter(
        session,
        actor,
        params.filter_tree,
        sort_by=params.sort_by,
        descending=params.descending,
        offset=params.offset,
        limit=params.count,
    )
    # Entra ID lists groups with excludedAttributes=members; large groups are not loaded then.
    resources = _render(
        session, actor, groups, base, with_members=not excluded(params.response, "members")
    )
    page: ListResponse[Any] = _GroupList(
        total_results=total,
        start_index=params.start_index,
        items_per_page=len(resources),
        resources=resources,
    )
    return ScimResponse(
        page.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=params.response)
    )


@router.get("", operation_id="scimListGroups", summary="List or filter groups")
def list_groups(
    request: Request,
    actor: ScimActor,
    session: SessionDep,
    params: Annotated[ListParams, Depends(list_params)],
) -> ScimResponse:
    return _list(session, actor, params, base_url(request))


@router.post("/.search", operation_id="scimSearchGroups", summary="Search groups (POST)")
def search_groups(
    request: Request, payload: Payload, actor: ScimActor, session: SessionDep
) -> ScimResponse:
    params = search_params(payload)
    return _list(session, actor, params, base_url(request))


@router.get("/{group_id}", operation_id="scimGetGroup", summary="Get a group")
def get_group(
    group_id: str,
    request: Request,
    actor: ScimActor,
    session: SessionDep,
    response: Annotated[ResponseParameters[Any] | None, Depends(resource_params)],
) -> ScimResponse:
    resource = _one(
        session, actor, group_id, base_url(request), with_members=not excluded(response, "members")
    )
    return resource_response(resource, response=response)


# The operations themselves, shared by the endpoints below and by /Bulk.


def create(session: Session, actor: Actor, base: str, payload: dict[str, Any]) -> Group:
    with REQUEST_POLICY:
        resource = Group.model_validate(
            mapping.normalize_group_payload(payload), scim_ctx=Context.RESOURCE_CREATION_REQUEST
        )
    fields, member_ids = mapping.group_fields(resource)
    group = groups_service.create_group(
        session, actor, name=fields["name"], external_id=fields["external_id"]
    )
    if member_ids:
        groups_service.set_members(session, actor, group.id, member_ids)
    return _one(session, actor, str(group.id), base)


def replace(
    session: Session,
    actor: Actor,
    base: str,
    group_id: str,
    payload: dict[str, Any],
    if_match: str | None,
) -> Group:
    group = groups_service.get_group(session, actor, resource_id(group_id, "Group"))
    groups_service.check_version(group, mapping.parse_etag(if_match))
    with REQUEST_POLICY:
        resource = Group.model_validate(
            mapping.normalize_group_payload(payload), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
        )
    fields, member_ids = mapping.group_fields(resource)
    groups_service.update_group(session, actor, group.id, fields)
    groups_service.set_members(session, actor, group.id, member_ids)
    return _one(session, actor, group_id, base)


def modify(
    session: Session,
    actor: Actor,
    base: str,
    group_id: str,
    payload: dict[str, Any],
    if_match: str | None,
) -> Group:
    """PATCH: apply the operations to the group's SCIM view, then store what changed."""
    group = groups_service.get_group(session, actor, resource_id(group_id, "Group"))
    groups_service.check_version(group, mapping.parse_etag(if_match))
    resource = _render(session, actor, [group], base, with_members=True)[0]
    before = {m.value for m in resource.members or [] if m.value}
    with PATCH_POLICY:
        patch = PatchOp[Group].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        patch.patch(resource)
    fields, member_ids = mapping.group_fields(resource)
    groups_service.update_group(session, actor, group.id, fields)
    after = {str(m) for m in member_ids}
    groups_service.change_members(
        session,
        actor,
        group.id,
        add=[m for m in member_ids if str(m) not in before],
        remove=[resource_id(m, "User") for m in before - after],
    )
    return _one(session, actor, group_id, base)


def remove(session: Session, actor: Actor, group_id: str, if_match: str | None) -> None:
    group = groups_service.get_group(session, actor, resource_id(group_id, "Group"))
    groups_service.check_version(group, mapping.parse_etag(if_match))
    groups_service.delete_group(session, actor, group.id)


@router.post("", operation_id="scimCreateGroup", summary="Create a group", status_code=201)
def create_group(
    request: Request, payload: Payload, actor: ScimActor, session: SessionDep
) -> ScimResponse:
    resource = create(session, actor, base_url(request), payload)
    return resource_response(resource, status=201, context=Context.RESOURCE_CREATION_RESPONSE)


@router.put("/{group_id}", operation_id="scimReplaceGroup", summary="Replace a group")
def replace_group(
    group_id: str,
    request: Request,
    payload: Payload,
    actor: ScimActor,
    session: SessionDep,
    if_match: IfMatch = None,
) -> ScimResponse:
    resource = replace(session, actor, base_url(request), group_id, payload, if_match)
    return resource_response(resource, context=Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch("/{group_id}", operation_id="scimPatchGroup", summary="Modify a group")
def patch_group(
    group_id: str,
    request: Request,
    payload: Payload,
    actor: ScimActor,
    session: SessionDep,
    if_match: IfMatch = None,
) -> ScimResponse:
    resource = modify(session, actor, base_url(request), group_id, payload, if_match)
    return resource_response(resource, context=Context.RESOURCE_PATCH_RESPONSE)


@router.delete(
    "/{group_id}", operation_id="scimDeleteGroup", summary="Delete a group", status_code=204
)
def delete_group(
    group_id: str, actor: ScimActor, session: SessionDep, if_match: IfMatch = None
) -> Response:
    remove(session, actor, group_id, if_match)
    return Response(status_code=204)
