from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from rosterd.models import ExternalIdentity


def for_users(
    session: Session, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[str]]:
    result: dict[uuid.UUID, list[str]] = {uid: [] for uid in user_ids}
    if not user_ids:
        return result
    rows = session.execute(
        select(ExternalIdentity.user_id, ExternalIdentity.identity)
        .where(ExternalIdentity.tenant_id == tenant_id, ExternalIdentity.user_id.in_(user_ids))
        .order_by(ExternalIdentity.created_at, ExternalIdentity.identity)
    )
    for uid, identity in rows:
        result[uid].append(identity)
    return result


def owner_of(session: Session, tenant_id: uuid.UUID, identity: str) -> uuid.UUID | None:
    return session.scalar(
        select(ExternalIdentity.user_id).where(
            ExternalIdentity.tenant_id == tenant_id, ExternalIdentity.identity == identity
        )
    )


def replace_for_user(
    session: Session, tenant_id: uuid.UUID, user_id: uuid.UUID, identities: Sequence[str]
) -> None:
    session.execute(
        delete(ExternalIdentity).where(
            ExternalIdentity.tenant_id == tenant_id, ExternalIdentity.user_id == user_id
        )
    )
    session.flush()
    for identity in identities:
        session.add(ExternalIdentity(tenant_id=tenant_id, user_id=user_id, identity=identity))
    session.flush()
