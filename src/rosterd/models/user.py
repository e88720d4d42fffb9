from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, Boolean, Enum, ForeignKey, Index, String, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from rosterd.models.base import Base, FoldedKey, utcnow

if TYPE_CHECKING:
    from rosterd.models.role import Role
    from rosterd.models.team import Team


def full_name(first_name: str | None, last_name: str | None) -> str | None:
    """ "First Last", or whichever of the two there is, or None."""
    return " ".join(p for p in (first_name, last_name) if p) or None


class UserStatus(enum.StrEnum):
    pending = "pending"
    active = "active"
    suspended = "suspended"
    inactive = "inactive"


def status_type() -> Enum:
    """How a status is stored: its name as a string, checked. ``users`` and ``user_tallies``
    (whose triggers copy one into the other) must agree; each column needs its own instance."""
    return Enum(UserStatus, native_enum=False, create_constraint=True, length=16, name="status")


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    number: Mapped[int]
    username: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    # Case-insensitive identity of username and email (domain.rules.fold: NFC + casefold),
    # computed in Python so SQLite and PostgreSQL agree on which two values are one.
    username_key: Mapped[str] = mapped_column(FoldedKey())
    email_key: Mapped[str | None] = mapped_column(FoldedKey())
    # False where the tenant lets users share an address (their IdP has such users); only
    # true rows are held unique.
    email_unique: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    # Every address and phone number the client keeps ([{value, type, primary, display}],
    # as SCIM sends them); email and phone are their primaries.
    emails: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    phone_numbers: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON)
    first_name: Mapped[str | None] = mapped_column(String(255))
    last_name: Mapped[str | None] = mapped_column(String(255))
    # The names' folded keys: what name order sorts by, identically on both databases.
    first_name_key: Mapped[str | None] = mapped_column(FoldedKey())
    last_name_key: Mapped[str | None] = mapped_column(FoldedKey())
    display_name: Mapped[str | None] = mapped_column(String(255))
    title: Mapped[str | None] = mapped_column(String(255))
    department: Mapped[str | None] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(35))
    # As sent (free text); phone_e164 is its E.164 form when it has one.
    phone: Mapped[str | None] = mapped_column(String(64))
    phone_e164: Mapped[str | None] = mapped_column(String(16))
    status: Mapped[UserStatus] = mapped_column(status_type(), default=UserStatus.active)
    role_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("roles.id", ondelete="SET NULL"))
    team_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    # Enterprise attributes (SCIM enterprise User extension, RFC 7643 §4.3).
    employee_number: Mapped[str | None] = mapped_column(String(255))
    division: Mapped[str | None] = mapped_column(String(255))
    organization: Mapped[str | None] = mapped_column(String(255))
    cost_center: Mapped[str | None] = mapped_column(String(255))
    manager_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    password_hash: Mapped[str | None] = mapped_column(String(255))
    # The user-identities surface's user_identity_key; unique per tenant when set.
    identity_key: Mapped[str | None] = mapped_column(String(255))
    preferences: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    last_login_at: Mapped[datetime | None]
    # Scheduled access (rosterd.domain.schedule): pending until ``valid_from``, then active;
    # deactivated at ``expires_at`` (ADMIN's expiredDate). The scheduler carries both out.
    valid_from: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    modified_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    # Bumped on every UPDATE by the ORM; it is the ETag/meta.version and an optimistic lock.
    version: Mapped[int] = mapped_column(default=1)

    role: Mapped[Role | None] = relationship(lazy="raise")
    team: Mapped[Team | None] = relationship(lazy="raise", foreign_keys=[team_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("uq_users_tenant_number", "tenant_id", "number", unique=True),
        Index("uq_users_tenant_username_key", "tenant_id", "username_key", unique=True),
        Index(
            "uq_users_tenant_email_key",
            "tenant_id",
            "email_key",
            unique=True,
            # Spelled as SQLAlchemy spells the condition in a query (``email_unique = 1`` on
            # SQLite), which SQLite must see to use a partial index.
            sqlite_where=text("email_unique = 1"),
            postgresql_where=text("email_unique"),
        ),
        Index("ix_users_tenant_email_key", "tenant_id", "email_key"),
        Index("ix_users_tenant_external_id", "tenant_id", "external_id"),
        Index("ix_users_tenant_created_at", "tenant_id", "created_at"),
        Index("ix_users_tenant_last_login_at", "tenant_id", "last_login_at"),
        # Idle sweeps (repositories.idle_sweeps): the active users of a tenant signed in before
        # a time, and those never signed in created before it, are both ranges of this index.
        Index(
            "ix_users_tenant_status_last_login_created",
            "tenant_id",
            "status",
            "last_login_at",
            "created_at",
        ),
        Index("ix_users_role_id", "role_id"),
        Index("ix_users_team_id", "team_id"),
        Index("ix_users_manager_id", "manager_id"),
        Index("uq_users_tenant_identity_key", "tenant_id", "identity_key", unique=True),
        Index("ix_users_tenant_phone_e164", "tenant_id", "phone_e164"),
        # The scheduler's due work (repositories.users.due_for_activation, due_for_expiry):
        # a range of one status each, over the users that have a date at all.
        Index(
            "ix_users_status_valid_from",
            "status",
            "valid_from",
            sqlite_where=text("valid_from IS NOT NULL"),
            postgresql_where=text("valid_from IS NOT NULL"),
        ),
        Index(
            "ix_users_status_expires_at",
            "status",
            "expires_at",
            sqlite_where=text("expires_at IS NOT NULL"),
            postgresql_where=text("expires_at IS NOT NULL"),
        ),
    )

    @property
    def full_name(self) -> str | None:
        return full_name(self.first_name, self.last_name)


# Name order (users._order's sortBy=name, group members): by folded last then first name,
# people without one last, then id; the same on both databases.
SORT_NAME = (
    User.last_name_key.is_(None),
    User.last_name_key,
    User.first_name_key.is_(None),
    User.first_name_key,
    User.id,
)
# That order, ascending, with and without a status filter: a page is read off the index
# instead of sorted.
Index("ix_users_tenant_status_sort_name", User.tenant_id, User.status, *SORT_NAME)
Index("ix_users_tenant_sort_name", User.tenant_id, *SORT_NAME)
# Descending name order walks this one backwards (IS NOT NULL flags, so that every term of
# the order runs one way: repositories.users._sort_terms); last sign-in has one per direction.
Index(
    "ix_users_tenant_sort_name_desc",
    User.tenant_id,
    User.last_name_key.is_not(None),
    User.last_name_key,
    User.first_name_key.is_not(None),
    User.first_name_key,
    User.id,
)
Index(
    "ix_users_tenant_sort_login",
    User.tenant_id,
    User.last_login_at.is_(None),
    User.last_login_at,
    User.id,
)
Index(
    "ix_users_tenant_sort_login_desc",
    User.tenant_id,
    User.last_login_at.is_not(None),
    User.last_login_at,
    User.id,
)
