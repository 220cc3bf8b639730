"""C11: "past 2 weeks" is drawn from the clock when a card is drawn; no job edits requests.
The scheduler wiring is checked by its job bodies and triggers, never a running scheduler."""

from __future__ import annotations

import datetime as dt

from apscheduler.triggers.interval import IntervalTrigger

from bot.views import request_card
from workflows import closure
from workflows.requests import WITHDRAW_WINDOW


def _request(seeded, ctx) -> int:
    form = closure.ClosureForm(reason="RC8", closure_date=dt.date(2026, 11, 20), summary="Goals met")
    with seeded() as uow:
        return closure.request_closure(uow, ctx, "amy", "3549723", form).id


def _facts(card) -> dict[str, str]:
    return {f.label: f.value for f in card.facts}


def test_the_card_says_late_after_two_weeks_and_keeps_withdraw(seeded, ctx, clock, db_fingerprint):
    request_id = _request(seeded, ctx)
    with seeded() as uow:
        card = request_card(uow, ctx, uow.requests.get(request_id), "manager", 1)
    assert "Withdraw" in [b.label for b in card.buttons] and "Late" not in _facts(card)

    clock.advance(seconds=WITHDRAW_WINDOW.total_seconds() + 60)
    before = db_fingerprint()
    with seeded() as uow:
        card = request_card(uow, ctx, uow.requests.get(request_id), "manager", 1)
    assert db_fingerprint() == before  # drawing the card wrote nothing
    assert "past the 2 weeks of C11" in _facts(card)["Late"]
    [withdraw] = [b for b in card.buttons if b.label == "Withdraw"]  # C11: still withdrawable
    assert "marked late" in (withdraw.confirm or "")


def test_scheduler_has_no_job_that_edits_requests(seeded, ctx):
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
    assert "close-withdraw-windows" not in jobs
    assert isinstance(jobs["outbox-retry"].trigger, IntervalTrigger)
    assert jobs["outbox-retry"].trigger.interval == dt.timedelta(minutes=1)

    def broken(uow, ctx):
        raise RuntimeError("boom")

    assert run_job(seeded, ctx, broken) == 0  # logged, not raised
