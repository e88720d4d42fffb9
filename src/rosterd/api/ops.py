"""Operations endpoints: liveness and readiness. Public."""

from __future__ import annotations

from fastapi.responses import JSONResponse
from sqlalchemy import text

from rosterd.api.deps import ReadSession
from rosterd.api.routing import api_router

router = api_router(tags=["Operations"])


@router.get("/healthz", operation_id="healthz", summary="Liveness")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", operation_id="readyz", summary="Readiness: the database answers")
def readyz(session: ReadSession) -> JSONResponse:
    session.execute(text("SELECT 1"))
    return JSONResponse({"status": "ready"})
