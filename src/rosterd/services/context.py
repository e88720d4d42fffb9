"""Who is acting, for which tenant, through which surface: passed to every service call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Actor:
    tenant_id: uuid.UUID
    actor: str
    surface: str
    request_id: str | None = None
    # The OAuth scopes the credential holds, where it has any (rosterd.auth.scopes): for the
    # few rules that depend on them, such as a held idle sweep needing ``admin``.
    scopes: frozenset[str] = field(default_factory=frozenset)
