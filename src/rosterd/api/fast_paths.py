"""The hottest operations' common case, answered before FastAPI's per-request machinery.

FastAPI spends about 60 µs of CPU on a request to a route with one path parameter before
the endpoint runs (matching the path against the routes in turn, solving dependencies,
validating parameters), and rosterd's routes declare several dependencies each: a GET by id
cost over half a millisecond, of which the lookup was 5 µs. A fast path is one operation's
common case (its credential present, its parameters well-formed) written with the very
pieces its FastAPI route uses: the surface's authentication and rate limits, the service,
the wire mapping. ``FastPaths`` answers it before FastAPI routes the request.

Whatever a fast path does not take on it hands back (its handler answers None before it has
done any work; the body it read is given to FastAPI again): a request without the expected
credential, a parameter or body that does not parse. FastAPI's route then serves it as
before; the route also stays the operation's definition in the OpenAPI document. An error
a fast path raises is answered by the app's own exception handlers
(``SurfaceErrors.response_for``), so it is the same response in the surface's format that
the FastAPI route would give.
"""

from __future__ import annotations

import inspect
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qsl

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rosterd.api.deps import bearer_token, in_unit_of_work, request_id
from rosterd.api.errors import SurfaceErrors
from rosterd.api.middleware import BodyCut
from rosterd.api.ratelimit.dependencies import charge
from rosterd.db.work import Kind
from rosterd.runtime import Runtime
from rosterd.services.context import Actor

# A fast path's handler: the request and its path parameters (UUIDs already parsed), to a
# response, or None to leave the request to FastAPI.
Handler = Callable[[Request, Mapping[str, Any]], Awaitable[Response | None]]

# Requests with these headers go to the routes: conditional requests and idempotent
# retries are the routes' business, and fast paths serve only the plain case.
_ROUTES_ONLY = frozenset(
    {
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"idempotency-key",
    }
)
_PARAMETER = re.compile(r"\{(\w+)(?::(\w+))?\}")
# The forms of each parameter type a fast path takes; any other spelling goes to FastAPI,
# whose validation decides (and words the error) as for any request.
UUID_FORM = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_FORMS = {
    "uuid": UUID_FORM,
    "str": r"[^/]+",
}
_CONVERT: dict[str, Callable[[str], Any]] = {"uuid": uuid.UUID, "str": str}


@dataclass(frozen=True)
class FastPath:
    """``handler`` for ``method`` on ``path`` (a route template such as
    ``/integration/v2/users/{userId:uuid}``)."""

    method: str
    path: str
    handler: Handler

    def pattern(self) -> re.Pattern[str]:
        regex, last = [], 0
        for match in _PARAMETER.finditer(self.path):
            regex.append(re.escape(self.path[last : match.start()]))
            regex.append(f"(?P<{match[1]}>{_FORMS[match[2] or 'str']})")
            last = match.end()
        regex.append(re.escape(self.path[last:]))
        return re.compile("".join(regex) + r"\Z")

    def converters(self) -> dict[str, Callable[[str], Any]]:
        return {m[1]: _CONVERT[m[2] or "str"] for m in _PARAMETER.finditer(self.path)}


@dataclass(frozen=True)
class QueryForm:
    """A query parameter a fast path takes: the endpoint argument it becomes, the spellings
    taken (matched whole), and how one becomes the argument."""

    argument: str
    pattern: re.Pattern[str]
    convert: Callable[[str], Any] = str


def query_arguments(query_string: bytes, forms: Mapping[str, QueryForm]) -> dict[str, Any] | None:
    """A query string as endpoint arguments when every parameter in it is one of ``forms``,
    given once, its value (decoded as Starlette decodes it for FastAPI) in a form it takes;
    else None, and the route's FastAPI parsing decides, and words any error, as for every
    request."""
    arguments: dict[str, Any] = {}
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        form = forms.get(key)
        if form is None or form.argument in arguments or not form.pattern.fullmatch(value):
            return None
        arguments[form.argument] = form.convert(value)
    return arguments


# Who a request acts for, as a surface's authentication dependency says (its rate limits
# charged), or None when the request lacks that surface's credential (the route answers it).
Authenticate = Callable[[Request], Awaitable[Actor | None]]
# The Actor of a bearer token of one surface's kind (its checks raising as the route's do).
BearerActor = Callable[[Runtime, str, str | None], Awaitable[Actor]]


def bearer_authenticate(actor_of: BearerActor) -> Authenticate:
    """The ``Authenticate`` of a surface whose credential is a bearer token: ``actor_of``'s
    Actor for it, the request counted against its rate limits (as the route's
    ``rate_limited`` dependency does); None when the request carries no bearer token, which
    the route itself answers."""

    async def authenticate(request: Request) -> Actor | None:
        token = bearer_token(request)
        if token is None:
            return None
        actor = await actor_of(request.app.state.runtime, token, request_id(request))
        await charge(request, actor)
        return actor

    return authenticate


# What FastAPI makes of a JSON body for a route's body parameter: a model, or a dict.
BodyType = type[BaseModel] | type[dict[str, Any]]


