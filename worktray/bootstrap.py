"""One place that wires the store, the core and a chat adapter together."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial

from bot.actions import Interactions
from bot.deliver import ChatSender, Deliverer
from store.db import make_engine, make_session_factory
from store.migrate import upgrade
from store.uow import UnitOfWork
from workflows import closure
from workflows.clock import Clock, SystemClock
from workflows.org import Organisation
from workflows.requests import Context

log = logging.getLogger(__name__)


@dataclass
class App:
    ctx: Context
    uow: partial[UnitOfWork]
    interactions: Interactions
    deliverer: Deliverer


def build(
    database_url: str, org: Organisation, sender: ChatSender, clock: Clock | None = None, migrate: bool = True, pool_size: int | None = None
) -> App:
    """Create the database schema if needed and wire everything (``pool_size``: see ``make_engine``)."""
    if migrate:
        upgrade(database_url)
    engine = make_engine(database_url, pool_size=pool_size)
    uow = partial(UnitOfWork, make_session_factory(engine))
    ctx = Context(org=org, clock=clock or SystemClock())
    deliverer = Deliverer(uow, ctx, sender)
    interactions = Interactions(uow, ctx, on_commit=deliverer.kick)
    return App(ctx=ctx, uow=uow, interactions=interactions, deliverer=deliverer)


def warn_about_config(app: App) -> list[str]:
    """Tell the operator at start-up what the organisation config leaves undecided (logged at
    WARNING; worktray still starts): open cases whose type has no retention rule (C6.4)."""
    with app.uow() as uow:
        missing = closure.case_types_without_retention(uow, app.ctx.org)
    if missing:
        log.warning(
            "the organisation config has no retention rule for case types %s of open cases: their closures will be "
            "refused until the council's retention schedule (retention:) covers them",
            ", ".join(missing),
        )
    return missing
