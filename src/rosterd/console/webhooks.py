"""Webhooks, /admin/webhooks: the tenant's subscriptions to its event feed and, per webhook,
its delivery log (newest first, keyset-paged) with a retry of a failed delivery.

Built on rosterd.services.webhooks, the service behind /integration/v2/webhooks. The signing
secret is shown once, on the page the creating (or rotating) post answers with, like the
access page's secrets; no page shows it after. A URL's host is resolved (private receivers
refused, unless the server allows them) before the write's unit of work starts, on a worker
thread, as the API does.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Form, Path, Query, Request, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from rosterd.api.deps import ReadSession, RuntimeDep, SearchSession, in_unit_of_work
from rosterd.api.errors import status_for
from rosterd.console.pages import back_to, page, router, write_then_back
from rosterd.console.session import PREFIX, ConsoleAdmin, FormAdmin, SignedInAdmin
from rosterd.db.work import Kind
from rosterd.events import types as event_types
from rosterd.events import webhook_urls
from rosterd.models import Webhook
from rosterd.repositories.webhooks import STATUSES
from rosterd.runtime import Runtime
from rosterd.services import webhooks
from rosterd.services.errors import DomainError, NotFound

PATH = f"{PREFIX}/webhooks"
PAGE_SIZE = 50
ALL_TYPES = sorted(event_types.ALL_TYPES)
Url = Annotated[str, Form(max_length=webhook_urls.MAX_URL_LENGTH)]
Types = Annotated[Literal["all", "chosen"], Form()]
Chosen = Annotated[list[str] | None, Form(max_length=200)]
Cursor = Annotated[str | None, Query(max_length=64)]
DeliveryId = Annotated[int, Path(ge=1, lt=2**63)]


@dataclass(frozen=True)
class HookForm:
    """A webhook form as sent (shown back as it was when it is refused)."""

    url: str = ""
    types: str = "all"
    chosen: list[str] = field(default_factory=list)
    enabled: bool = True

    @property
    def event_types(self) -> list[str] | None:
        """None (every type) or the types ticked; the service refuses an empty choice."""
        return None if self.types == "all" else self.chosen


def _form_of(hook: Webhook) -> HookForm:
    return HookForm(
        url=hook.url,
        types="all" if hook.event_types is None else "chosen",
        chosen=list(hook.event_types or []),
        enabled=hook.enabled,
    )


async def _check_url(runtime: Runtime, url: str) -> None:
    allow = runtime.settings.webhook_allow_private_urls
    await run_in_threadpool(webhook_urls.check, url, allow_private=allow)


# ---- the list ------------------------------------------------------------------------------


def _list_page(
    request: Request,
    session: Session,
    admin: ConsoleAdmin,
    *,
    form: HookForm,
    status_code: int = 200,
    problem: str | None = None,
    created: webhooks.WithSecret | None = None,
) -> Response:
    return page(
        request,
        "webhooks.html",
        admin,
        status_code=status_code,
        hooks=webhooks.list_webhooks(session, admin.actor),
        most=webhooks.MAX_WEBHOOKS,
        form=form,
        all_types=ALL_TYPES,
        problem=problem,
        created=created,
    )


@router.get("/webhooks")
def webhooks_page(request: Request, admin: SignedInAdmin, session: ReadSession) -> Response:
    return _list_page(request, session, admin, form=HookForm())


@router.post("/webhooks")
async def create_webhook(
    request: Request,
    admin: FormAdmin,
    runtime: RuntimeDep,
    url: Url = "",
    types: Types = "all",
    event_type: Chosen = None,
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    form = HookForm(url.strip(), types, event_type or [], enabled)
    spec = webhooks.WebhookSpec(form.url, form.event_types, form.enabled, False)

    async def refused(exc: DomainError) -> Response:
        return await in_unit_of_work(
            runtime,
            Kind.POINT_READ,
            lambda s: _list_page(
                request, s, admin, form=form, status_code=status_for(exc), problem=str(exc)
            ),
        )

    try:
        await _check_url(runtime, form.url)
        made = await in_unit_of_work(
            runtime,
            Kind.WRITE,
            lambda s: webhooks.create(s, admin.actor, spec, runtime.keys.sealer),
        )
    except DomainError as exc:
        return await refused(exc)
    return await in_unit_of_work(
        runtime,
        Kind.POINT_READ,
        lambda s: _list_page(request, s, admin, form=HookForm(), status_code=201, created=made),
    )


# ---- one webhook ---------------------------------------------------------------------------


def _hook_page(
    request: Request,
    session: Session,
    admin: ConsoleAdmin,
    webhook_id: uuid.UUID,
    *,
    cursor: str | None = None,
    status: str = "",
    form: HookForm | None = None,
    status_code: int = 200,
    problem: str | None = None,
    new_secret: str | None = None,
) -> Response:
    hook = webhooks.get(session, admin.actor, webhook_id)
    log = webhooks.deliveries(
        session, admin.actor, webhook_id, status=status or None, cursor=cursor, limit=PAGE_SIZE
    )
    return page(
        request,
        "webhook.html",
        admin,
        status_code=status_code,
        hook=hook,
        form=form or _form_of(hook),
        all_types=ALL_TYPES,
        deliveries=log.deliveries,
        next_cursor=log.next_cursor,
        first_page=cursor is None,
        delivery_status=status,
        statuses=STATUSES,
        problem=problem,
        new_secret=new_secret,
    )


@router.get("/webhooks/{webhook_id}")
def webhook_page(
    request: Request,
    webhook_id: uuid.UUID,
    admin: SignedInAdmin,
    session: SearchSession,
    cursor: Cursor = None,
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    return _hook_page(request, session, admin, webhook_id, cursor=cursor, status=status)


def _hook_path(webhook_id: uuid.UUID) -> str:
    return f"{PATH}/{webhook_id}"


@router.post("/webhooks/{webhook_id}")
async def update_webhook(
    request: Request,
    webhook_id: uuid.UUID,
    admin: FormAdmin,
    runtime: RuntimeDep,
    url: Url = "",
    types: Types = "all",
    event_type: Chosen = None,
    enabled: Annotated[bool, Form()] = False,
) -> Response:
    form = HookForm(url.strip(), types, event_type or [], enabled)
    change = webhooks.WebhookChange(
        url=form.url, event_types=form.event_types, enabled=form.enabled
    )
    try:
        await _check_url(runtime, form.url)
        await in_unit_of_work(
            runtime, Kind.WRITE, lambda s: webhooks.update(s, admin.actor, webhook_id, change)
        )
    except NotFound:
        raise
    except DomainError as exc:
        refused = exc
        return await in_unit_of_work(
            runtime,
            Kind.SLOW_READ,
            lambda s: _hook_page(
                request,
                s,
                admin,
                webhook_id,
                form=form,
                status_code=status_for(refused),
                problem=str(refused),
            ),
        )
    return back_to(_hook_path(webhook_id), notice="Webhook saved.")


@router.post("/webhooks/{webhook_id}/delete")
async def delete_webhook(webhook_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep) -> Response:
    await in_unit_of_work(
        runtime, Kind.WRITE, lambda s: webhooks.delete(s, admin.actor, webhook_id)
    )
    return back_to(PATH, notice="Webhook deleted.")


@router.post("/webhooks/{webhook_id}/rotate")
async def rotate_secret(
    request: Request, webhook_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep
) -> Response:
    made = await in_unit_of_work(
        runtime,
        Kind.WRITE,
        lambda s: webhooks.rotate_secret(s, admin.actor, webhook_id, runtime.keys.sealer),
    )
    return await in_unit_of_work(
        runtime,
        Kind.SLOW_READ,
        lambda s: _hook_page(request, s, admin, webhook_id, new_secret=made.secret),
    )


@router.post("/webhooks/{webhook_id}/test")
async def send_test(webhook_id: uuid.UUID, admin: FormAdmin, runtime: RuntimeDep) -> Response:
    return await write_then_back(
        runtime,
        _hook_path(webhook_id),
        lambda s: webhooks.send_test(s, admin.actor, webhook_id),
        "Test event queued: it appears in the delivery log below.",
    )


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/retry")
async def retry_delivery(
    webhook_id: uuid.UUID, delivery_id: DeliveryId, admin: FormAdmin, runtime: RuntimeDep
) -> Response:
    return await write_then_back(
        runtime,
        _hook_path(webhook_id),
        lambda s: webhooks.retry(s, admin.actor, webhook_id, delivery_id),
        f"Delivery {delivery_id} is due again now.",
    )
