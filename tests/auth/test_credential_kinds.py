"""Telling credentials apart: by the prefix of rosterd's secrets and the audience of its JWTs."""

from __future__ import annotations

import time
import uuid

import jwt
import pytest

from rosterd.auth.credential_kinds import Kind, Need, Presented, from_authorization, identify
from rosterd.auth.secrets import (
    API_KEY_PREFIX,
    CLIENT_ID_PREFIX,
    CLIENT_SECRET_PREFIX,
    SCIM_TOKEN_PREFIX,
    new_token,
)
from rosterd.auth.tokens import (
    API_V1_AUDIENCE,
    OAUTH_AUDIENCE,
    TokenSigner,
    generate_private_key_pem,
)

SIGNER = TokenSigner([("k1", generate_private_key_pem())])
# Signs JWTs rosterd did not issue (a forgery is read for its audience all the same).
FORGERY_KEY = "a key rosterd never had, 32 bytes+"


def _jwt(audience: str, ttl: int = 7 * 86400) -> str:
    # Made when the module is collected: valid long enough for a whole suite run before it.
    return SIGNER.issue(
        issuer="http://x",
        tenant_id=uuid.uuid4(),
        subject="s",
        scopes=[],
        ttl=ttl,
        audience=audience,
    )


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (new_token(SCIM_TOKEN_PREFIX), Kind.SCIM_TOKEN),
        (new_token(API_KEY_PREFIX), Kind.API_KEY),
        (new_token(CLIENT_SECRET_PREFIX), Kind.CLIENT_SECRET),
        (new_token(CLIENT_ID_PREFIX, 12), Kind.CLIENT_ID),
        (_jwt(OAUTH_AUDIENCE), Kind.OAUTH_ACCESS_TOKEN),
        (_jwt(API_V1_AUDIENCE), Kind.API_V1_TOKEN),
        (_jwt("someone-else"), Kind.UNKNOWN),
        (
            jwt.encode({"aud": OAUTH_AUDIENCE}, FORGERY_KEY, algorithm="HS256"),
            Kind.OAUTH_ACCESS_TOKEN,
        ),
        ("not.a.jwt", Kind.UNKNOWN),
        ("", Kind.UNKNOWN),
    ],
    ids=[
        "scim",
        "api-key",
        "client-secret",
        "client-id",
        "oauth",
        "api-v1",
        "foreign-jwt",
        "forged-jwt",
        "three-dots",
        "empty",
    ],
)
def test_identify(secret: str, kind: Kind) -> None:
    assert identify(secret) == Presented(kind)


def test_an_expired_jwt_says_so() -> None:
    assert identify(_jwt(OAUTH_AUDIENCE, ttl=-1)) == Presented(Kind.OAUTH_ACCESS_TOKEN, True)
    claims = {"aud": [API_V1_AUDIENCE, "x"], "exp": int(time.time()) - 5}
    token = jwt.encode(claims, FORGERY_KEY, algorithm="HS256")
    assert identify(token) == Presented(Kind.API_V1_TOKEN, expired=True)


@pytest.mark.parametrize(
    ("header", "presented"),
    [
        (None, None),
        ("", None),
        ("Bearer", None),
        ("Basic dXNlcjpwYXNz", Presented(Kind.BASIC)),
        ("basic whatever", Presented(Kind.BASIC)),
        (f"bearer {SCIM_TOKEN_PREFIX}abc", Presented(Kind.SCIM_TOKEN)),
        (f"Token {API_KEY_PREFIX}abc", Presented(Kind.API_KEY)),
        (f"{API_KEY_PREFIX}abc", Presented(Kind.API_KEY)),
    ],
)
def test_from_authorization(header: str | None, presented: Presented | None) -> None:
    assert from_authorization(header) == presented


def test_a_refusal_names_the_need_and_what_was_sent() -> None:
    need = Need(Kind.SCIM_TOKEN, "SCIM needs a SCIM token", "ask for a new one")
    assert need.refusal(None) == "SCIM needs a SCIM token; no credential was sent"
    assert need.refusal(Presented(Kind.API_KEY)) == (
        "SCIM needs a SCIM token; you sent an API key (which works on /user_identities, and "
        "in the x-api-key header of /v1/seadminusers)"
    )
    assert need.refusal(Presented(Kind.SCIM_TOKEN)) == (
        "SCIM needs a SCIM token; the SCIM token sent is not valid, or was revoked: "
        "ask for a new one"
    )
    oauth = Need(Kind.OAUTH_ACCESS_TOKEN, "this API needs an OAuth access token")
    assert oauth.refusal(Presented(Kind.OAUTH_ACCESS_TOKEN, expired=True)).endswith(
        "the OAuth access token sent has expired"
    )
    assert "an expired /api/v1 login token (which works on /api/v1)" in oauth.refusal(
        Presented(Kind.API_V1_TOKEN, expired=True)
    )
