"""The whole permission table (issue 8: "a test walks the whole matrix"), against what enforces it.

Generated from ``workflows.permissions.TABLE``: for every row, every role, and every place the
person's role may be (the request's own team, another team, and for a transfer its receiving
team), the expected answer is read from the row and compared with the real check: ``may()`` on a
real request of the demo store, ``/case status`` and ``/case history``, ``/radar`` and ``/audits``,
raising a transfer, recording a meeting outcome, C4's never-seen rule. A row with no enforcer, or
an action a kind declares without a row, fails. The deputy of each person is asked too (act-for):
they get exactly the absent person's answers.

The organisation is made for the walk: one person per role per team, and nobody else.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import pytest

from store.models import Request
from store.uow import UnitOfWork
from workflows import access, audits, closure, permissions, radar, transfer
from workflows.clock import FixedClock
from workflows.errors import NotAllowed
from workflows.org import Organisation, Role
from workflows.permissions import SHARED, TABLE, VIEW
from workflows.requests import FOUR_EYES, KINDS, Context, kind_of, may

NOW = dt.datetime(2026, 11, 26, 10, 0, tzinfo=dt.UTC)
OWN, OTHER, RECEIVING = "u12", "adults-south", "12plus"  # the demo store's teams: its cases are in u12
PLACES = {"own team": OWN, "other team": OTHER, "receiving team": RECEIVING}
PERSON = "3549723"  # a demo child with an open case in Under 12s and no transfer to come
RESTRICTED = "3501779"  # a demo child of Under 12s, her record restricted for the walk
DEPUTY = "deputy"  # a person with no role in any of the three teams: only ever acts for someone
SOMEONE = "someone"  # who "made" a request when the actor must not have (four eyes)


def person_of(role: Role, team: str) -> str:
    return f"{role.value}-{team}"


def matrix_org() -> Organisation:
    teams = [OWN, OTHER, RECEIVING, "elsewhere"]
    people = [
        {"key": person_of(role, team), "name": f"{role.value} of {team}", "chat_user_id": f"U{i:04d}", "roles": [{"team": team, "role": role.value}]}
        for i, (role, team) in enumerate((r, t) for r in Role for t in teams[:3])
    ]
    people += [
        {"key": DEPUTY, "name": "Dee Puty", "chat_user_id": "U9DEP", "roles": [{"team": "elsewhere", "role": "worker"}]},
        {"key": SOMEONE, "name": "Some One", "chat_user_id": "U9ONE", "roles": [{"team": "elsewhere", "role": "worker"}]},
    ]
    return Organisation.model_validate({
        "name": "Matrix",
        "teams": [{"key": t, "name": t, "manager_channel": f"C{i}M", "business_support_channel": f"C{i}B"} for i, t in enumerate(teams)],
        "people": people,
    })


ORG = matrix_org()


def places(scope: str) -> dict[str, str]:
    return PLACES if scope == "transfer" else {k: v for k, v in PLACES.items() if v != RECEIVING}


def expected(scope: str, action: str, role: Role, team: str) -> bool:
    """What the row says: the role is in it, and the team is one where the role counts."""
    row = permissions.rule(scope, action)
    receiving = RECEIVING if scope == "transfer" else None
    return role in row.roles and team in permissions.teams_for(row, OWN, receiving)


CASES = [
    pytest.param(scope, action, role, where, id=f"{scope}:{action}:{role.value}:{where}")
    for (scope, action) in TABLE
    for role in Role
    for where in places(scope)
]


# -- the enforcers: (uow, ctx, actor, scope, action) -> allowed? ---------------------------------


def _refused(call: Callable[[], object]) -> bool:
    try:
        call()
    except NotAllowed:
        return False
    return True


def a_request(uow: UnitOfWork, scope: str, action: str, actor: str) -> Request:
    """A real request of the demo store, of the row's kind, with the person rules met for ``actor``
    (so that the role and team are what is asked): another maker for four eyes, else the actor
    made it, holds it and is the case's worker. Never committed."""
    kind = "closure" if scope == SHARED else scope
    request = Request(
        kind=kind, state="requested", team=OWN, receiving_team=RECEIVING if kind == "transfer" else None,
        person_id=PERSON, requested_by=actor, requested_at=FixedClock(NOW).now(), details={},
    )
    case = uow.cases.open_case(PERSON)
    assert case is not None
    request.case = case
    rule_as = kind_of(request).person_rule_as.get(action, action)
    request.requested_by = SOMEONE if rule_as in FOUR_EYES else actor
    request.holder = actor
    case.worker = actor
    return request


def by_may(uow: UnitOfWork, ctx: Context, actor: str, scope: str, action: str, covering: tuple[str, ...] = ()) -> bool:
    principal = covering[0] if covering else actor
    request = a_request(uow, scope, action, principal)
    allowed = may(ctx.org, actor, action, request, covering)
    if action == "request":  # raising one: the real check of the closure (C2) / transfer (T1) start
        case = request.case
        real = access.may_request_transfer(ctx.org, principal, case) if scope == "transfer" else access.may_request_closure(ctx.org, principal, case)
        assert real == may(ctx.org, principal, action, request)
    uow.rollback()
    return allowed


