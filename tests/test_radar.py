"""The two-week radar (T2), the Transfer Meeting agenda (T3) and their exactly-once schedule.

Transfers are made here as rows shaped as ``workflows.transfer_terms`` describes
(the transfer journey's own code is not used), on the seeded demo store, on SQLite
and PostgreSQL. Dates are frozen: Friday 18 December 2026 is the radar's day, and
its window holds Christmas Day and Boxing Day (observed Monday 28 December), the
bank holidays of England that working days leave out (D4).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select

from bot.actions import Interactions
from bot.deliver import Posted
from bot.views import agenda_card, radar_card
from commands import radar as radar_command
from store.models import Case, Event, JobRun, OutboxMessage, Person, Request
from store.uow import UnitOfWork
from workflows import radar
from workflows import transfer_terms as terms
from workflows.clock import ENGLAND, LONDON, FixedClock, add_months
from workflows.org import Organisation
from workflows.requests import Context
from worktray import scheduler
from worktray.bootstrap import App, build

RADAR_DAY = dt.date(2026, 12, 18)  # a Friday
FRIDAY_NOON = dt.datetime(2026, 12, 18, 12, 0, tzinfo=LONDON)
MONDAY_9 = dt.datetime(2026, 12, 21, 9, 0, tzinfo=LONDON)


def standards(outstanding: int = 0) -> dict[str, dict[str, str]]:
    """T4: every standard done, but the last ``outstanding`` ones; one not applicable (with why)."""
    keys = list(terms.STANDARDS)
    given = {key: {"status": "done", "why": ""} for key in keys}
    given[keys[0]] = {"status": "na", "why": "not a child in care"}
    for key in keys[len(keys) - outstanding :]:
        given[key] = {"status": "outstanding", "why": ""}
    return given


def add_child(uow: UnitOfWork, person_id: str, born: dt.date, team: str = "u12", first: str = "Tam", last: str = "Quill") -> Case:
    uow.session.add(Person(id=person_id, first_name=first, last_name=last, date_of_birth=born))
    case = Case(person_id=person_id, team=team, worker="amy", case_type="CIN", opened_on=dt.date(2024, 1, 1))
    uow.session.add(case)
    uow.session.flush()
    return case


def add_transfer(
    uow_factory: Callable[[], UnitOfWork],
    person_id: str,
    *,
    state: str = terms.POTENTIAL,
    point: str = "court_hearing",
    planned: dt.date | None = dt.date(2026, 12, 29),
    outstanding: int = 0,
    team: str = "u12",
    to: str = "12plus",
) -> int:
    """A transfer request as a row, the way the transfer journey leaves one (transfer_terms)."""
    with uow_factory() as uow:
        case = uow.cases.open_case(person_id)
        assert case is not None
        request = Request(
            kind=terms.KIND, state=state, case_id=case.id, person_id=person_id, team=team, receiving_team=to,
            requested_by="amy", requested_at=dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC),
            details={"point_of_transfer": point, "planned_date": planned.isoformat() if planned else None,
                     "reason": "Typed reason, never on a channel", "standards": standards(outstanding)},
        )
        uow.requests.add(request)
        uow.commit()
        return request.id


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(FRIDAY_NOON.astimezone(dt.UTC))


@pytest.fixture
def coming(seeded: partial[UnitOfWork]) -> dict[str, int]:
    """Transfers to 12+ in and out of the window, and children around 11 years 6 months."""
    with seeded() as uow:
        add_child(uow, "3700001", dt.date(2015, 6, 24))  # 11y6m on Thu 24/12/2026: in the window
        add_child(uow, "3700002", dt.date(2015, 7, 5))  # 11y6m on 05/01/2027: after it
        add_child(uow, "3700003", dt.date(2015, 6, 20), team="adults-south")  # in a team that feeds nobody
        for pid in ("3700010", "3700011", "3700012", "3700013", "3700014", "3700015"):
            add_child(uow, pid, dt.date(2012, 1, 1))
        uow.commit()
    return {
        "court": add_transfer(seeded, "3700010", outstanding=2),  # Tue 29/12: 11 days, 5 working (D4)
        "lac": add_transfer(seeded, "3700011", state=terms.DISPUTED, point="lac_review", planned=dt.date(2026, 12, 22)),
        "late": add_transfer(seeded, "3700012", planned=dt.date(2027, 1, 8)),  # 21 days: not on the radar
        "other_team": add_transfer(seeded, "3700013", to="adults-south"),
        "done": add_transfer(seeded, "3700014", state=terms.TRANSFERRED),
        "duty": add_transfer(seeded, "3700015", state=terms.ON_DUTY, point="court_hearing", planned=dt.date(2026, 12, 21)),
    }


def test_working_days_leave_out_christmas_and_the_observed_boxing_day() -> None:
    """D4: from Fri 18/12/2026 to Tue 29/12/2026 is 11 days but 5 working days (25/12 and 28/12 are bank holidays)."""
    assert ENGLAND.working_days_between(RADAR_DAY, dt.date(2026, 12, 29)) == 5
    assert ENGLAND.working_days_between(RADAR_DAY, dt.date(2026, 12, 24)) == 4
    assert ENGLAND.working_days_between(dt.date(2026, 12, 29), RADAR_DAY) == -5


def test_11y6m_is_138_months_and_a_month_end_birthday_falls_on_its_last_day() -> None:
    assert add_months(dt.date(2015, 6, 24), 138) == dt.date(2026, 12, 24)
    assert add_months(dt.date(2015, 8, 31), 138) == dt.date(2027, 2, 28)
    assert add_months(dt.date(2016, 8, 31), 138) == dt.date(2028, 2, 29)


def test_radar_contents_at_a_frozen_date(coming: dict[str, int], seeded: partial[UnitOfWork], ctx: Context) -> None:
    """T2: transfers to 12+ planned within 14 days, grouped by point of transfer in T1's order; T1: a u12
    child reaching 11y6m in the window; nothing sent elsewhere, already moved, or further off."""
    with seeded() as uow:
        look = radar.radar_for(uow, ctx, "12plus", RADAR_DAY)
    assert look.until == dt.date(2027, 1, 1)
    assert list(look.groups) == ["court_hearing", "lac_review"]
    court = look.groups["court_hearing"]
    assert [line.request_id for line in court] == [coming["duty"], coming["court"]]  # soonest first
    line = court[1]
    assert (line.person_id, line.initials, line.sending_team) == ("3700010", "TQ", "u12")
    # D4: 21-24 Dec; Christmas, Boxing Day's substitute (28th) and the weekends are not working days,
    # nor the demo council's shutdown (29-31 Dec, working_time.closure_days): 4 working days away
    assert (line.planned, line.days_away, line.working_days_away) == (dt.date(2026, 12, 29), 11, 4)
    assert (line.standards_complete, line.standards_outstanding) == (7, 2)
    assert court[0].state == terms.ON_DUTY
    assert [(x.request_id, x.state) for x in look.groups["lac_review"]] == [(coming["lac"], terms.DISPUTED)]
    assert [(t.person_id, t.reaches_on, t.days_away, t.working_days_away) for t in look.turning] == [
        ("3700001", dt.date(2026, 12, 24), 6, 4)
    ]


def test_radar_card_shows_ids_initials_and_states_never_names_or_reasons(coming: dict[str, int], seeded: partial[UnitOfWork], ctx: Context) -> None:
    with seeded() as uow:
        card = radar_card(ctx, radar.radar_for(uow, ctx, "12plus", RADAR_DAY))
    text = "\n".join([card.title, *(f.value for f in card.facts), *(h for s in card.sections for h in [s.heading, *s.lines])])
    assert card.title == "Two-week radar for 12+: 18/12/2026 to 01/01/2027"
    assert [s.heading for s in card.sections] == [
        terms.POINTS_OF_TRANSFER["court_hearing"], terms.POINTS_OF_TRANSFER["lac_review"], "Reaching 11 years 6 months (T1: Under 12s to 12+)"
    ]
    assert "3700010 (TQ) from Under 12s · 29/12/2026, in 11 days (4 working) · standards 7/9 (2 outstanding)" in text
    assert "Held on duty (T6)" in text and "Disputed: with the group managers (T5)" in text
    assert "3700001 (TQ) in Under 12s · 24/12/2026, in 6 days (4 working)" in text
    for private in ("Tam", "Quill", "Typed reason", "2015", "3700012"):
        assert private not in text


def test_an_empty_radar_says_so_in_one_line(seeded: partial[UnitOfWork], ctx: Context) -> None:
    with seeded() as uow:
        card = radar_card(ctx, radar.radar_for(uow, ctx, "adults-south", RADAR_DAY))
    assert card.title == "Two-week radar for Adults South: no transfers planned and nobody turning 11y6m from 18/12/2026 to 01/01/2027"
    assert not card.sections and not card.facts and not card.buttons
    with seeded() as uow:
        agenda = agenda_card(uow, ctx, "adults-south", "2026-12-21T09:00", dt.date(2026, 12, 21))
    assert agenda.title == "Transfer Meeting 21/12/2026 for Adults South: no transfers to discuss" and not agenda.buttons


def test_the_demo_radar_of_12plus_names_lily_turning_11y6m(seeded: partial[UnitOfWork], ctx: Context) -> None:
    """T1 on the demo store: Lily Marsh (3549723, born 14/06/2015) reaches 11y6m on 14/12/2026."""
    with seeded() as uow:
        look = radar.radar_for(uow, ctx, "12plus", dt.date(2026, 12, 4))
    assert [(t.person_id, t.initials, t.reaches_on) for t in look.turning] == [("3549723", "LM", dt.date(2026, 12, 14))]


# -- exactly once -------------------------------------------------------------------------


def count(uow_factory: Callable[[], UnitOfWork], model: type, *where: Any) -> int:
    with uow_factory() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_run_is_claimed_once_per_job_team_and_period(seeded: partial[UnitOfWork], ctx: Context) -> None:
    with seeded() as uow:
        assert radar.post_digest(uow, ctx, "radar", "12plus", FRIDAY_NOON) == "posted"
    with seeded() as uow:
        assert radar.post_digest(uow, ctx, "radar", "12plus", FRIDAY_NOON) == "already done"
    with seeded() as uow:  # another team, another job: their own runs
        assert radar.post_digest(uow, ctx, "radar", "u12", FRIDAY_NOON) == "posted"
        assert radar.post_digest(uow, ctx, "agenda", "12plus", MONDAY_9) == "posted"
    assert count(seeded, JobRun) == 3
    assert count(seeded, OutboxMessage, OutboxMessage.card_key == "radar:12plus:2026-12-18T12:00") == 1


def test_two_concurrent_radar_runs_post_one_digest(db_url: str, seeded: partial[UnitOfWork], org: Organisation, clock: FixedClock) -> None:
    """Two bot instances (threads with their own connections) fire the same radar at once, five weeks running:
    each week exactly one claims it and queues one card (on PostgreSQL the second waits on the unique key)."""
    outcomes: list[str] = []
    for week in range(5):
        period = FRIDAY_NOON + dt.timedelta(weeks=week)
        start = threading.Barrier(2)

        def instance(period: dt.datetime = period, start: threading.Barrier = start) -> None:
            ctx = Context(org=org, clock=clock)
            with seeded() as uow:
                start.wait()
                outcomes.append(radar.post_digest(uow, ctx, "radar", "12plus", period))

        threads = [threading.Thread(target=instance) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert sorted(outcomes) == ["already done"] * 5 + ["posted"] * 5
    assert count(seeded, OutboxMessage, OutboxMessage.card_key.startswith("radar:12plus:")) == 5
    assert count(seeded, JobRun) == 5


class RecordingSender:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, str]] = []
        self.n = 0

    def post(self, channel: str, card: Any) -> str:
        self.n += 1
        self.calls.append(("post", channel, card.title))
        return f"100.{self.n}"

    def update(self, channel: str, message_id: str, card: Any) -> None:
        self.calls.append(("update", f"{channel}@{message_id}", card.title))

    def direct(self, user: str, card: Any) -> Posted:
        self.n += 1
        return Posted(f"D{user[1:]}", f"100.{self.n}")


@pytest.fixture
def app(seeded: partial[UnitOfWork], db_url: str, org: Organisation, clock: FixedClock) -> Iterator[App]:
    built = build(db_url, org, RecordingSender(), clock=clock, migrate=False)
    yield built
    built.uow.args[0].kw["bind"].dispose()


def test_the_schedule_is_cron_in_london_from_the_config(org: Organisation) -> None:
    planned = {p.id: p for p in scheduler.scheduled_jobs(org)}
    assert planned["radar:12plus"].cron == "0 12 * * fri" and planned["agenda:12plus"].cron == "0 9 * * mon"
    thursday = dt.datetime(2026, 11, 26, 10, tzinfo=dt.UTC)
    assert planned["radar:12plus"].next_due(thursday) == dt.datetime(2026, 11, 27, 12, tzinfo=LONDON)
    assert planned["agenda:12plus"].next_due(thursday) == dt.datetime(2026, 11, 30, 9, tzinfo=LONDON)
    summer = dt.datetime(2027, 7, 1, 10, tzinfo=dt.UTC)  # BST: Friday noon in London is 11:00 UTC
    assert planned["radar:12plus"].next_due(summer) == dt.datetime(2027, 7, 2, 11, tzinfo=dt.UTC)
    assert planned["radar:12plus"].last_due(thursday) == dt.datetime(2026, 11, 20, 12, tzinfo=LONDON)


def test_a_turned_off_schedule_is_not_planned(org: Organisation) -> None:
    data = org.model_dump(by_alias=True)
    data["teams"][0]["schedule"] = {"radar": None, "agenda": "30 8 * * tue"}
    planned = {p.id: p.cron for p in scheduler.scheduled_jobs(Organisation.model_validate(data))}
    assert "radar:u12" not in planned and planned["agenda:u12"] == "30 8 * * tue"


def test_a_missed_run_is_caught_up_once(app: App, clock: FixedClock) -> None:
    """The bot was down over Friday noon; it starts on Saturday: the radar of Friday's period is posted,
    looking ahead from Saturday; a second start (restart) posts nothing more; next Friday posts again."""
    clock.at = dt.datetime(2026, 12, 19, 9, 30, tzinfo=LONDON).astimezone(dt.UTC)
    done = scheduler.catch_up(app)
    assert done["radar:12plus"] == "posted" and done["agenda:12plus"] == "posted"  # Monday 14/12's agenda, missed too
    app.deliverer.drain()
    assert scheduler.catch_up(app) == dict.fromkeys(done, "already done")
    with app.uow() as uow:
        row = uow.session.scalars(select(OutboxMessage).where(OutboxMessage.card_key == "radar:12plus:2026-12-18T12:00")).one()
        assert row.body["as_of"] == "2026-12-19"
    clock.at = dt.datetime(2026, 12, 25, 12, 0, 5, tzinfo=LONDON).astimezone(dt.UTC)
    assert scheduler.fire(app, "radar", "12plus") == "posted"
    assert count(app.uow, JobRun, JobRun.job == "radar", JobRun.team == "12plus") == 2


def test_a_rerun_edits_the_digest_in_place(app: App, coming: dict[str, int], clock: FixedClock) -> None:
    sender = app.deliverer.sender
    assert isinstance(sender, RecordingSender)
    assert scheduler.run_digest(app.uow, app.ctx, "radar", "12plus") == "posted"
    app.deliverer.drain()
    posts = [c for c in sender.calls if c[0] == "post" and c[1] == "C0P12MGR"]
    assert posts == [("post", "C0P12MGR", "Two-week radar for 12+: 18/12/2026 to 01/01/2027")]
    assert scheduler.run_digest(app.uow, app.ctx, "radar", "12plus") == "already done"
    with app.uow() as uow:  # the radar changes: one more transfer ...
        add_child(uow, "3700020", dt.date(2012, 2, 2))
        uow.commit()
    add_transfer(app.uow, "3700020", point="icpc", planned=dt.date(2026, 12, 23))
    assert scheduler.run_digest(app.uow, app.ctx, "radar", "12plus", redraw=True) == "redrawn"
    app.deliverer.drain()
    assert [c for c in sender.calls if c[1].startswith("C0P12MGR")] == [
        posts[0], ("update", "C0P12MGR@100.1", "Two-week radar for 12+: 18/12/2026 to 01/01/2027")
    ]
    assert count(app.uow, JobRun) == 1


# -- T3: the Transfer Meeting's agenda and its outcomes --------------------------------------------


def test_agenda_outcome_is_recorded_on_the_transfer_without_a_state_change(
    app: App, coming: dict[str, int], clock: FixedClock, db_fingerprint: Callable[[], Any]
) -> None:
    clock.at = MONDAY_9.astimezone(dt.UTC)
    assert scheduler.run_digest(app.uow, app.ctx, "agenda", "12plus") == "posted"
    app.deliverer.drain()
    with app.uow() as uow:
        card = agenda_card(uow, app.ctx, "12plus", "2026-12-21T09:00", dt.date(2026, 12, 21))
    assert card.title == "Transfer Meeting 21/12/2026 for 12+: 4 transfers"  # every transfer still coming, any date
    agreed = next(b for b in card.buttons if b.action == "meeting_agreed" and b.value.startswith(f"{coming['court']}:"))

    interactions = Interactions(app.uow, app.ctx)
    before = db_fingerprint()
    refused = interactions.press("U0AMY", agreed.action, agreed.value)  # a worker does not chair the meeting
    assert refused.text and refused.text.startswith("Only managers")
    assert db_fingerprint() == before

    reply = interactions.press("U0NADIA", agreed.action, agreed.value, source="test")
    assert reply.text == f"Recorded for transfer {coming['court']} (3700010): agreed at the Transfer Meeting."
    with app.uow() as uow:
        request = uow.requests.get(coming["court"])
        assert request is not None and request.state == terms.POTENTIAL  # not a transition
        assert request.details["meeting"]["outcome"] == "agreed" and request.details["meeting"]["by"] == "nadia"
        events = uow.session.scalars(select(Event).where(Event.request_id == request.id)).all()
        assert [(e.action, e.actor, e.from_state, e.to_state, e.detail["outcome"]) for e in events] == [
            ("meeting_outcome", "nadia", None, None, "agreed")
        ]
    app.deliverer.drain()
    sender = app.deliverer.sender
    assert isinstance(sender, RecordingSender)
    agenda_calls = [c for c in sender.calls if c[1].startswith("C0P12MGR")]
    assert [c[0] for c in agenda_calls] == ["post", "update"]  # the agenda redrawn in place
    deferred = interactions.press("U0GITA", "meeting_deferred", agreed.value)  # the group manager of both teams
    assert deferred.text and "deferred" in deferred.text


def test_radar_on_demand_needs_a_role_in_the_team(seeded: partial[UnitOfWork], ctx: Context, coming: dict[str, int]) -> None:
    interactions = Interactions(seeded, ctx)
    shown = interactions.radar("U0NADIA", "")  # Nadia has one team: 12+
    assert shown.card is not None and shown.card.title.startswith("Two-week radar for 12+: 18/12/2026")
    assert interactions.radar("U0AMY", "12plus").text == f"Only people with a role in 12+ may see its radar. {radar_command.USAGE}"
    assert (interactions.radar("U0SAM", "").text or "").startswith("Say which team: /radar <team>")  # Sam has two teams
    assert (interactions.radar("U0NADIA", "nowhere").text or "").startswith("There is no team 'nowhere'")
    assert "Usage: `/radar`" in (interactions.radar("U0NADIA", "12plus extra").text or "")


def test_the_scheduler_plans_each_teams_radar_and_agenda_and_a_catch_up(app: App) -> None:
    from apscheduler.triggers.cron import CronTrigger

    jobs = {job.id: job for job in scheduler.build_scheduler(app).get_jobs()}
    assert {"radar:u12", "agenda:u12", "radar:12plus", "agenda:12plus", "radar:adults-south", "catch-up", "outbox-retry"} <= set(jobs)
    trigger = jobs["radar:12plus"].trigger
    assert isinstance(trigger, CronTrigger) and str(trigger.timezone) == "Europe/London"
    assert jobs["radar:12plus"].args[1:] == ("radar", "12plus")
    assert jobs["radar:12plus"].misfire_grace_time is None and jobs["catch-up"].misfire_grace_time is None


def test_jobs_list_and_run_from_the_command_line(tmp_path: Any) -> None:
    """`worktray jobs list` shows each job's next run; `worktray jobs run radar --team 12plus --at ...` posts
    once for its period, a second run is left alone, --redraw queues the same card again."""
    from test_cli import DEMO_ORG, run_cli

    url = f"sqlite:///{tmp_path / 'jobs.db'}"
    assert run_cli(url, "db", "upgrade", cwd=tmp_path).returncode == 0
    listed = run_cli(url, "jobs", "list", cwd=tmp_path, config=DEMO_ORG)
    assert listed.returncode == 0, listed.stderr
    assert any(line.split()[:4] == ["radar:12plus", "cron", "0", "12"] and "Fri" in line for line in listed.stdout.splitlines())
    assert any(line.split()[:2] == ["agenda:u12", "cron"] and "Mon" in line for line in listed.stdout.splitlines())

    first = run_cli(url, "jobs", "run", "radar", "--team", "12plus", "--at", "2026-12-19T08:00", cwd=tmp_path, config=DEMO_ORG)
    assert first.stdout == "radar for 12plus: posted\n", first.stderr
    again = run_cli(url, "jobs", "run", "radar", "--team", "12plus", "--at", "2026-12-24T08:00", cwd=tmp_path, config=DEMO_ORG)
    assert again.stdout == "radar for 12plus: already done\n"  # the same period: Friday 18/12 noon
    redrawn = run_cli(url, "jobs", "run", "radar", "--team", "12plus", "--at", "2026-12-24T08:00", "--redraw", cwd=tmp_path, config=DEMO_ORG)
    assert redrawn.stdout == "radar for 12plus: redrawn\n"
    every = run_cli(url, "jobs", "run", "agenda", "--at", "2026-12-21T09:00", cwd=tmp_path, config=DEMO_ORG)
    assert every.stdout.splitlines() == ["agenda for u12: posted", "agenda for adults-south: posted", "agenda for 12plus: posted"]
    listed = run_cli(url, "jobs", "list", cwd=tmp_path, config=DEMO_ORG)
    radar_12plus = next(line for line in listed.stdout.splitlines() if line.startswith("radar:12plus "))
    assert radar_12plus.endswith(" (for 2026-12-18T12:00)")  # the last period run
    assert next(line for line in listed.stdout.splitlines() if line.startswith("radar:u12 ")).endswith(" never")
    unknown = run_cli(url, "jobs", "run", "radar", "--team", "u13", cwd=tmp_path, config=DEMO_ORG)
    assert unknown.returncode == 1 and "no team 'u13'" in unknown.stderr

    from store.db import make_engine, make_session_factory

    engine = make_engine(url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        keys = [row.card_key for row in uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))]
    engine.dispose()
    assert keys[:2] == ["radar:12plus:2026-12-18T12:00", "radar:12plus:2026-12-18T12:00"]


def test_radar_and_agenda_cards_are_valid_block_kit(coming: dict[str, int], seeded: partial[UnitOfWork], ctx: Context) -> None:
    """Offline check as in test_blockkit: each block survives slack_sdk's parse unchanged."""
    from slack_sdk.models.blocks import Block

    from bot.blockkit import card_blocks

    with seeded() as uow:
        cards = [
            radar_card(ctx, radar.radar_for(uow, ctx, "12plus", RADAR_DAY)),
            radar_card(ctx, radar.radar_for(uow, ctx, "adults-south", RADAR_DAY)),
            agenda_card(uow, ctx, "12plus", "2026-12-21T09:00", dt.date(2026, 12, 21)),
        ]
    for card in cards:
        blocks = card_blocks(card)
        assert len(blocks) <= 50
        for block in blocks:
            assert Block.parse(block).to_dict() == block, block


