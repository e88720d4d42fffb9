"""/scim/v2/Groups (RFC 7644 §3)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Body, Depends, Header, Request, Response
from scim2_models import (
    Context,
    Group,
    GroupMember,
    ListResponse,
    PatchOp,
    PatchOperation,
    ResponseParameters,
)
from scim2_models.path import CompareOperator, Comparison, FilterNode, LogicalExpr, LogicalOperator
from sqlalchemy.orm import Session

from rosterd.api.deps import SearchSession, WriteSession
from rosterd.api.routing import api_router
from rosterd.api.scim import mapping
from rosterd.api.scim.auth import ScimActor
from rosterd.api.scim.errors import ScimResponse, reading_request
from rosterd.api.scim.mapping import Document
from rosterd.api.scim.params import (
    ListParams,
    excluded,
    list_params,
    list_response,
    resource_params,
    resource_response,
    search_params,
)
from rosterd.api.scim.policy import PATCH_POLICY, REQUEST_POLICY, base_url, resource_id
from rosterd.domain.commands import GroupPatch, NewGroup
from rosterd.models import Group as GroupRow
from rosterd.services import groups as groups_service
from rosterd.services.context import Actor
from rosterd.services.errors import Invalid

router = api_router(prefix="/Groups", tags=["SCIM"])

Payload = Annotated[dict[str, Any], Body()]
# Parametrised once and held: pydantic keeps parametrised generics only weakly, so a
# subscription per request rebuilt the class every few dozen requests, several ms each.
_GroupList = ListResponse[Group]
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def _render(
    session: Session, actor: Actor, groups: list[GroupRow], base: str, *, with_members: bool
) -> list[Document]:
    members = (
        groups_service.members_of_groups(session, actor, [g.id for g in groups])
        if with_members
        else {}
    )
    return [
        mapping.group_document(g, members.get(g.id) if with_members else None, base) for g in groups
    ]


def _list(session: Session, actor: Actor, params: ListParams, base: str) -> ScimResponse:
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
    return list_response(resources, _GroupList, params, total)


@router.get("", operation_id="scimListGroups", summary="List or filter groups")
def list_groups(
    request: Request,
    actor: ScimActor,
    session: SearchSession,
    params: Annotated[ListParams, Depends(list_params)],
) -> ScimResponse:
    return _list(session, actor, params, base_url(request))


@router.post("/.search", operation_id="scimSearchGroups", summary="Search groups (POST)")
def search_groups(
    request: Request, payload: Payload, actor: ScimActor, session: SearchSession
) -> ScimResponse:
    params = search_params(payload)
    return _list(session, actor, params, base_url(request))


@router.get("/{group_id}", operation_id="scimGetGroup", summary="Get a group")
def get_group(
    group_id: str,
    request: Request,
    actor: ScimActor,
    session: SearchSession,
    response: Annotated[ResponseParameters[Any] | None, Depends(resource_params)],
) -> ScimResponse:
    group = groups_service.get_group(session, actor, resource_id(group_id, "Group"))
    resource = _render(
        session, actor, [group], base_url(request), with_members=not excluded(response, "members")
    )[0]
    return resource_response(resource, Group, response=response)


# PATCH operations on members, read without loading the group's members.

_MEMBERS = {"members", f"{Group.__schema__}:members".lower()}


@dataclass
class _MemberChanges:
    """The net effect of a PATCH's member operations, folded in their order: either a
    replacement of the whole set, or ids to add and ids to remove."""

    replacement: set[uuid.UUID] | None = None
    added: set[uuid.UUID] = field(default_factory=set)
    removed: set[uuid.UUID] = field(default_factory=set)

    def add(self, ids: set[uuid.UUID]) -> None:
        if self.replacement is not None:
            self.replacement |= ids
        else:
            self.added |= ids
            self.removed -= ids

    def remove(self, ids: set[uuid.UUID]) -> None:
        if self.replacement is not None:
            self.replacement -= ids
        else:
            self.removed |= ids
            self.added -= ids

    def replace(self, ids: set[uuid.UUID]) -> None:
        self.replacement, self.added, self.removed = ids, set(), set()


@dataclass
class _Plan:
    others: list[PatchOperation[Group]]
    members: _MemberChanges


def _member_ids(value: Any, *, strict: bool) -> set[uuid.UUID]:
    """The ids of a members value (a list of members, or one). An id that is not one of
    ours is a 400 where members are added, and matches no member where they are removed."""
    items = value if isinstance(value, list) else [] if value is None else [value]
    ids: set[uuid.UUID] = set()
    for item in items:
        if not isinstance(item, dict):
            raise Invalid(f"member {item!r} is not an object", code="invalidValue")
        with reading_request(PATCH_POLICY):
            member = GroupMember.model_validate(item, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        if member.value is None:
            continue
        try:
            ids.add(uuid.UUID(member.value))
        except ValueError as exc:
            if strict:
                raise Invalid(
                    f"member {member.value!r} is not a rosterd id", code="invalidValue"
                ) from exc
    return ids


def _filtered_ids(node: FilterNode) -> set[uuid.UUID] | None:
    """The ids a ``value eq "x" [or value eq "y" ...]`` filter names; None for any other
    filter. An id that is not one of ours matches no member."""
    if isinstance(node, LogicalExpr) and node.op == LogicalOperator.or_:
        ids: set[uuid.UUID] = set()
        for term in node.terms:
            found = _filtered_ids(term)
            if found is None:
                return None
            ids |= found
        return ids
    if (
        isinstance(node, Comparison)
        and node.op == CompareOperator.eq
        and node.attr_path.attr.lower() == "value"
        and node.attr_path.sub_attr is None
        and isinstance(node.value, str)
    ):
        try:
            return {uuid.UUID(node.value)}
        except ValueError:
            return set()
    return None


def _plan(operations: list[PatchOperation[Group]]) -> _Plan | None:
    """Split the operations into the ones on members, folded into a ``_MemberChanges``, and
    the others. None when a member operation is not one of the forms IdPs send (add,
    replace or remove of ``members``, the last by value list or ``value eq`` filter)."""
    plan = _Plan([], _MemberChanges())
    for op in operations:
        if op.path is None:
            value = op.value if isinstance(op.value, dict) else {}
            keys = [k for k in value if k.lower() in _MEMBERS]
            for key in keys:
                ids = _member_ids(value[key], strict=True)
                if op.op == PatchOperation.Op.add:
                    plan.members.add(ids)
                else:
                    plan.members.replace(ids)
            rest = {k: v for k, v in value.items() if k not in keys}
            if rest or not keys:
                plan.others.append(op.model_copy(update={"value": rest}) if keys else op)
        elif op.path.parts[0].lower() != "members":
            plan.others.append(op)
        elif len(op.path.parts) > 1:
            return None
        elif op.path.value_filter is not None:
            ids_or_none = _filtered_ids(op.path.value_filter)
            if op.op != PatchOperation.Op.remove or ids_or_none is None:
                return None
            plan.members.remove(ids_or_none)
        elif op.op == PatchOperation.Op.add:
            plan.members.add(_member_ids(op.value, strict=True))
        elif op.op == PatchOperation.Op.replace_:
            plan.members.replace(_member_ids(op.value, strict=True))
        elif op.value is None:
            plan.members.replace(set())
        else:
            plan.members.remove(_member_ids(op.value, strict=False))
    return plan


# The operations themselves, shared by the endpoints below and by /Bulk.


def create(session: Session, actor: Actor, base: str, payload: dict[str, Any]) -> Document:
    with reading_request(REQUEST_POLICY):
        resource = Group.model_validate(
            mapping.normalize_group_payload(payload), scim_ctx=Context.RESOURCE_CREATION_REQUEST
        )
    fields, member_ids = mapping.group_fields(resource)
    group = groups_service.create_group(session, actor, NewGroup(**fields))
    if member_ids:
        groups_service.change_members(session, actor, group, add=member_ids)
    return _render(session, actor, [group], base, with_members=True)[0]


def replace(
    session: Session,
    actor: Actor,
    base: str,
    group_id: str,
    payload: dict[str, Any],
    if_match: str | None,
) -> Document:
    group = groups_service.lock_group(
        session, actor, resource_id(group_id, "Group"), version=mapping.parse_etag(if_match)
    )
    with reading_request(REQUEST_POLICY):
        resource = Group.model_validate(
            mapping.normalize_group_payload(payload), scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST
        )
    fields, member_ids = mapping.group_fields(resource)
    groups_service.update_group(session, actor, group, GroupPatch(**fields))
    groups_service.set_members(session, actor, group, member_ids)
    return _render(session, actor, [group], base, with_members=True)[0]


def modify(
    session: Session,
    actor: Actor,
    base: str,
    group_id: str,
    payload: dict[str, Any],
    if_match: str | None,
    *,
    with_members: bool = False,
) -> Document:
    """PATCH. Member operations become set-based changes of the memberships, so adding one
    member costs the same in a group of ten and in one of fifty thousand; the others are
    applied to the group's SCIM view without its members. The group is returned with its
    members only if ``with_members`` (the PATCH endpoint answers 204 unless asked for the
    resource, and /Bulk only reports its location and version)."""
    group = groups_service.lock_group(
        session, actor, resource_id(group_id, "Group"), version=mapping.parse_etag(if_match)
    )
    with reading_request(PATCH_POLICY):
        patch = PatchOp[Group].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
    plan = _plan(patch.operations or [])
    if plan is not None and plan.others:
        resource = mapping.group_to_scim(group, None, base)
        with reading_request(PATCH_POLICY):
            patch.model_copy(update={"operations": plan.others}).patch(resource)
        if resource.members:
            plan = None  # members reached through a form _plan does not read
    if plan is None:
        _modify_through_view(session, actor, base, group, patch)
    else:
        if plan.others:
            fields, _ = mapping.group_fields(resource)
            groups_service.update_group(session, actor, group, GroupPatch(**fields))
        members = plan.members
        if members.replacement is not None:
            groups_service.set_members(session, actor, group, members.replacement)
        elif members.added or members.removed:
            groups_service.change_members(
                session, actor, group, add=members.added, remove=members.removed
            )
    return _render(session, actor, [group], base, with_members=with_members)[0]


def _modify_through_view(
    session: Session, actor: Actor, base: str, group: GroupRow, patch: PatchOp[Group]
) -> None:
    """A PATCH whose member operations ``_plan`` does not read (a filter on
    another sub-attribute than ``value``, such as ``members[display eq "x"]``): applied to
    the group's full SCIM view, members included, then stored as the difference."""
    resource = Group.model_validate(_render(session, actor, [group], base, with_members=True)[0])
    before = {m.value for m in resource.members or [] if m.value}
    with reading_request(PATCH_POLICY):
        patch.patch(resource)
    fields, member_ids = mapping.group_fields(resource)
    groups_service.update_group(session, actor, group, GroupPatch(**fields))
    after = {str(m) for m in member_ids}
    groups_service.change_members(
        session,
        actor,
        group,
        add=[m for m in member_ids if str(m) not in before],
        remove=[resource_id(m, "User") for m in before - after],
    )


