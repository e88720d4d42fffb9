"""Tenant API keys: the user identities surface's bearer key and the ADMIN API's x-api-key."""

from __future__ import annotations

from rosterd.auth.secrets import API_KEY_PREFIX
from rosterd.models import ApiKey
from rosterd.services.bearer_secrets import SecretKind

KIND: SecretKind[ApiKey] = SecretKind(
    model=ApiKey, prefix=API_KEY_PREFIX, label="API key", resource="api_key"
)
