"""Each tenant's credential and tenant policies: the settings', or the tenant's own."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping

from anyio import to_thread

from rosterd.ratelimit.policy import Policy

log = logging.getLogger("rosterd.ratelimit")

CREDENTIAL = "credential"
TENANT = "tenant"
# Tenants whose policies are remembered at once; past it, the longest remembered are dropped.
_REMEMBERED = 10_000

# Reads a tenant's own limits from the store: {"credential": "...", "tenant": "..."}, each
# key present only when the tenant overrides that limit.
OverrideLoader = Callable[[uuid.UUID], Mapping[str, str]]


class TenantPolicies:
    """A tenant's policies, remembered for ``ttl`` seconds so that a request does not read
    the tenant row each time: a change (``rosterd tenants configure --rate-limit-*``) takes
    effect within ``ttl`` on every node.

    Every request asks, so the memory is a dict with an expiry per entry: a
    ``cachetools.TTLCache`` lookup cost several microseconds of the request's CPU, a dict's
    a tenth of one."""

    def __init__(self, *, credential: str, tenant: str, load: OverrideLoader, ttl: float) -> None:
        self._defaults = {CREDENTIAL: credential, TENANT: tenant}
        self._default_policies = (
            Policy.parse(CREDENTIAL, credential),
            Policy.parse(TENANT, tenant),
        )
        self._load = load
        self._ttl = ttl
        # tenant -> (time.monotonic() it expires at, its policies)
        self._cache: dict[uuid.UUID, tuple[float, tuple[Policy, Policy]]] = {}

    async def of(self, tenant_id: uuid.UUID) -> tuple[Policy, Policy]:
        """(credential policy, tenant policy) of ``tenant_id``."""
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        # The store is synchronous: read it in a worker thread, not on the event loop.
        overrides = await to_thread.run_sync(self._load, tenant_id)
        policies = self._parse(tenant_id, overrides) if overrides else self._default_policies
        if self._ttl > 0:
            self._remember(tenant_id, policies)
        return policies

    def _remember(self, tenant_id: uuid.UUID, policies: tuple[Policy, Policy]) -> None:
        self._cache.pop(tenant_id, None)  # to the end of the dict's order
        while len(self._cache) >= _REMEMBERED:
            del self._cache[next(iter(self._cache))]
        self._cache[tenant_id] = (time.monotonic() + self._ttl, policies)

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