def view_case(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return _refused(lambda: access.look_at_case(uow, ctx, PERSON, actor))


def view_history(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return _refused(lambda: access.case_history(uow, ctx, PERSON, actor, 1))


def view_radar(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return _refused(lambda: radar.radar_on_demand(uow, ctx, actor, team))


def view_audits(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return _refused(lambda: audits.audits_on_demand(uow, ctx, actor, team, "usage"))


def view_tray(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return permissions.may_view(ctx.org, actor, "view_tray", team)  # the tray command asks this (another change)


def _details(uow: UnitOfWork, ctx: Context, person_id: str, actor: str) -> bool:
    """Does /case status show the name and date of birth (the rule Home uses too: access.may_see_details)?"""
    try:
        return access.look_at_case(uow, ctx, person_id, actor).details
    except NotAllowed:
        return False


def view_details(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return _details(uow, ctx, PERSON, actor)


def view_restricted(uow: UnitOfWork, ctx: Context, actor: str, team: str) -> bool:
    return _details(uow, ctx, RESTRICTED, actor)  # its allocated worker (amy) is not in the matrix's organisation


VIEWS: dict[str, Callable[[UnitOfWork, Context, str, str], bool]] = {
    "view_case": view_case, "view_history": view_history, "view_radar": view_radar, "view_audits": view_audits, "view_tray": view_tray,
    "view_details": view_details, "view_restricted": view_restricted,
}


def never_seen(uow: UnitOfWork, ctx: Context, actor: str, scope: str, action: str, covering: tuple[str, ...] = ()) -> bool:
    request = a_request(uow, "closure", "approve", actor)
    allowed = closure.may_agree_never_seen(ctx.org, actor, request, covering)
    uow.rollback()
    return allowed


def meeting(uow: UnitOfWork, ctx: Context, actor: str, scope: str, action: str, covering: tuple[str, ...] = ()) -> bool:
    request = a_request(uow, "transfer", action, actor)
    allowed = radar.may_record_outcome(ctx, actor, request)
    uow.rollback()
    return allowed


SPECIAL: dict[tuple[str, str], Callable[..., bool]] = {
    ("closure", "approve_never_seen"): never_seen,
    ("transfer", "record_meeting"): meeting,
}
NO_DEPUTY = {("transfer", "record_meeting")}  # T3: the meeting's outcome is recorded by who attends it


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[partial[UnitOfWork]]:
    """The demo store on SQLite, once for the module (the walk only reads, and records looks)."""
    from store.db import make_engine, make_session_factory
    from store.migrate import upgrade
    from worktray import demo

    url = f"sqlite:///{tmp_path_factory.mktemp('matrix') / 'matrix.db'}"
    upgrade(url)
    engine = make_engine(url)
    factory = partial(UnitOfWork, make_session_factory(engine))
    with factory() as uow:
        demo.seed(uow)
        person = uow.cases.person(RESTRICTED)
        assert person is not None
        person.restricted = True
        uow.commit()
    yield factory
    engine.dispose()


@pytest.fixture(scope="module")
def matrix_ctx() -> Context:
    return Context(org=ORG, clock=FixedClock(NOW))


@pytest.mark.parametrize(("scope", "action", "role", "where"), CASES)
def test_the_matrix(store: partial[UnitOfWork], matrix_ctx: Context, scope: str, action: str, role: Role, where: str) -> None:
    team = PLACES[where]
    actor = person_of(role, team)
    want = expected(scope, action, role, team)
    with store() as uow:
        if scope == VIEW:
            assert VIEWS[action](uow, matrix_ctx, actor, OWN) == want  # the own team is the one looked at
            return
        check = SPECIAL.get((scope, action), by_may)
        assert check(uow, matrix_ctx, actor, scope, action) == want
        if (scope, action) in NO_DEPUTY:
            return
        # Act-for: the person's deputy gets the person's answer (four eyes is met: someone else made it).
        assert check(uow, matrix_ctx, DEPUTY, scope, action, (actor,)) == want


def test_every_action_of_every_kind_has_a_row() -> None:
    """A new action of a kind (or of the shared table) without a row in the table fails here."""
    for kind in KINDS.values():
        for action in kind.actions:
            permissions.rule(kind.name, action)  # KeyError: no row
    assert {a for (s, a) in TABLE if s == VIEW} == set(VIEWS)
    for key in TABLE:
        assert key[0] in (VIEW, SHARED) or key in SPECIAL or key[1] in next(k.actions for k in KINDS.values() if k.name == key[0]) or key[1] == "request"


def test_transfer_rows_are_what_the_transfer_kind_reads() -> None:
    assert transfer.TRANSFER_ROLES["accept"] == frozenset({Role.MANAGER, Role.GROUP_MANAGER})
    assert transfer.ACTING_TEAM["accept"] == "receiving" and transfer.ACTING_TEAM["escalate"] == "either"


def test_the_readme_shows_the_table() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert permissions.markdown() in readme, "README's permission table is out of date: paste permissions.markdown()"
