"""The background scheduler (APScheduler 3.11): outbox retries.

No job edits requests: whether a request is past C11's 2 weeks is drawn from the
clock when its card is drawn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from bot.safe_log import log_failure
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
    except Exception as e:
        log_failure(log, f"job {job.__name__} failed", e)
        return 0


def drain_outbox(app: App) -> int:
    """The retry job: APScheduler would log a failure with its message (which can quote a row); we log IDs only."""
    try:
        return app.deliverer.drain()
    except Exception as e:
        log_failure(log, "outbox retry failed", e)
        return 0


def build_scheduler(app: App) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone=LONDON)
    # Retries: the deliverer sends only rows that are due (bot.deliver.retry_delay: 30 s doubling,
    # at most an hour, never given up); a run with nothing due sends nothing. `worktray outbox` shows them.
    scheduler.add_job(
        drain_outbox, IntervalTrigger(minutes=1), args=(app,), id="outbox-retry", coalesce=True, max_instances=1
    )
    return scheduler
