"""C11 card refresh job and the scheduler wiring (job bodies and triggers, never a running scheduler)."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import func, select

from bot.views import request_card
from store.models import OutboxMessage
from workflows import closure
from workflows.reminders import close_withdraw_windows
from workflows.requests import WITHDRAW_WINDOW


def _request(seeded, ctx) -> int:
    form = closure.ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 20), summary="Goals met")
    with seeded() as uow:
        return closure.request_closure(uow, ctx, "amy", "3549723", form).id


def _outbox_count(seeded) -> int:
    with seeded() as uow:
        return uow.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_withdraw_button_goes_when_the_window_closes(seeded, ctx, clock):
    request_id = _request(seeded, ctx)
    with seeded() as uow:
        card = request_card(uow, ctx, uow.requests.get(request_id), "manager", 1)
        assert "Withdraw" in [b.label for b in card.buttons]

    with seeded() as uow:  # inside the window: nothing to refresh
        assert close_withdraw_windows(uow, ctx) == 0

    clock.advance(seconds=WITHDRAW_WINDOW.total_seconds() + 60)
    before = _outbox_count(seeded)
    with seeded() as uow:
        assert close_withdraw_windows(uow, ctx) == 1
    assert _outbox_count(seeded) == before + 1  # the manager card is re-shown
    with seeded() as uow:
        card = request_card(uow, ctx, uow.requests.get(request_id), "manager", 1)
        assert "Withdraw" not in [b.label for b in card.buttons]
        assert close_withdraw_windows(uow, ctx) == 0  # only once


def test_scheduler_jobs_and_triggers(seeded, ctx):
    from bot.actions import Interactions
    from bot.deliver import Deliverer
    from worktray.bootstrap import App
    from worktray.scheduler import build_scheduler, run_job

    class NullSender:
        def post(self, channel, card):
            return "1"

        def update(self, channel, ts, card):
            pass

        def direct(self, user, card):
            return "1"

    deliverer = Deliverer(seeded, ctx, NullSender())
    app = App(ctx=ctx, uow=seeded, interactions=Interactions(seeded, ctx), deliverer=deliverer)
    jobs = {job.id: job for job in build_scheduler(app).get_jobs()}
    assert set(jobs) == {"outbox-retry", "close-withdraw-windows"}
    assert isinstance(jobs["close-withdraw-windows"].trigger, IntervalTrigger)
    assert jobs["close-withdraw-windows"].trigger.interval == dt.timedelta(hours=1)
    assert jobs["outbox-retry"].trigger.interval == dt.timedelta(minutes=1)

    def broken(uow, ctx):
        raise RuntimeError("boom")

    assert run_job(seeded, ctx, broken) == 0  # logged, not raised
