"""SQLAlchemy tables. Importing this package registers every table on ``Base.metadata``."""

from rosterd.models.audit import AuditEvent
from rosterd.models.base import Base
from rosterd.models.console import ConsoleSession
from rosterd.models.credential import (
    AdminUser,
    ApiKey,
    OAuthClient,
    OAuthGrant,
    OAuthRefreshToken,
    ScimToken,
    SigningKey,
)
from rosterd.models.deferred_index import DeferredIndex
from rosterd.models.group import Group, GroupMembership
from rosterd.models.idempotency import IdempotencyKey, KeyState
from rosterd.models.identity import ExternalIdentity
from rosterd.models.import_journal import ImportBatch
from rosterd.models.role import Role
from rosterd.models.sweep import IdleSweep, IdleSweepUser
from rosterd.models.tally import UserTally
from rosterd.models.team import Team
from rosterd.models.tenant import Tenant
from rosterd.models.user import User, UserStatus
from rosterd.models.webhook import Webhook, WebhookDelivery

__all__ = [
    "AdminUser",
    "ApiKey",
    "AuditEvent",
    "Base",
    "ConsoleSession",
    "DeferredIndex",
    "ExternalIdentity",
    "Group",
    "GroupMembership",
    "IdempotencyKey",
    "IdleSweep",
    "IdleSweepUser",
    "ImportBatch",
    "KeyState",
    "OAuthClient",
    "OAuthGrant",
    "OAuthRefreshToken",
    "Role",
    "ScimToken",
    "SigningKey",
    "Team",
    "Tenant",
    "User",
    "UserStatus",
    "UserTally",
    "Webhook",
    "WebhookDelivery",
]
