"""C10: the End Purchased Service request, a request kind of its own.

A closure does not end a care package directly [001]: when business support
choose one at the closure audit, an End Purchased Service request is raised for
the person, on behalf of the allocated worker (in the sources the worker
completes it from the closure step). It travels the shared mechanism of
``workflows.requests``: the team manager authorises it (approve) or returns it
with a note; the worker resubmits or withdraws a returned one. Authorising hands
it on ("send_on") in the same transaction: the care packages end as of the
requested date and the card goes to the configured purchasing channel
(``purchasing_channel`` in the organisation config, per team or top-level), which
says what to end and from when. It is then finished in worktray.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from store.models import Case, RecordItem, Request
from store.uow import UnitOfWork
from workflows.errors import FieldErrors, WorkflowError
from workflows.org import Organisation
from workflows.requests import (
    OPEN_STATES,
    QUEUE_ACTIONS,
    Context,
    RequestKind,
    load,
    open_request,
    precheck,
    register_kind,
    transition,
)

KIND = "end_purchase"  # requests.kind holds 16 characters
LABEL = "End Purchased Service request"


def open_request_for(uow: UnitOfWork, person_id: str) -> Request | None:
    """A person has at most one open End Purchased Service request (the database's unique index)."""
    return next((r for r in uow.requests.for_person(person_id) if r.kind == KIND and r.state in OPEN_STATES), None)


def refuse_if_open(uow: UnitOfWork, person_ids: Sequence[str]) -> None:
    """Checked before the closure writes anything, so a refusal changes nothing."""
    for person_id in person_ids:
        existing = open_request_for(uow, person_id)
        if existing is not None:
            raise FieldErrors(
                {"end_items": f"{person_id} already has an open {LABEL} ({existing.id}): finish or withdraw it first."}
            )


def end_date_of(request: Request) -> dt.date:
    return dt.date.fromisoformat(str(request.details["end_date"]))


def item_ids(request: Request) -> list[int]:
    return [int(i["id"]) for i in request.details.get("items", [])]


def _case_in_team(uow: UnitOfWork, person_id: str, team: str, fallback: Case) -> Case:
    cases = [c for c in uow.cases.cases_of(person_id) if c.team == team]
    return cases[-1] if cases else fallback


def raise_request(
    uow: UnitOfWork,
    ctx: Context,
    closure_request: Request,
    person_id: str,
    items: Sequence[RecordItem],
    end_date: dt.date,
    actor: str,
    *,
    source: str | None = None,
) -> Request:
    """Raise one request for a person's chosen care packages (inside the closure's transaction)."""
    case = _case_in_team(uow, person_id, closure_request.team, closure_request.case)
    details = {
        "closure_request": closure_request.id,
        "end_date": end_date.isoformat(),
        "items": [{"id": i.id, "description": i.description, "from_date": i.from_date.isoformat()} for i in items],
        "applies_to": [person_id],
    }
    # Raised on the allocated worker's behalf; the event names who chose it. A request raised for the
    # same person at the same moment refuses the whole closure (the caller's transaction).
    return open_request(
        uow, ctx, END_PURCHASE, case, actor, details,
        person_id=person_id,
        requested_by=case.worker,
        already_open=lambda: f"Someone was quicker: {person_id} already has an open {LABEL}. Nothing changed.",
        source=source,
        event_detail={"closure_request": closure_request.id, "items": [i.id for i in items], "end_date": end_date.isoformat()},
    )


def resubmit(uow: UnitOfWork, ctx: Context, request_id: int, actor: str, end_date: dt.date | None, *, source: str | None = None) -> str:
    """After a return: the worker (or a manager) resubmits, with the end date corrected if need be."""
    request = load(uow, request_id)
    precheck(ctx, request, "resubmit", actor, uow)
    if end_date is None:
        raise FieldErrors({"end_date": "Give the date the services end."})
    starts = [dt.date.fromisoformat(str(i["from_date"])) for i in request.details.get("items", [])]
    if starts and end_date < max(starts):
        raise FieldErrors({"end_date": f"The end date cannot be before a service started ({max(starts):%d/%m/%Y})."})

    def _apply(r: Request) -> None:
        r.details = {**r.details, "end_date": end_date.isoformat()}

    transition(uow, ctx, request, "resubmit", actor, source=source, detail={"end_date": end_date.isoformat()}, apply=_apply)
    uow.commit()
    return f"Resubmitted {LABEL} {request.id} to the manager."


# -- the kind's hooks -----------------------------------------------------------------------


def _onward_channel(org: Organisation, request: Request) -> str | None:
    return org.purchasing_channel_of(request.team)


def _check_approve(uow: UnitOfWork, ctx: Context, request: Request, actor: str) -> None:
    """Authorising sends the request on: refuse (writing nothing) if there is nowhere to send it."""
    if ctx.org.purchasing_channel_of(request.team) is None:
        raise WorkflowError(
            f"No purchasing channel is configured for {ctx.org.team(request.team).name} "
            "(purchasing_channel in the organisation config); nothing changed."
        )


def _after_approve(uow: UnitOfWork, ctx: Context, request: Request, actor: str) -> None:
    """Authorised: the care packages end as of the requested date and the card goes to purchasing."""
    end_date = end_date_of(request)
    ended: list[int] = []

    def _apply(r: Request) -> None:
        for item_id in item_ids(r):
            item = uow.session.get(RecordItem, item_id)
            if item is not None and item.to_date is None:  # still open: nobody ended it meanwhile
                item.to_date, item.end_reason = end_date, f"{LABEL} {r.id}"
                ended.append(item_id)
        r.details = {**r.details, "ended": {"record_items": ended}}

    channel = ctx.org.purchasing_channel_of(request.team)
    transition(uow, ctx, request, "send_on", actor, detail={"ended_record_items": ended, "channel": channel}, apply=_apply)


def _approved_text(ctx: Context, request: Request) -> str:
    return f"Authorised. {LABEL} {request.id} has gone to the purchasing team."


END_PURCHASE = register_kind(
    RequestKind(
        name=KIND,
        label=LABEL,
        check_approve=_check_approve,
        after_approve=_after_approve,
        queued=False,
        onward_channel=_onward_channel,
        approved_text=_approved_text,
        actions=QUEUE_ACTIONS | {"send_on"},  # approval hands it on to the purchasing team (C10)
    )
)
