"""The background scheduler (APScheduler 3.11): outbox retries.

No job edits requests: whether a request is past C11's 2 weeks is drawn from the
clock when its card is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from store.uow import UnitOfWork
from workflows.clock import LONDON
from workflows.requests import Context
from worktray.bootstrap import App

log = logging.getLogger(__name__)


def run_job(uow_factory: Callable[[], UnitOfWork], ctx: Context, job: Callable[[UnitOfWork, Context], int]) -> int:
    """Run one job in its own unit of work; a failure is logged, never raised into the scheduler."""
    try:
        with uow_factory() as uow:
            return job(uow, ctx)
    except Exception:
        log.exception("job %s failed", job.__name__)
        return 0


def build_scheduler(app: App) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=LONDON)
    # Retries: the deliverer sends only rows that are due (bot.deliver.retry_delay: 30 s doubling,
    # at most an hour, never given up); a run with nothing due sends nothing. `worktray outbox` shows them.
    scheduler.add_job(
        app.deliverer.drain, IntervalTrigger(minutes=1), id="outbox-retry", coalesce=True, max_instances=1
    )
    return scheduler
