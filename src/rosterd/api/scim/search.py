"""POST /.search at the SCIM root (RFC 7644 §3.4.3): a search over every resource type.

rosterd searches one resource type at a time (/Users/.search, /Groups/.search). A search
from the root is a request operation it does not support, which RFC 7644 §3.12 answers
with 501 Not Implemented rather than a 404 for a path that does not exist.
"""

from __future__ import annotations

from scim2_models import NotImplementedException

from rosterd.api.routing import api_router
from rosterd.api.scim.auth import ScimActor

router = api_router(tags=["SCIM"])


@router.post("/.search", operation_id="scimSearchRoot", summary="Search from the root (501)")
def search_root(_actor: ScimActor) -> None:
    raise NotImplementedException(
        detail="searching several resource types at once is not supported: "
        "POST /Users/.search or /Groups/.search"
    )
