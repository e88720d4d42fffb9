"""``client.lifecycle``: idle sweeps at /integration/v2/lifecycle/idle-sweeps (planning and
applying take ``lifecycle:write``; offboarding one user is ``client.users.offboard``)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Literal

from rosterd.client._call import V2, Call, Paged, by_cursor, items_of, model
from rosterd.client._transport import AsyncTransport, Transport
from rosterd.client.models import IdleSweep, PlannedUser

PATH = f"{V2}/lifecycle/idle-sweeps"

NeverSignedIn = Literal["byCreationDate", "include", "exclude"]
Action = Literal["deactivate", "offboard"]


def _plan(
    inactive_days: int, never_signed_in: NeverSignedIn, action: Action, dry_run: bool
) -> Call[IdleSweep]:
    sent = {
        "inactiveDays": inactive_days,
        "neverSignedIn": never_signed_in,
        "action": action,
        "dryRun": dry_run,
    }
    return Call("POST", PATH, model(IdleSweep), json=sent)


def _apply(sweep_id: str, confirm: bool) -> Call[IdleSweep]:
    return Call("POST", f"{PATH}/{sweep_id}/apply", model(IdleSweep), json={"confirm": confirm})


def _users(sweep_id: str, page_size: int) -> Paged[PlannedUser]:
    return Paged(f"{PATH}/{sweep_id}/users", {"limit": page_size}, items_of(PlannedUser), by_cursor)


class IdleSweeps:
    """``client.lifecycle.idle_sweeps``: plan a sweep of idle users, look at it, apply it."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def plan(
        self,
        *,
        inactive_days: int,
        never_signed_in: NeverSignedIn = "byCreationDate",
        action: Action = "deactivate",
        dry_run: bool = True,
    ) -> IdleSweep:
        """Plan a sweep of active users with no sign-in for ``inactive_days``; with
        ``dry_run=False`` it is applied at once unless the tenant's guard holds it.

        Example::

            plan = client.lifecycle.idle_sweeps.plan(inactive_days=90)
            print(plan.user_count, plan.state)
        """
        return self._t.run(_plan(inactive_days, never_signed_in, action, dry_run))

    def get(self, sweep_id: str) -> IdleSweep:
        """Example: ``sweep = client.lifecycle.idle_sweeps.get(plan.id)``"""
        return self._t.run(Call("GET", f"{PATH}/{sweep_id}", model(IdleSweep)))

    def users(self, sweep_id: str, *, page_size: int = 100) -> Iterator[PlannedUser]:
        """The planned users with why each matched (and, once applied, the outcome).

        Example::

            for planned in client.lifecycle.idle_sweeps.users(plan.id):
                print(planned.email, planned.reason)
        """
        return self._t.pages(_users(sweep_id, page_size))

    def apply(self, sweep_id: str, *, confirm: bool = False) -> IdleSweep:
        """Apply the plan; a held plan needs ``confirm=True`` from an ``admin`` client
        (``Conflict`` otherwise). Applying twice does nothing more.

        Example::

            done = client.lifecycle.idle_sweeps.apply(plan.id)
            print(done.result)  # {"deactivated": 12, "skipped:signed_in": 1}
        """
        return self._t.run(_apply(sweep_id, confirm))


class Lifecycle:
    """``client.lifecycle``."""

    def __init__(self, transport: Transport) -> None:
        self.idle_sweeps = IdleSweeps(transport)


class AsyncIdleSweeps:
    """``client.lifecycle.idle_sweeps`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self._t = transport

    async def plan(
        self,
        *,
        inactive_days: int,
        never_signed_in: NeverSignedIn = "byCreationDate",
        action: Action = "deactivate",
        dry_run: bool = True,
    ) -> IdleSweep:
        """Example: ``plan = await client.lifecycle.idle_sweeps.plan(inactive_days=90)``"""
        return await self._t.run(_plan(inactive_days, never_signed_in, action, dry_run))

    async def get(self, sweep_id: str) -> IdleSweep:
        """Example: ``sweep = await client.lifecycle.idle_sweeps.get(plan.id)``"""
        return await self._t.run(Call("GET", f"{PATH}/{sweep_id}", model(IdleSweep)))

    def users(self, sweep_id: str, *, page_size: int = 100) -> AsyncIterator[PlannedUser]:
        """Example: ``async for p in client.lifecycle.idle_sweeps.users(plan.id): ...``"""
        return self._t.pages(_users(sweep_id, page_size))

    async def apply(self, sweep_id: str, *, confirm: bool = False) -> IdleSweep:
        """Example: ``done = await client.lifecycle.idle_sweeps.apply(plan.id)``"""
        return await self._t.run(_apply(sweep_id, confirm))


class AsyncLifecycle:
    """``client.lifecycle`` of an ``AsyncClient``."""

    def __init__(self, transport: AsyncTransport) -> None:
        self.idle_sweeps = AsyncIdleSweeps(transport)
