"""Each tenant's credential and tenant policies: the settings', or the tenant's own."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping

from anyio import to_thread
from cachetools import TTLCache

from rosterd.ratelimit.policy import Policy

log = logging.getLogger("rosterd.ratelimit")

CREDENTIAL = "credential"
TENANT = "tenant"

# Reads a tenant's own limits from the store: {"credential": "...", "tenant": "..."}, each
# key present only when the tenant overrides that limit.
OverrideLoader = Callable[[uuid.UUID], Mapping[str, str]]


class TenantPolicies:
    """A tenant's policies, remembered for ``ttl`` seconds so that a request does not read
    the tenant row each time: a change (``rosterd tenants configure --rate-limit-*``) takes
    effect within ``ttl`` on every node."""

    def __init__(self, *, credential: str, tenant: str, load: OverrideLoader, ttl: float) -> None:
        self._defaults = {CREDENTIAL: credential, TENANT: tenant}
        self._default_policies = (
            Policy.parse(CREDENTIAL, credential),
            Policy.parse(TENANT, tenant),
        )
        self._load = load
        self._cache: TTLCache[uuid.UUID, tuple[Policy, Policy]] | None = (
            TTLCache(maxsize=10_000, ttl=ttl) if ttl > 0 else None
        )

    async def of(self, tenant_id: uuid.UUID) -> tuple[Policy, Policy]:
        """(credential policy, tenant policy) of ``tenant_id``."""
        if self._cache is not None and (hit := self._cache.get(tenant_id)) is not None:
            return hit
        # The store is synchronous: read it in a worker thread, not on the event loop.
        overrides = await to_thread.run_sync(self._load, tenant_id)
        policies = self._parse(tenant_id, overrides) if overrides else self._default_policies
        if self._cache is not None:
            self._cache[tenant_id] = policies
        return policies

    def _parse(self, tenant_id: uuid.UUID, overrides: Mapping[str, str]) -> tuple[Policy, Policy]:
        parsed = []
        for name, default in self._defaults.items():
            text = overrides.get(name, default)
            try:
                parsed.append(Policy.parse(name, text))
            except ValueError:
                # Written past the CLI's check (by hand in the database): the settings' limit.
                log.warning("tenant %s: its %s rate limit %r is invalid", tenant_id, name, text)
                parsed.append(Policy.parse(name, default))
        return parsed[0], parsed[1]
