"""Webhook signing secrets and signatures, per the Standard Webhooks specification.

A secret is ``whsec_`` and 32 random bytes in base64, the form the ``standardwebhooks``
package (and the other Standard Webhooks libraries) take. It is shown once, when made; the
store keeps it sealed under the server secret (rosterd.auth.key_seal), bound to its
webhook and tenant.
"""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime

from standardwebhooks import Webhook as Signer

from rosterd.auth.key_seal import KeySealer

PREFIX = "whsec_"
SECRET_BYTES = 32


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def _kid(webhook_id: uuid.UUID) -> str:
    # The seal's associated data names what the sealed bytes are; a webhook's is apart
    # from any signing key's kid.
    return f"webhook-secret:{webhook_id}"


def seal(sealer: KeySealer, secret: str, webhook_id: uuid.UUID, tenant_id: uuid.UUID) -> bytes:
    return sealer.seal(secret.encode(), _kid(webhook_id), tenant_id)


def open_secret(
    sealer: KeySealer, sealed: bytes, webhook_id: uuid.UUID, tenant_id: uuid.UUID
) -> str:
    return sealer.open(sealed, _kid(webhook_id), tenant_id).decode()


def headers(secret: str, message_id: str, at: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers of one message: id, timestamp and signature."""
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Signer(secret).sign(message_id, at, body),
    }
