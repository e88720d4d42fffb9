"""Our served /openapi.json describes every operation of the seed spec, compatibly.

The seed
(`spec/seismic-user-management-openapi.yml`, a copy of the seed) is the contract of REST v2. For
each of its operations our document must have the same method and path (under the seed's
server path, /integration/v2), the same operationId, every seed parameter in the same
location with a compatible type, every documented status, request bodies that accept every
seed field, and 2xx JSON bodies that carry every property the seed names, with compatible
types. Ours may add parameters, statuses (400) and properties: extensions are allowed.

Pydantic writes optional fields as ``anyOf: [X, {type: null}]`` and enums as ``$ref``s; both are
resolved before comparing. A seed ``string`` id may be a ``string`` with ``format: uuid`` here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from fastapi.testclient import TestClient

SEED_SPEC = Path(__file__).resolve().parents[2] / "spec" / "seismic-user-management-openapi.yml"
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")
SEED: dict[str, Any] = yaml.safe_load(SEED_SPEC.read_text(encoding="utf-8"))
PREFIX = urlsplit(SEED["servers"][0]["url"]).path.rstrip("/")

SEED_OPERATIONS = [
    (method, path, op)
    for path, item in SEED["paths"].items()
    for method, op in item.items()
    if method in HTTP_METHODS
]


# ---- resolving -------------------------------------------------------------------------------


def resolve(doc: dict[str, Any], node: Any) -> Any:
    """Follow local ``$ref``s (``#/components/...``) until a non-reference node."""
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"non-local $ref {ref}"
        assert ref not in seen, f"$ref cycle at {ref}"
        seen.add(ref)
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def variants(doc: dict[str, Any], schema: Any) -> list[dict[str, Any]]:
    """The non-null alternatives of a schema, resolved: ``anyOf: [X, null]`` gives ``[X]``."""
    schema = resolve(doc, schema)
    if not isinstance(schema, dict):
        return []
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return [v for alt in schema[key] for v in variants(doc, alt)]
    if "allOf" in schema and len(schema["allOf"]) == 1:
        return variants(doc, schema["allOf"][0])
    if schema.get("type") == "null":
        return []
    return [schema]


_JSON_TYPES = {str: "string", bool: "boolean", int: "integer", float: "number"}


def enum_of(schema: dict[str, Any]) -> list[Any]:
    """The values a schema is limited to (``enum``, or pydantic's ``const``); [] if open."""
    if "const" in schema:
        return [schema["const"]]
    return list(schema.get("enum", []))


def types_of(schema: dict[str, Any]) -> set[str]:
    t = schema.get("type")
    if t is None:
        if enum_of(schema):
            return {_JSON_TYPES.get(type(v), "null") for v in enum_of(schema)} - {"null"}
        return {"object"} if "properties" in schema else set()
    return {t} if isinstance(t, str) else set(t) - {"null"}


def compatible_type(seed_type: str, ours: set[str]) -> bool:
    # An integer is a number; a seed number may be served as an integer, not the other way.
    return seed_type in ours or (seed_type == "number" and "integer" in ours)


def check_schema(
    seed_doc: dict[str, Any],
    seed_schema: Any,
    our_doc: dict[str, Any],
    our_schema: Any,
    where: str,
    *,
    direction: str,
) -> list[str]:
    """Problems of our schema against the seed's, recursively.

    ``direction`` is "response" (what we send must fit the seed: our enums no wider) or
    "request" (what a seed client sends must fit ours: our enums no narrower).
    """
    seed = resolve(seed_doc, seed_schema)
    if not isinstance(seed, dict):
        return []
    ours = variants(our_doc, our_schema)
    if not ours:
        return [f"{where}: missing or null-only in ours"]
    problems: list[str] = []
    seed_type = seed.get("type")
    our_types = set().union(*(types_of(v) for v in ours))
    if isinstance(seed_type, str) and not compatible_type(seed_type, our_types):
        problems.append(f"{where}: seed type {seed_type}, ours {sorted(our_types) or 'untyped'}")
        return problems
    if "enum" in seed:
        seed_enum = set(seed["enum"])
        our_enum = {e for v in ours for e in enum_of(v)}
        open_ended = any(not enum_of(v) for v in ours)
        if direction == "request" and not open_ended and not seed_enum <= our_enum:
            problems.append(f"{where}: ours refuses seed values {seed_enum - our_enum}")
        if direction == "response" and open_ended:
            problems.append(f"{where}: seed is an enum {sorted(seed_enum)}, ours is not")
        elif direction == "response" and not our_enum <= seed_enum:
            problems.append(f"{where}: ours may send {our_enum - seed_enum}")
    if "properties" in seed:
        objects = [v for v in ours if "properties" in v]
        if not objects:
            return [*problems, f"{where}: seed is an object with properties, ours has none"]
        for name, prop in seed["properties"].items():
            holders = [v for v in objects if name in v["properties"]]
            if not holders:
                problems.append(f"{where}.{name}: missing in ours")
                continue
            problems += check_schema(
                seed_doc,
                prop,
                our_doc,
                holders[0]["properties"][name],
                f"{where}.{name}",
                direction=direction,
            )
    if "items" in seed:
        arrays = [v for v in ours if "items" in v]
        if not arrays:
            return [*problems, f"{where}: seed is an array with items, ours has no items"]
        problems += check_schema(
            seed_doc, seed["items"], our_doc, arrays[0]["items"], f"{where}[]", direction=direction
        )
    return problems


# ---- fixtures --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ours(http: TestClient) -> dict[str, Any]:
    r = http.get("/openapi.json")
    assert r.status_code == 200, r.text
    doc = r.json()
    assert str(doc.get("openapi", "")).startswith("3."), doc.get("openapi")
    return dict(doc)


def our_operation(ours: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    item = ours["paths"].get(PREFIX + path)
    assert item is not None, f"{PREFIX}{path} is not in /openapi.json"
    op = item.get(method)
    assert op is not None, f"{method.upper()} {PREFIX}{path} is not in /openapi.json"
    return dict(op)


def parameters(doc: dict[str, Any], path_item: dict[str, Any], op: dict[str, Any]) -> dict:
    """(name, location) -> resolved parameter, path-level ones overridden by the operation's."""
    found = {}
    for param in [*path_item.get("parameters", []), *op.get("parameters", [])]:
        param = resolve(doc, param)
        found[(param["name"], param["in"])] = param
    return found


def json_schema_of(doc: dict[str, Any], holder: dict[str, Any]) -> Any:
    content = resolve(doc, holder).get("content", {})
    media = content.get("application/json")
    return None if media is None else media.get("schema")


# ---- the tests -------------------------------------------------------------------------------


def test_seed_is_what_we_think() -> None:
    # The parametrisation below comes from the seed; an empty or moved seed must not make
    # this module pass vacuously.
    assert PREFIX == "/integration/v2"
    assert len(SEED_OPERATIONS) >= 20
    assert {op["operationId"] for _, _, op in SEED_OPERATIONS} >= {"listUsers", "createUser"}


@pytest.mark.parametrize(
    ("method", "path", "seed_op"),
    SEED_OPERATIONS,
    ids=[op["operationId"] for _, _, op in SEED_OPERATIONS],
)
class TestSeedOperation:
    def test_same_path_method_and_operation_id(
        self, ours: dict[str, Any], method: str, path: str, seed_op: dict[str, Any]
    ) -> None:
        op = our_operation(ours, method, path)
        assert op.get("operationId") == seed_op["operationId"]

    def test_requires_a_bearer_token(
        self, ours: dict[str, Any], method: str, path: str, seed_op: dict[str, Any]
    ) -> None:
        op = our_operation(ours, method, path)
        requirements = op.get("security", ours.get("security", []))
        schemes = ours.get("components", {}).get("securitySchemes", {})
        bearer = {
            name
            for name, scheme in schemes.items()
            if scheme.get("type") == "http" and scheme.get("scheme", "").lower() == "bearer"
        }
        assert any(set(req) & bearer for req in requirements), requirements

    def test_parameters(
        self, ours: dict[str, Any], method: str, path: str, seed_op: dict[str, Any]
    ) -> None:
        op = our_operation(ours, method, path)
        seed_params = parameters(SEED, SEED["paths"][path], seed_op)
        our_params = parameters(ours, ours["paths"][PREFIX + path], op)
        problems = []
        for (name, location), seed_param in seed_params.items():
            mine = our_params.get((name, location))
            if mine is None:
                elsewhere = [loc for (n, loc) in our_params if n == name]
                problems.append(f"{location} parameter {name} missing (ours: {elsewhere})")
                continue
            if mine.get("required", False) and not seed_param.get("required", False):
                problems.append(f"{location} parameter {name} is optional in the seed only")
            if seed_param.get("required", False) and not mine.get("required", False):
                problems.append(f"{location} parameter {name} is required in the seed only")
            problems += check_schema(
                SEED,
                seed_param.get("schema", {}),
                ours,
                mine.get("schema", {}),
                f"{location} parameter {name}",
                direction="request",
            )
        assert not problems, "\n".join(problems)

    def test_statuses(
        self, ours: dict[str, Any], method: str, path: str, seed_op: dict[str, Any]
    ) -> None:
        op = our_operation(ours, method, path)
        missing = set(seed_op["responses"]) - set(op.get("responses", {}))
        assert not missing, f"seed statuses missing in ours: {sorted(missing)}"

    def test_request_body_accepts_seed_fields(
        self, ours: dict[str, Any], method: str, path: str, seed_op: dict[str, Any]
    ) -> None:
        op = our_operation(ours, method, path)
        if "requestBody" not in seed_op:
            return
        seed_body = resolve(SEED, seed_op["requestBody"])
        our_body = resolve(ours, op.get("requestBody", {}))
        assert our_body, "the seed has a request body, ours has none"
        if seed_body.get("required", False):
            assert our_body.get("required", False), "the seed requires a body, ours does not"
        seed_schema = resolve(SEED, json_schema_of(SEED, seed_body))
        our_schema = json_schema_of(ours, our_body)
        assert our_schema is not None, "ours takes no application/json body"
        problems = check_schema(SEED, seed_schema, ours, our_schema, "body", direction="request")
        # Ours must not insist on a field a seed client may leave out.
        ours_required = {r for v in variants(ours, our_schema) for r in v.get("required", [])}
        extra = ours_required - set(seed_schema.get("required", []))
        if extra:
            problems.append(f"body: ours requires {sorted(extra)}, the seed does not")
        assert not problems, "\n".join(problems)

    def test_success_bodies_carry_seed_properties(
        self, ours: dict[str, Any], method: str, path: str, seed_op: dict[str, Any]
    ) -> None:
        op = our_operation(ours, method, path)
        problems = []
        for status, seed_response in seed_op["responses"].items():
            if not str(status).startswith("2"):
                continue
            seed_schema = json_schema_of(SEED, seed_response)
            if seed_schema is None:  # e.g. 204, or the seed's bodiless 201
                continue
            our_response = op.get("responses", {}).get(status)
            if our_response is None:
                problems.append(f"{status}: missing in ours")
                continue
            our_schema = json_schema_of(ours, our_response)
            if our_schema is None:
                problems.append(f"{status}: ours has no application/json body")
                continue
            problems += check_schema(
                SEED, seed_schema, ours, our_schema, f"{status} body", direction="response"
            )
        assert not problems, "\n".join(problems)


def test_seed_rate_limit_status_is_documented(ours: dict[str, Any]) -> None:
    missing = [
        seed_op["operationId"]
        for method, path, seed_op in SEED_OPERATIONS
        if "429" in seed_op["responses"]
        and "429" not in our_operation(ours, method, path).get("responses", {})
    ]
    assert not missing, f"429 not documented for {missing}"
    # As the seed's TooManyRequests: the error envelope, and when to come back.
    seed_429 = resolve(SEED, SEED["paths"]["/users"]["get"]["responses"]["429"])
    ours_429 = our_operation(ours, "get", "/users")["responses"]["429"]
    assert set(seed_429["headers"]) <= set(ours_429["headers"])
    problems = check_schema(
        SEED,
        json_schema_of(SEED, seed_429),
        ours,
        json_schema_of(ours, ours_429),
        "429 body",
        direction="response",
    )
    assert not problems, "\n".join(problems)


# Every operation of these prefixes takes credentials, so it may answer 429: its credential
# or tenant is over its limit, or its client address is out of failed authentications.
LIMITED_PREFIXES = (
    "/integration/v2/",
    "/admin/api/",
    "/scim/v2/",
    "/api/v1/",
    "/api/roles",
    "/api/users/",
    "/v1/seadminusers",
    "/user_identities/",
)
RATE_LIMIT_FIELDS = {"RateLimit-Policy", "RateLimit"}


def test_every_limited_operation_documents_429_and_the_rate_limit_fields(
    ours: dict[str, Any],
) -> None:
    limited = [
        (method, path, op)
        for path, item in ours["paths"].items()
        for method, op in item.items()
        if path.startswith(LIMITED_PREFIXES) or path.endswith("/connect/token")
    ]
    assert len(limited) > 60, len(limited)
    problems = []
    for method, path, op in limited:
        responses = op.get("responses", {})
        too_many = responses.get("429")
        if too_many is None:
            problems.append(f"{method.upper()} {path}: no 429")
            continue
        if set(too_many.get("headers", {})) != {"Retry-After", *RATE_LIMIT_FIELDS}:
            problems.append(f"{method.upper()} {path}: 429 headers {too_many.get('headers')}")
        for status, response in responses.items():
            if status.startswith("2") and not set(response.get("headers", {})) >= RATE_LIMIT_FIELDS:
                problems.append(f"{method.upper()} {path}: {status} lacks the RateLimit fields")
    assert not problems, "\n".join(problems)
    # Operations that take no credentials are not limited.
    for path in ("/healthz", "/tenants/{tenant}/.well-known/jwks.json"):
        assert "429" not in ours["paths"][path]["get"]["responses"], path


# ---- the comparison can fail -----------------------------------------------------------------


def test_check_schema_finds_differences() -> None:
    seed_doc = {
        "components": {
            "schemas": {
                "User": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "status": {"type": "string", "enum": ["active", "inactive"]},
                        "count": {"type": "integer"},
                    },
                }
            }
        }
    }
    seed = {"type": "array", "items": {"$ref": "#/components/schemas/User"}}
    good_doc = {
        "components": {
            "schemas": {
                "Status": {"type": "string", "enum": ["active"]},
                "UserOut": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string", "format": "uuid"},
                        "status": {"$ref": "#/components/schemas/Status"},
                        "count": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
                        "extra": {"type": "boolean"},
                    },
                },
            }
        }
    }
    good = {"type": "array", "items": {"$ref": "#/components/schemas/UserOut"}}
    assert check_schema(seed_doc, seed, good_doc, good, "x", direction="response") == []

    bad_doc = {
        "components": {
            "schemas": {
                "UserOut": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["active", "deleted"]},
                        "count": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                }
            }
        }
    }
    bad = {"type": "array", "items": {"$ref": "#/components/schemas/UserOut"}}
    problems = check_schema(seed_doc, seed, bad_doc, bad, "x", direction="response")
    assert any("x[].id: missing" in p for p in problems), problems
    assert any("x[].status" in p and "deleted" in p for p in problems), problems
    assert any("x[].count: seed type integer" in p for p in problems), problems
    # A request enum narrower than the seed's refuses valid seed input.
    narrow = {"type": "string", "enum": ["active"]}
    problems = check_schema(
        seed_doc,
        {"type": "string", "enum": ["active", "inactive"]},
        {},
        narrow,
        "q",
        direction="request",
    )
    assert problems == ["q: ours refuses seed values {'inactive'}"]


