"""Who is acting, for which tenant, through which surface: passed to every service call."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True)
class Actor:
    tenant_id: uuid.UUID
    actor: str
    surface: str
    request_id: str | None = None
