"""The audit trail of admins' sign-ins: who signed in, from where, who was refused, who
signed out (``admin.signed_in``, ``admin.sign_in_failed``, ``admin.signed_out``).

Rows name a known admin only. An attempt for a username nobody has records nothing: it
would echo whatever a stranger typed into the tenant's trail. Attempts refused by the login
throttle (rosterd.auth.login_guard) record nothing either, and a refusal is recorded only
after a password was actually checked: so the rows a login flood can write are bounded by
the throttles (per username and address, and per address), never one per attempt. The
password is never part of a row. A console session that ends by a timeout is recorded as
signed out, with the timeout as its reason, when it is next presented (nothing watches the
clock for it).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy.orm import Session

from rosterd.services import audit
from rosterd.services.context import Actor

RESOURCE = "admin"


class Refusal(StrEnum):
    """Why a known admin's sign-in was refused."""

    wrong_password = "wrong_password"  # noqa: S105 (a reason, not a secret)
    # A wrong password that used up a throttle of the account for this address: further
    # attempts from it are refused unchecked (and unrecorded) until the window frees.
    locked = "locked"
    # The password was right, but the admin was deleted or given another password while it
    # was being checked.
    password_changed = "password_changed"  # noqa: S105


@dataclass(frozen=True)
class SignIn:
    """Who tried to sign in, through which surface and from which client address (the peer,
    or X-Forwarded-For from ROSTERD_TRUSTED_PROXIES)."""

    admin_id: uuid.UUID
    tenant_id: uuid.UUID
    username: str
    surface: str
    client_address: str | None
    request_id: str | None

    def actor(self) -> Actor:
        return Actor(
            tenant_id=self.tenant_id,
            actor=f"admin:{self.username}",
            surface=self.surface,
            request_id=self.request_id,
        )

    def after(self, **more: str) -> dict[str, str | None]:
        return {"username": self.username, "client_address": self.client_address, **more}


def signed_in(session: Session, who: SignIn) -> None:
    """Record a sign-in, in the transaction that records the login itself."""
    audit.record(
        session,
        who.actor(),
        "admin.signed_in",
        RESOURCE,
        who.admin_id,
        after=who.after(),
    )


def refused(session: Session, who: SignIn, reason: Refusal) -> None:
    """Record a refused sign-in of a known admin (a short transaction of its own: the
    refusal itself writes nothing else)."""
    audit.record(
        session,
        who.actor(),
        "admin.sign_in_failed",
        RESOURCE,
        who.admin_id,
        after=who.after(reason=reason.value),
    )


def signed_out(session: Session, who: SignIn, *, reason: str = "signed_out") -> None:
    """Record the end of a session, in the transaction that ends it: by sign-out, or by a
    timeout (``reason``, rosterd.services.console_sessions), found by the request the
    timed-out session came back with (whose address is recorded)."""
    audit.record(
        session,
        who.actor(),
        "admin.signed_out",
        RESOURCE,
        who.admin_id,
        after=who.after(reason=reason),
    )
