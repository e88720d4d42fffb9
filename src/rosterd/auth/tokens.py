"""Signed JWT access tokens (RFC 9068 profile) and the JWKS that verifies them."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

AUDIENCE = "rosterd"
ALGORITHM = "RS256"


# Each surface that takes signed tokens has its own audience, so a token made for one is
# refused by the others.
OAUTH_AUDIENCE = AUDIENCE
API_V1_AUDIENCE = "rosterd:api-v1"


@dataclass(frozen=True)
class AccessToken:
    tenant_id: uuid.UUID
    subject: str
    scopes: frozenset[str]
    claims: dict[str, Any]


def generate_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


class TokenSigner:
    """Holds the signing keys in memory; the newest key signs, every key verifies."""

    # Verified tokens are remembered until they expire: an RS256 check costs more than the
    # rest of a cached read. Keys never change while the process runs, so a remembered
    # verdict stays true until ``exp``; revocation (the /api/v1 token epoch) is checked
    # against the store by the caller, not here.
    _CACHE_SIZE = 4096

    def __init__(self, keys: list[tuple[str, str]]) -> None:
        if not keys:
            raise ValueError("at least one signing key is needed")
        self._verified: dict[tuple[str, str], AccessToken] = {}
        self._private: list[tuple[str, Any]] = [
            (kid, serialization.load_pem_private_key(pem.encode(), password=None))
            for kid, pem in keys
        ]
        self._public = {kid: key.public_key() for kid, key in self._private}

    def issue(
        self,
        *,
        issuer: str,
        tenant_id: uuid.UUID,
        subject: str,
        scopes: list[str],
        ttl: int,
        audience: str = OAUTH_AUDIENCE,
        extra: dict[str, Any] | None = None,
    ) -> str:
        kid, key = self._private[0]
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "tid": str(tenant_id),
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + ttl,
            "jti": secrets.token_hex(16),
            **(extra or {}),
        }
        return jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": kid, "typ": "at+jwt"})

    def verify(self, token: str, audience: str = OAUTH_AUDIENCE) -> AccessToken | None:
        """The token's claims, or None when it is malformed, forged, expired or foreign."""
        cached = self._verified.get((audience, token))
        if cached is not None:
            if cached.claims["exp"] > time.time():
                return cached
            self._verified.pop((audience, token), None)
            return None
        access = self._decode(token, audience)
        if access is not None:
            if len(self._verified) >= self._CACHE_SIZE:
                self._verified.clear()
            self._verified[(audience, token)] = access
        return access

    def _decode(self, token: str, audience: str) -> AccessToken | None:
        try:
            header = jwt.get_unverified_header(token)
            key = self._public.get(header.get("kid", ""))
            if key is None:
                return None
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=audience,
                options={"require": ["exp", "iat", "sub", "aud"]},
            )
            return AccessToken(
                tenant_id=uuid.UUID(claims["tid"]),
                subject=str(claims["sub"]),
                scopes=frozenset(str(claims.get("scope", "")).split()),
                claims=claims,
            )
        except (jwt.PyJWTError, KeyError, ValueError, TypeError):
            return None

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, public in self._public.items():
            jwk = json.loads(RSAAlgorithm.to_jwk(public))
            jwk.update({"kid": kid, "use": "sig", "alg": ALGORITHM})
            keys.append(jwk)
        return {"keys": keys}
