"""The migrated schema works on both back ends: records round-trip with aware datetimes."""

from __future__ import annotations

import datetime as dt

from store.models import Event
from workflows.clock import LONDON


def test_event_times_come_back_aware_and_equal(seeded):
    at = dt.datetime(2026, 6, 1, 9, 30, tzinfo=LONDON)  # British Summer Time, +01:00
    with seeded() as uow:
        uow.record(at=at, actor="amy", action="test", person_id="3549723")
        uow.commit()
    with seeded() as uow:
        event = uow.session.query(Event).one()
        assert event.at == at
        assert event.at.tzinfo is not None
        assert uow.cases.person("3549723").initials == "LM"
