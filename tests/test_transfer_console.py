"""The transfer journey (T1-T7, C13) replayed through the console adapter from the demo script
worktray/demo/transfer_journey.txt: the same Interactions as Slack, drawn as text."""

from __future__ import annotations

import datetime as dt
import io
import re
from functools import partial
from pathlib import Path

from sqlalchemy import select
from test_console import outside_ephemeral

from store.models import Event, Request
from store.uow import UnitOfWork
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray.console_main import serve_console
from worktray.settings import Settings

TRANSFER_JOURNEY = Path(__file__).resolve().parents[1] / "worktray" / "demo" / "transfer_journey.txt"
TODAY = dt.date(2026, 11, 26)


def test_the_transfer_journey_script_replays_in_the_console(
    db_url: str, org: Organisation, clock: FixedClock, uow_factory: partial[UnitOfWork]
) -> None:
    out = io.StringIO()
    code = serve_console(Settings(database_url=db_url), org, script=TRANSFER_JOURNEY, clock=clock, out=out)
    transcript = out.getvalue()
    assert code == 0, transcript  # every line ran and every pressed label was shown
    assert "Not before 20 weeks' gestation" in transcript  # T1 refused on the field
    assert "worker: Choose one of: femi, lena." in transcript  # only 12+'s workers are offered; amy refused on the field
    assert "Transfer 1 to 12+ · 3549750 (JC)" in transcript
    assert "Audit at transfer 2 (C13)" in transcript.replace(" · 3549750 (JC) · 12+", "")
    shown = transcript[transcript.rindex("nadia> show 1"):]  # both managers' cards come back, the receiving one too
    assert "Transfer 1 · 3549750 (JC) · Under 12s → 12+" in shown and "Transfer 1 to 12+ · 3549750 (JC)" in shown
    for private in ("Jay", "Corrin"):  # only Nadia's /case status (ephemeral, a manager of the team) names him
        assert not re.search(rf"\b{private}\b", outside_ephemeral(transcript)), private
    with uow_factory() as uow:
        requests = [(r.kind, r.state) for r in uow.session.scalars(select(Request).order_by(Request.id))]
        actions = list(uow.session.scalars(select(Event.action).where(Event.request_id == 1).order_by(Event.id)))
        case = uow.cases.open_case("3549750")
        assert case is not None and (case.team, case.worker, case.opened_on) == ("12plus", "femi", TODAY)
    assert requests == [("transfer", "transferred"), ("transfer_audit", "closed")]
    assert actions == ["request", "mark_ready", "approve", "dispute", "escalate", "decide_transfer", "accept", "complete_transfer"]
