# ruff: noqa: S105 (the names of credential kinds and endpoints, not secrets)
"""What kind of credential a caller sent, told in one place.

Each API takes one kind of credential, and a caller holding several (an OAuth client, a SCIM
token, an API key, an /api/v1 login) easily sends the wrong one. Every surface's 401 says
what it needs and what it got instead: "this API needs X; you sent Y (which works on Z)".
The kind is read from what rosterd put in the credential: the prefix of its opaque secrets
(rosterd.auth.secrets) or the audience of its JWTs (rosterd.auth.tokens), read without
checking the signature; only the surface that takes a kind verifies it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from enum import Enum

import jwt

from rosterd.auth.secrets import (
    API_KEY_PREFIX,
    CLIENT_ID_PREFIX,
    CLIENT_SECRET_PREFIX,
    SCIM_TOKEN_PREFIX,
)
from rosterd.auth.tokens import API_V1_AUDIENCE, OAUTH_AUDIENCE

TOKEN_ENDPOINT = "POST /tenants/{tenant}/connect/token"
LOGIN_ENDPOINT = "POST /api/v1/authentication/login"


class Kind(Enum):
    OAUTH_ACCESS_TOKEN = "OAuth access token"
    API_V1_TOKEN = "/api/v1 login token"
    SCIM_TOKEN = "SCIM token"
    API_KEY = "API key"
    CLIENT_SECRET = "OAuth client secret"
    CLIENT_ID = "OAuth client id"
    BASIC = "HTTP Basic credentials"
    UNKNOWN = "credential rosterd did not issue"

    @property
    def noun(self) -> str:
        """ "SCIM token": the kind, named after "the"."""
        return str(self.value)

    @property
    def named(self) -> str:
        """ "a SCIM token": the kind, named on its own."""
        if self is Kind.BASIC:
            return self.noun
        return ("an " if self.noun[0] in "AEIOU" else "a ") + self.noun


# Where each kind is taken: the "(which works on Z)" of a refusal.
WORKS_ON: dict[Kind, str] = {
    Kind.OAUTH_ACCESS_TOKEN: "/integration/v2, /admin/api (with the admin scope) and, "
    "together with an x-api-key, /v1/seadminusers",
    Kind.API_V1_TOKEN: "/api/v1",
    Kind.SCIM_TOKEN: "/scim/v2",
    Kind.API_KEY: "/user_identities, and in the x-api-key header of /v1/seadminusers",
    Kind.CLIENT_SECRET: f"{TOKEN_ENDPOINT} only, with its client id, to get an access token",
    Kind.CLIENT_ID: f"{TOKEN_ENDPOINT} only, with its client secret, to get an access token",
    Kind.BASIC: f"{TOKEN_ENDPOINT} only, carrying an OAuth client id and secret",
}

_PREFIXES = (
    (SCIM_TOKEN_PREFIX, Kind.SCIM_TOKEN),
    (API_KEY_PREFIX, Kind.API_KEY),
    (CLIENT_SECRET_PREFIX, Kind.CLIENT_SECRET),
    (CLIENT_ID_PREFIX, Kind.CLIENT_ID),
)
_AUDIENCES = {OAUTH_AUDIENCE: Kind.OAUTH_ACCESS_TOKEN, API_V1_AUDIENCE: Kind.API_V1_TOKEN}


@dataclass(frozen=True)
class Presented:
    """What a caller sent: its kind, and for a JWT whether it says it has expired."""

    kind: Kind
    expired: bool = False

    def describe(self) -> str:
        if self.kind is Kind.UNKNOWN:
            return self.kind.named
        name = f"an expired {self.kind.noun}" if self.expired else self.kind.named
        works = "work" if self.kind is Kind.BASIC else "works"
        return f"{name} (which {works} on {WORKS_ON[self.kind]})"


def identify(secret: str) -> Presented:
    """The kind of a bearer secret, by its prefix or, for a JWT, its audience."""
    for prefix, kind in _PREFIXES:
        if secret.startswith(prefix):
            return Presented(kind)
    try:
        claims = jwt.decode(secret, options={"verify_signature": False})
    except jwt.PyJWTError:
        return Presented(Kind.UNKNOWN)
    audiences = claims.get("aud")
    for audience in audiences if isinstance(audiences, list) else [audiences]:
        if isinstance(audience, str) and audience in _AUDIENCES:
            exp = claims.get("exp")
            expired = isinstance(exp, int | float) and exp <= time.time()
            return Presented(_AUDIENCES[audience], expired=expired)
    return Presented(Kind.UNKNOWN)


def from_authorization(header: str | None) -> Presented | None:
    """What an Authorization header carries, or None when it carries nothing."""
    scheme, _, value = (header or "").strip().partition(" ")
    if not scheme:
        return None
    if scheme.lower() == "basic":
        return Presented(Kind.BASIC)
    value = value.strip()
    if scheme.lower() != "bearer":
        return identify(value or scheme)
    return identify(value) if value else None


@dataclass(frozen=True)
class Need:
    """What a surface takes, as its refusals say it."""

    kind: Kind | None  # None: no bearer kind (the token endpoint takes client credentials)
    sentence: str  # "this API needs ..."
    renew: str = ""  # what to do when the right kind has expired or is not valid

    def refusal(self, presented: Presented | None) -> str:
        """The message of a 401: what this surface needs, and what it got instead."""
        if presented is None:
            return f"{self.sentence}; no credential was sent"
        if presented.kind is not self.kind:
            return f"{self.sentence}; you sent {presented.describe()}"
        state = "has expired" if presented.expired else "is not valid, or was revoked"
        renew = f": {self.renew}" if self.renew else ""
        return f"{self.sentence}; the {presented.kind.noun} sent {state}{renew}"