def test_docs_page(http: TestClient) -> None:
    r = http.get("/docs")
    assert r.status_code == 200
    assert "text/html" in r.headers["content-type"]
    assert "/openapi.json" in r.text


# ---- Idempotency-Key, ETag and If-Match -------------------------------------------------------

KEYED_POSTS = [
    "/integration/v2/users",
    "/integration/v2/groups",
    "/integration/v2/groups/{groupId}/members",
    "/api/v1/users",
    "/api/v1/users/bulk",
    "/v1/seadminusers",
    "/user_identities/create",
    "/user_identities/list",
]


@pytest.mark.parametrize("path", KEYED_POSTS)
def test_posts_document_the_idempotency_key(ours: dict[str, Any], path: str) -> None:
    op = ours["paths"][path]["post"]
    (key,) = [p for p in op["parameters"] if p["name"] == "Idempotency-Key"]
    assert key["in"] == "header" and key["required"] is False
    assert key["schema"]["maxLength"] == 255
    assert {"409", "422"} <= set(op["responses"])
    success = [r for status, r in op["responses"].items() if status.startswith("2")]
    assert success and all("Idempotent-Replayed" in r["headers"] for r in success)


def test_only_posts_that_claim_keys_document_them(ours: dict[str, Any]) -> None:
    keyed = {
        (method, path)
        for path, item in ours["paths"].items()
        for method, op in item.items()
        if any(p["name"] == "Idempotency-Key" for p in op.get("parameters", []))
    }
    assert {method for method, _ in keyed} == {"post"}
    assert ("post", "/api/v1/authentication/login") not in keyed
    assert not any(path.startswith(("/scim/", "/admin/")) for _, path in keyed)