def test_an_agenda_with_several_lines_has_unique_action_ids_per_block(coming: dict[str, int], seeded: partial[UnitOfWork], ctx: Context) -> None:
    """Slack refuses a message whose actions block repeats an action_id (invalid_blocks); the adapter
    still routes ``wt:meeting_agreed#2`` to "meeting_agreed"."""
    from bot.blockkit import button_action, card_blocks

    with seeded() as uow:
        card = agenda_card(uow, ctx, "12plus", "2026-12-21T09:00", dt.date(2026, 12, 21))
    for block in card_blocks(card):
        if block["type"] == "actions":
            ids = [e["action_id"] for e in block["elements"]]
            assert len(ids) == len(set(ids)) == 8
            assert {button_action(i) for i in ids} == {"meeting_agreed", "meeting_deferred"}


def test_a_schedule_the_scheduler_cannot_read_is_refused_at_load_naming_its_line() -> None:
    from workflows.org import ConfigError, parse_organisation
    from worktray import demo

    text = demo.DEMO_ORG.read_text(encoding="utf-8").replace('radar: "0 12 * * fri"', 'radar: "0 25 * * fri"')
    with pytest.raises(ConfigError) as refused:
        parse_organisation(text, "org.yml")
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "0 25 * * fri" in t)
    assert f"org.yml, line {line}: teams.2.schedule.radar" in str(refused.value)
