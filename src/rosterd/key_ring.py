"""The token signer's view of the store: each read and write in a transaction of its own.

``TokenSigner`` (rosterd.auth.tokens) calls these while a request is being served, so none of
them may run inside the request's write transaction (on SQLite the writer pool has one
connection: waiting for it there would wait on itself). Reads use the reader pool; a
tenant's first key is made (RSA generation, sealing) before its short write transaction
opens.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from cryptography.hazmat.primitives.asymmetric import rsa

from rosterd.auth.key_seal import KeySealer
from rosterd.auth.tokens import PublicKey
from rosterd.db.engine import Database
from rosterd.services import signing_keys


@dataclass(frozen=True)
class StoreKeys:
    db: Database
    sealer: KeySealer
    grace: timedelta

    def trusted_keys(self) -> list[PublicKey]:
        with self.db.reader() as session:
            return signing_keys.trusted_keys(session, self.grace)

    def tenant_keys(self, tenant_id: uuid.UUID | None) -> list[PublicKey]:
        with self.db.reader() as session:
            return signing_keys.tenant_keys(session, tenant_id, self.grace)

    def keys_beside(self, kid: str) -> tuple[uuid.UUID | None, list[PublicKey]] | None:
        with self.db.reader() as session:
            return signing_keys.keys_beside(session, kid, self.grace)

    def private_key(self, key: PublicKey) -> rsa.RSAPrivateKey:
        with self.db.reader() as session:
            return signing_keys.unseal(session, key, self.sealer)

    def create(self, tenant_id: uuid.UUID) -> tuple[PublicKey, rsa.RSAPrivateKey]:
        new = signing_keys.make(tenant_id, self.sealer)
        with self.db.writer.begin() as session:
            signing_keys.add_first(session, new)
        row = new.row
        info = PublicKey(
            kid=row.kid,
            tenant_id=tenant_id,
            jwk=row.public_jwk,
            created_at=row.created_at.timestamp(),
            verify_until=None,
        )
        return info, new.private
