"""The stack's ceiling: a bare Starlette endpoint returning constant JSON.

Served by uvicorn with the same settings as rosterd, it is what a request costs before any
of rosterd's own work (auth, database, serialisation).
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BODY = {
    "id": "0b9a5d0e-6f0b-4a55-9f1e-2c1f2e0f8a11",
    "email": "jane.doe@example.com",
    "firstName": "Jane",
    "lastName": "Doe",
    "status": "active",
    "createdAt": "2026-01-01T00:00:00.000Z",
    "modifiedAt": "2026-01-01T00:00:00.000Z",
}


async def constant(request: Request) -> JSONResponse:
    return JSONResponse(BODY)


app = Starlette(routes=[Route("/{path:path}", constant)])