def _json(content_type: str | None) -> bool:
    """Whether FastAPI reads a body of this Content-Type as JSON (none given counts)."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _parsed(raw: bytes, body: BodyType) -> Any | None:
    """``raw`` as the route's body parameter, or None where FastAPI would refuse it."""
    if body is dict:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None
        return value if isinstance(value, dict) else None
    try:
        return cast(type[BaseModel], body).model_validate_json(raw)
    except ValidationError:
        return None


def _response(result: Any, status_code: int) -> Response:
    """An endpoint's result as FastAPI sends it (``response_model_exclude_none``)."""
    if isinstance(result, Response):
        return result
    assert isinstance(result, BaseModel), result
    content = result.model_dump(mode="json", by_alias=True, exclude_none=True)
    return Response(orjson.dumps(content), status_code=status_code, media_type="application/json")


def _sub_response() -> Response:
    """The Response FastAPI gives an endpoint that asks for one: headers only, no status."""
    sub = Response()
    del sub.headers["content-length"]
    sub.status_code = None  # type: ignore[assignment]
    return sub


def endpoint_path(
    endpoint: Callable[..., Any],
    authenticate: Authenticate,
    *,
    body: tuple[str, BodyType] | None = None,
    checked: tuple[str, Callable[[Any], Any]] | None = None,
    status_code: int = 200,
    kind: Kind = Kind.WRITE,
) -> Handler:
    """A fast path calling a route's ``endpoint`` with what FastAPI would give it: the path
    parameters; the body, validated as the route's ``body`` parameter (its name and type);
    the Actor ``authenticate`` gives as ``actor``; the request as ``request`` and a Response
    to set headers on as ``response`` if the endpoint takes them; and as ``session`` a
    Session for ``kind`` of work, run and committed where the runtime runs that kind. A
    request with a query string, or a body that is not JSON or does not validate, goes to
    the route, as does one ``authenticate`` declines. ``checked`` (argument, check): the
    endpoint takes ``check(body)`` as that argument instead of the body, computed on the
    event loop once the request is authenticated, as the route's dependency does."""
    assert checked is None or body is not None, "checked needs the body it checks"
    parameters = inspect.signature(endpoint).parameters
    takes_request, takes_response = "request" in parameters, "response" in parameters

    async def handle(request: Request, params: Mapping[str, Any]) -> Response | None:
        if request.scope["query_string"]:
            return None
        arguments = dict(params)
        if body is not None:
            if not _json(request.headers.get("content-type")):
                return None
            name, of_type = body
            arguments[name] = _parsed(await request.body(), of_type)
            if arguments[name] is None:
                return None
        actor = await authenticate(request)
        if actor is None:
            return None
        if takes_request:
            arguments["request"] = request
        if takes_response:
            arguments["response"] = sub = _sub_response()
        if checked is not None and body is not None:
            argument, check = checked
            arguments[argument] = check(arguments.pop(body[0]))
        runtime: Runtime = request.app.state.runtime
        result = await in_unit_of_work(
            runtime, kind, lambda session: endpoint(actor=actor, session=session, **arguments)
        )
        response = _response(result, status_code)
        if takes_response:
            # As FastAPI does with the Response an endpoint was given to set headers on.
            response.headers.raw.extend(sub.headers.raw)
            if sub.status_code:
                response.status_code = sub.status_code
        return response

    return handle


@dataclass(frozen=True)
class _Compiled:
    pattern: re.Pattern[str]
    converters: Mapping[str, Callable[[str], Any]]
    handler: Handler


class FastPaths:
    """Pure ASGI middleware: serves ``paths``' requests when their handlers take them."""

    def __init__(self, app: ASGIApp, *, paths: Sequence[FastPath], errors: SurfaceErrors) -> None:
        self.app = app
        self._errors = errors
        self._by_method: dict[str, list[_Compiled]] = {}
        for path in paths:
            self._by_method.setdefault(path.method, []).append(
                _Compiled(path.pattern(), path.converters(), path.handler)
            )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _ROUTES_ONLY.isdisjoint(
            [name for name, _ in scope["headers"]]
        ):
            for path in self._by_method.get(scope["method"], ()):
                match = path.pattern.match(scope["path"])
                if match is not None:
                    params = {k: path.converters[k](v) for k, v in match.groupdict().items()}
                    to_route = await self._serve(path.handler, params, scope, receive, send)
                    if to_route is None:
                        return
                    receive = to_route
                    break
        await self.app(scope, receive, send)

    async def _serve(
        self,
        handler: Handler,
        params: Mapping[str, Any],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> Receive | None:
        """Answer through ``handler``; None if it did, else what FastAPI is to receive the
        request from (the body the handler read, given again)."""
        read: list[Message] = []

        async def recording_receive() -> Message:
            message = await receive()
            read.append(message)
            return message

        request = Request(scope, recording_receive)
        try:
            response = await handler(request, params)
        except BodyCut:
            raise  # BodyLimitMiddleware answers it
        except Exception as exc:
            response = self._errors.response_for(request, exc)
        if response is None:
            return _replaying(read, receive) if read else receive
        await response(scope, receive, send)
        return None


def _replaying(read: list[Message], receive: Receive) -> Receive:
    """``receive`` that first gives again the messages a fast path read before it handed
    the request to FastAPI."""
    pending = list(read)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