def remove(session: Session, actor: Actor, group_id: str, if_match: str | None) -> None:
    group = groups_service.lock_group(
        session, actor, resource_id(group_id, "Group"), version=mapping.parse_etag(if_match)
    )
    groups_service.delete_group(session, actor, group)


@router.post("", operation_id="scimCreateGroup", summary="Create a group", status_code=201)
def create_group(
    request: Request, payload: Payload, actor: ScimActor, session: WriteSession
) -> ScimResponse:
    resource = create(session, actor, base_url(request), payload)
    return resource_response(
        resource, Group, status=201, context=Context.RESOURCE_CREATION_RESPONSE
    )


@router.put("/{group_id}", operation_id="scimReplaceGroup", summary="Replace a group")
def replace_group(
    group_id: str,
    request: Request,
    payload: Payload,
    actor: ScimActor,
    session: WriteSession,
    if_match: IfMatch = None,
) -> ScimResponse:
    resource = replace(session, actor, base_url(request), group_id, payload, if_match)
    return resource_response(resource, Group, context=Context.RESOURCE_REPLACEMENT_RESPONSE)


@router.patch(
    "/{group_id}",
    operation_id="scimPatchGroup",
    summary="Modify a group",
    description="Answers 204 No Content with the new ETag (RFC 7644 §3.5.2), or 200 with the "
    "group when `attributes` or `excludedAttributes` ask for it.",
    status_code=204,
    response_class=Response,
)
def patch_group(
    group_id: str,
    request: Request,
    payload: Payload,
    actor: ScimActor,
    session: WriteSession,
    response: Annotated[ResponseParameters[Any] | None, Depends(resource_params)],
    if_match: IfMatch = None,
) -> Response:
    if response is None:
        resource = modify(session, actor, base_url(request), group_id, payload, if_match)
        return Response(status_code=204, headers={"ETag": resource["meta"]["version"]})
    resource = modify(
        session,
        actor,
        base_url(request),
        group_id,
        payload,
        if_match,
        with_members=not excluded(response, "members"),
    )
    return resource_response(
        resource, Group, response=response, context=Context.RESOURCE_PATCH_RESPONSE
    )


@router.delete(
    "/{group_id}", operation_id="scimDeleteGroup", summary="Delete a group", status_code=204
)
def delete_group(
    group_id: str, actor: ScimActor, session: WriteSession, if_match: IfMatch = None
) -> Response:
    remove(session, actor, group_id, if_match)
    return Response(status_code=204)