@pytest.mark.parametrize("kind", ["users/{userId}", "groups/{groupId}"])
def test_v2_users_and_groups_document_etag_and_if_match(ours: dict[str, Any], kind: str) -> None:
    item = ours["paths"][f"{PREFIX}/{kind}"]
    assert "ETag" in item["get"]["responses"]["200"]["headers"]
    assert "ETag" in item["patch"]["responses"]["200"]["headers"]
    for method in ("patch", "delete"):
        names = {p["name"] for p in item[method]["parameters"] if p["in"] == "header"}
        assert "If-Match" in names, method
        assert "412" in item[method]["responses"], method
    collection = ours["paths"][f"{PREFIX}/{kind.split('/')[0]}"]
    assert "ETag" in collection["post"]["responses"]["201"]["headers"]


# ---- scheduled access ------------------------------------------------------------------------


def _schema(ours: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].rsplit("/", 1)[1]
    return dict(ours["components"]["schemas"][name])


def test_scheduled_access_is_documented(ours: dict[str, Any]) -> None:
    users, user = ours["paths"][f"{PREFIX}/users"], ours["paths"][f"{PREFIX}/users/{{userId}}"]
    members = ours["paths"][f"{PREFIX}/groups/{{groupId}}/members"]
    bodies = {
        "create": users["post"],
        "update": user["patch"],
        "member": members["post"],
    }
    for name, op in bodies.items():
        body = _schema(ours, op["requestBody"]["content"]["application/json"]["schema"])
        wanted = {"expiresAt"} if name == "member" else {"validFrom", "expiresAt"}
        assert wanted <= body["properties"].keys(), name
        for field in wanted:
            assert body["properties"][field]["description"], (name, field)
        assert "422" in op["responses"], name
    shown = _schema(ours, user["get"]["responses"]["200"]["content"]["application/json"]["schema"])
    assert {"validFrom", "expiresAt"} <= shown["properties"].keys()
    listed = members["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    item = _schema(ours, _schema(ours, listed)["properties"]["items"]["items"])
    assert "membershipExpiresAt" in item["properties"]
