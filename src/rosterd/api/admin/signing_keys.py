"""/admin/api/signing-keys: the tenant's token signing keys, listed and rotated over HTTP
with an OAuth `admin` token. Never key material: the public halves are in the JWKS."""

from __future__ import annotations

from fastapi import status
from pydantic import BaseModel

from rosterd.api.admin.shared import PREFIX, Admin, tenant_of
from rosterd.api.deps import ReadSession, RuntimeDep
from rosterd.api.routing import api_router
from rosterd.api.v2.paging import errors
from rosterd.api.v2.schemas import iso_timestamp
from rosterd.models.base import utcnow
from rosterd.services import signing_keys

router = api_router(prefix=f"{PREFIX}/signing-keys", tags=["Admin"])


class SigningKeyOut(BaseModel):
    kid: str
    status: str  # signing | verifying | expired
    createdAt: str  # noqa: N815
    retiredAt: str | None = None  # noqa: N815
    verifyUntil: str | None = None  # noqa: N815
    legacy: bool = False

    @classmethod
    def of(cls, key: signing_keys.KeyInfo) -> SigningKeyOut:
        return cls(
            kid=key.kid,
            status=key.status(utcnow()),
            createdAt=iso_timestamp(key.created_at) or "",
            retiredAt=iso_timestamp(key.retired_at),
            verifyUntil=iso_timestamp(key.verify_until),
            legacy=key.legacy,
        )


class SigningKeyList(BaseModel):
    items: list[SigningKeyOut]


@router.get(
    "",
    operation_id="listSigningKeys",
    summary="List the tenant's token signing keys (never key material)",
    description="Newest first: the key that signs, retired keys with the time they stop "
    "verifying, and keys from before keys were per tenant (`legacy`).",
    response_model=SigningKeyList,
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
def list_keys(actor: Admin, session: ReadSession, runtime: RuntimeDep) -> SigningKeyList:
    tenant = tenant_of(session, actor)
    keys = signing_keys.list_keys(session, tenant, runtime.keys.grace)
    return SigningKeyList(items=[SigningKeyOut.of(k) for k in keys])


@router.post(
    "/rotate",
    operation_id="rotateSigningKey",
    summary="Rotate the tenant's signing key",
    description="A new key signs from now on. The previous one stops signing but stays in "
    "the JWKS and keeps verifying until the tokens it signed have expired.",
    status_code=status.HTTP_201_CREATED,
    response_model=SigningKeyOut,
    response_model_exclude_none=True,
    responses=errors(401, 403),
)
def rotate(actor: Admin, runtime: RuntimeDep) -> SigningKeyOut:
    # Its own unit of work (see Runtime.rotate_signing_key): the key is made before the
    # write transaction opens, and this node's key ring reloads after it commits.
    return SigningKeyOut.of(runtime.rotate_signing_key(actor.tenant_id, actor).key)
