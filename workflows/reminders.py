"""Jobs the scheduler runs; each is a plain function of a unit of work and a context.

Tests call these bodies directly with a FixedClock; the APScheduler wiring
lives in ``worktray.scheduler``.
"""

from __future__ import annotations

from store.uow import UnitOfWork
from workflows.requests import CLOSED, OPEN_STATES, WITHDRAW_WINDOW, Context, announce


def close_withdraw_windows(uow: UnitOfWork, ctx: Context) -> int:
    """C11: when a request's 2-week window ends, re-show its cards without Withdraw.

    The store already refuses a late withdrawal; this only keeps the cards
    honest. Returns how many requests were refreshed.
    """
    cutoff = ctx.clock.now() - WITHDRAW_WINDOW
    refreshed = 0
    for request in uow.requests.open_requested_before(cutoff, (*OPEN_STATES, CLOSED)):
        if request.details.get("withdraw_window_closed"):
            continue
        request.details = {**request.details, "withdraw_window_closed": True}
        announce(uow, ctx, request)
        refreshed += 1
    uow.requests.save()
    uow.commit()
    return refreshed
