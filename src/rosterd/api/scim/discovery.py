"""Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from scim2_models import (
    Attribute,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Mutability,
    Patch,
    Required,
    ResourceType,
    Schema,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

from rosterd.api.routing import api_router
from rosterd.api.scim.auth import ScimActor
from rosterd.api.scim.errors import ScimResponse
from rosterd.api.scim.mapping import ScimUser
from rosterd.api.scim.params import MAX_RESULTS
from rosterd.api.scim.policy import base_url
from rosterd.services.errors import NotFound

MAX_BULK_OPERATIONS = 1000
MAX_BULK_PAYLOAD = 1_048_576

PROVIDER = ScimProvider(
    models=[User, EnterpriseUser, Group],
    resource_types=[ResourceType.from_resource(ScimUser), ResourceType.from_resource(Group)],
    config=ServiceProviderConfig(
        documentation_uri="https://github.com/rosterd/rosterd#scim",
        patch=Patch(supported=True),
        bulk=Bulk(
            supported=True, max_operations=MAX_BULK_OPERATIONS, max_payload_size=MAX_BULK_PAYLOAD
        ),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=True),
        etag=ETag(supported=True),
        authentication_schemes=[
            AuthenticationScheme(
                type="oauthbearertoken",
                name="SCIM bearer token",
                description="A per-tenant token from `rosterd scim-tokens create`.",
                primary=True,
            )
        ],
    ),
)

# What /Schemas publishes: the attributes rosterd stores, with the characteristics it gives
# them (RFC 7643 §8.7.1: "where permitted, individual values and schema MAY change"), not
# every attribute of the RFC's schemas. Clients build their view of rosterd from this
# (RFC 7644 §4), so an attribute listed here and then silently dropped would be a lie.
# Requests are still read with the full scim2-models types: attributes left out here are
# accepted and ignored (RFC 7644 §3.3: the server is free to ignore POSTed content).
# attribute -> the sub-attributes kept (None: a simple attribute, or all of them)
_STORED: dict[str, dict[str, tuple[str, ...] | None]] = {
    "urn:ietf:params:scim:schemas:core:2.0:User": {
        "userName": None,
        "name": ("formatted", "familyName", "givenName"),
        "displayName": None,
        "title": None,
        "locale": None,
        "active": None,
        "emails": ("value", "type", "primary"),
        "phoneNumbers": ("value", "type", "primary"),
        "groups": None,
    },
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "employeeNumber": None,
        "costCenter": None,
        "organization": None,
        "division": None,
        "department": None,
        "manager": ("value", "$ref"),
    },
    "urn:ietf:params:scim:schemas:core:2.0:Group": {
        "displayName": None,
        "members": ("value", "$ref", "type", "display"),
    },
}
_READ_ONLY = {"mutability": Mutability.read_only}
# A user always has a status, so active is required (a POST that leaves it out gets true).
# Values rosterd derives rather than stores are read-only: name.formatted joins the given
# and family names, the one email and phone number are the primary ones, of type "work", a
# member's display is its userName. Members are users only.
_CHANGED: dict[str, dict[str, dict[str, Any]]] = {
    "urn:ietf:params:scim:schemas:core:2.0:User": {
        "active": {"required": Required.true},
        "name.formatted": _READ_ONLY,
        "emails.type": {**_READ_ONLY, "canonical_values": ["work"]},
        "emails.primary": _READ_ONLY,
        "phoneNumbers.type": {**_READ_ONLY, "canonical_values": ["work"]},
        "phoneNumbers.primary": _READ_ONLY,
        "groups.type": {"canonical_values": ["direct"]},
    },
    "urn:ietf:params:scim:schemas:core:2.0:Group": {
        "members.$ref": {"reference_types": ["User"]},
        "members.type": {"canonical_values": ["User"]},
        "members.display": _READ_ONLY,
    },
}


def _published(schema: Schema) -> Schema:
    stored, changed = _STORED[str(schema.id)], _CHANGED.get(str(schema.id), {})

    def attribute(attr: Attribute, kept: tuple[str, ...] | None, prefix: str) -> Attribute:
        name = f"{prefix}{attr.name}"
        update = dict(changed.get(name, {}))
        if attr.sub_attributes:
            update["sub_attributes"] = [
                attribute(sub, None, f"{name}.")
                for sub in attr.sub_attributes
                if kept is None or sub.name in kept
            ]
        return attr.model_copy(update=update) if update else attr

    return schema.model_copy(
        update={
            "attributes": [
                attribute(attr, stored[str(attr.name)], "")
                for attr in schema.attributes or []
                if attr.name in stored
            ]
        }
    )


SCHEMAS = tuple(_published(schema) for schema in PROVIDER.schemas)

router = api_router(tags=["SCIM"])


def _dump(resource: Any, location: str) -> dict[str, Any]:
    body: dict[str, Any] = resource.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)
    body.setdefault("meta", {}).update(
        {"location": location, "resourceType": type(resource).__name__}
    )
    return body


def _listing(items: list[dict[str, Any]]) -> ScimResponse:
    return ScimResponse(
        {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
            "totalResults": len(items),
            "startIndex": 1,
            "itemsPerPage": len(items),
            "Resources": items,
        }
    )


@router.get("/ServiceProviderConfig", operation_id="scimServiceProviderConfig")
def service_provider_config(request: Request, _actor: ScimActor) -> ScimResponse:
    return ScimResponse(_dump(PROVIDER.config, f"{base_url(request)}/ServiceProviderConfig"))


@router.get("/ResourceTypes", operation_id="scimResourceTypes")
def resource_types(request: Request, _actor: ScimActor) -> ScimResponse:
    base = base_url(request)
    return _listing([_dump(rt, f"{base}/ResourceTypes/{rt.id}") for rt in PROVIDER.resource_types])


@router.get("/ResourceTypes/{name}", operation_id="scimResourceType")
def resource_type(name: str, request: Request, _actor: ScimActor) -> ScimResponse:
    for rt in PROVIDER.resource_types:
        if rt.id == name:
            return ScimResponse(_dump(rt, f"{base_url(request)}/ResourceTypes/{rt.id}"))
    raise NotFound(f"resource type {name!r} not found")


@router.get("/Schemas", operation_id="scimSchemas")
def schemas(request: Request, _actor: ScimActor) -> ScimResponse:
    base = base_url(request)
    return _listing([_dump(s, f"{base}/Schemas/{s.id}") for s in SCHEMAS])


@router.get("/Schemas/{schema_id}", operation_id="scimSchema")
def schema(schema_id: str, request: Request, _actor: ScimActor) -> ScimResponse:
    for s in SCHEMAS:
        if s.id == schema_id:
            return ScimResponse(_dump(s, f"{base_url(request)}/Schemas/{s.id}"))
    raise NotFound(f"schema {schema_id!r} not found")
