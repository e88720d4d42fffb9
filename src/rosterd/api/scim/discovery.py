"""Discovery endpoints (RFC 7644 §4): ServiceProviderConfig, ResourceTypes, Schemas."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Filter,
    Group,
    Patch,
    ResourceType,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    User,
)

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

router = APIRouter(tags=["SCIM"])


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
    return _listing([_dump(s, f"{base}/Schemas/{s.id}") for s in PROVIDER.schemas])


@router.get("/Schemas/{schema_id}", operation_id="scimSchema")
def schema(schema_id: str, request: Request, _actor: ScimActor) -> ScimResponse:
    for s in PROVIDER.schemas:
        if s.id == schema_id:
            return ScimResponse(_dump(s, f"{base_url(request)}/Schemas/{s.id}"))
    raise NotFound(f"schema {schema_id!r} not found")
