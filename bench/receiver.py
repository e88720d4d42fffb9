"""A webhook receiver for the delivery benchmark: counts what it is sent.

POST anything: 204, counted by its webhook-id (so a second delivery of one message shows);
GET /count: how many messages, and how many distinct.
"""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

seen: dict[str, int] = {}


async def receive(request: Request) -> Response:
    await request.body()
    key = request.headers.get("webhook-id", "")
    seen[key] = seen.get(key, 0) + 1
    return Response(status_code=204)


async def count(request: Request) -> JSONResponse:
    return JSONResponse({"received": sum(seen.values()), "distinct": len(seen)})


app = Starlette(routes=[Route("/count", count), Route("/{path:path}", receive, methods=["POST"])])
