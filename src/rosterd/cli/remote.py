"""The SDK client the remote commands use, made from the chosen login profile.

The profile is the one ``--profile`` (anywhere on the command line) or ROSTERD_PROFILE names,
else ``default``; ROSTERD_CLIENT_SECRET, when set, is used instead of the stored secret.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from rosterd.cli import profiles
from rosterd.cli.output import ExitCode, fail, failure, reporting
from rosterd.client import Client, Group, NotFound, User

_chosen: ContextVar[str | None] = ContextVar("profile", default=None)

PROFILE_HELP = (
    "The login profile to use (see `rosterd profiles list`); else ROSTERD_PROFILE, else "
    "'default'. May also follow the command."
)


def choose(name: str | None) -> None:
    """Make ``name`` the profile of this invocation."""
    _chosen.set(name)


def profile_name() -> str:
    return _chosen.get() or profiles.DEFAULT_PROFILE


def client_secret(profile: profiles.Profile) -> str:
    secret = os.environ.get(profiles.SECRET_ENV) or profiles.stored_secret(profile.name)
    if not secret:
        fail(
            f"profile {profile.name!r} has no stored secret: set {profiles.SECRET_ENV} "
            "or run `rosterd login` again",
            ExitCode.AUTH,
        )
    return secret


def make_client(server: str, tenant: str, client_id: str, client_secret: str) -> Client:
    """The SDK client of every remote command (tests put an ``httpx.MockTransport`` under
    it by replacing this)."""
    return Client(server, tenant, client_id=client_id, client_secret=client_secret)


def browser_client(profile: profiles.Profile) -> Client:
    """The SDK client of a ``login --browser`` profile: tokens from its refresh token, each
    rotated one kept in the profile's private file as soon as it arrives."""
    refresh_token = profiles.stored_secret(profile.name)
    if not refresh_token:
        fail(
            f"profile {profile.name!r} has no refresh token: run `rosterd login --browser` again",
            ExitCode.AUTH,
        )

    def keep(rotated: str) -> None:
        profiles.store_secret(profile.name, rotated)

    return Client(
        profile.server,
        profile.tenant,
        client_id=profile.client_id,
        refresh_token=refresh_token,
        on_refresh_token=keep,
    )


@contextmanager
def connect() -> Iterator[Client]:
    """A client for the chosen profile, closed after the block; SDK errors in the block end
    the command with their exit code (``output.reporting``)."""
    try:
        profile = profiles.load(profile_name())
    except profiles.ProfileError as exc:
        fail(str(exc), ExitCode.AUTH)
    if profile.auth == profiles.BROWSER:
        client = browser_client(profile)
    else:
        client = make_client(
            profile.server, profile.tenant, profile.client_id, client_secret(profile)
        )
    with client, reporting():
        yield client


def _is_id(ref: str) -> bool:
    try:
        uuid.UUID(ref)
    except ValueError:
        return False
    return True


def find_user(client: Client, ref: str) -> User:
    """The user ``ref`` names: an id, an email address or a username."""
    if _is_id(ref):
        return client.users.get(ref)
    found = (
        client.users.list(email=ref, page_size=1)
        if "@" in ref
        else client.users.list(username=ref, page_size=1)
    )
    for user in found:
        return client.users.get(user.id)
    raise failure(f"no user {ref!r}", ExitCode.NOT_FOUND)


def find_group(client: Client, ref: str) -> Group:
    """The group ``ref`` names: an id or its name (case-insensitive)."""
    if _is_id(ref):
        try:
            return client.groups.get(ref)
        except NotFound:
            pass  # a group may be named like an id
    wanted = ref.casefold()
    for group in client.groups.list(query=ref):
        if group.name.casefold() == wanted:
            return client.groups.get(group.id)
    raise failure(f"no group {ref!r}", ExitCode.NOT_FOUND)
