"""Who may see and do what: the one permission table (issue 8), role x team x action.

Every check of a role reads this table: the request actions of ``workflows.requests``
(``may``, ``ROLES_FOR``), the kinds' own actions (a transfer's accept, dispute ...), the
views (``/case status``, ``/case history``, ``/radar``, ``/audits``, the work tray) and
the starting of things (a closure, a transfer). ``tests/test_permission_matrix.py`` walks
the whole of it against the functions that enforce it.

A row says which roles may do the action and in which team the role counts (the side):

- ``team``: the team being looked at or acted in (a view, a case's team);
- ``sending``: the request's own team (every request has one);
- ``receiving``: a transfer's receiving team;
- ``either``: the sending or the receiving team (T3, T5).

The table holds roles only. Rules about a particular person (four eyes, C3: nobody
approves their own request; only the holder completes an item; ...) stay with the
request mechanism (``workflows.requests._person_rule``), as do act-for deputies
(``workflows.deputies``): a deputy is checked with the absent person's roles.

Scopes: ``view`` (looking), ``request`` (the actions every kind of request shares, the old
``ROLES_FOR``), or a kind's name for what the kind adds or does differently (``transfer``,
``closure``). A kind's row wins over the shared one for that kind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from workflows.org import Organisation, Role

Side = Literal["team", "sending", "receiving", "either"]
SIDES: tuple[Side, ...] = ("team", "sending", "receiving", "either")

VIEW = "view"
SHARED = "request"


@dataclass(frozen=True)
class Rule:
    roles: frozenset[Role]
    side: Side = "sending"
    why: str = ""  # the rule of DOMAIN.md it stands for, for the README table


def _r(*roles: Role, side: Side = "sending", why: str = "") -> Rule:
    return Rule(frozenset(roles), side, why)


ANY = tuple(Role)
W, M, BS = Role.WORKER, Role.MANAGER, Role.BUSINESS_SUPPORT
GM, SM, HOS, PS = Role.GROUP_MANAGER, Role.SERVICE_MANAGER, Role.HEAD_OF_SERVICE, Role.PRACTICE_SUPERVISOR
APPROVERS = (M, SM, HOS)
TRANSFER_MANAGERS = (M, GM)
MEETING = (M, GM, SM, PS)

TABLE: dict[tuple[str, str], Rule] = {
    # -- looking: any role in the team (its group and service managers have one) -----------
    (VIEW, "view_case"): _r(*ANY, side="team", why="a role in the case's team"),
    (VIEW, "view_history"): _r(*ANY, side="team", why="as view_case"),
    (VIEW, "view_radar"): _r(*ANY, side="team", why="T2"),
    (VIEW, "view_audits"): _r(*ANY, side="team", why="C13"),
    (VIEW, "view_tray"): _r(*ANY, side="team", why="the team's work tray"),
    # Full name and date of birth, in ephemeral replies and on Home only (issue 8, data minimisation):
    # not business support, who work from the ID and initials. A restricted record's: fewer still
    # (and its allocated worker, a rule about a person: workflows.access.may_see_details).
    (VIEW, "view_details"): _r(W, M, PS, GM, SM, HOS, side="team", why="issue 8: name, date of birth"),
    (VIEW, "view_restricted"): _r(M, PS, side="team", why="issue 8: a restricted record's details"),
    # -- the actions every kind of request shares ------------------------------------------
    (SHARED, "request"): _r(W, M, why="C2"),
    (SHARED, "approve"): _r(*APPROVERS, why="C3"),
    (SHARED, "return"): _r(*APPROVERS, why="C3"),
    (SHARED, "resubmit"): _r(W, M, why="C3"),
    (SHARED, "claim"): _r(BS, why="C5"),
    (SHARED, "unclaim"): _r(BS, M, why="C5"),
    (SHARED, "reassign"): _r(M, why="C5"),
    (SHARED, "block"): _r(BS, why="C6.1"),
    (SHARED, "recheck"): _r(BS, why="C6.1"),
    (SHARED, "complete"): _r(BS, why="C6"),
    (SHARED, "withdraw"): _r(W, M, why="C11"),
    (SHARED, "cancel_step"): _r(M, why="C7"),
    (SHARED, "send_on"): _r(M, SM, why="C10"),
    (SHARED, "reopen"): _r(M, PS, why="C11"),
    (SHARED, "accept"): _r(M, PS, why="C12"),
    (SHARED, "decline"): _r(M, PS, why="C12"),
    # -- closure: C4, an adult never seen face to face ---------------------------------------
    ("closure", "approve_never_seen"): _r(SM, HOS, why="C4"),
    # -- transfer (T): the sending team raises it, the receiving team takes it ------------
    ("transfer", "request"): _r(W, M, why="T1"),
    ("transfer", "mark_ready"): _r(W, M, why="T1"),
    ("transfer", "accept"): _r(*TRANSFER_MANAGERS, side="receiving", why="T4"),
    ("transfer", "hold_on_duty"): _r(*TRANSFER_MANAGERS, side="receiving", why="T6"),
    ("transfer", "dispute"): _r(*TRANSFER_MANAGERS, side="receiving", why="T5"),
    ("transfer", "resolve_transfer"): _r(GM, side="either", why="T5"),
    ("transfer", "resolve_stay"): _r(GM, side="either", why="T5"),
    ("transfer", "escalate"): _r(GM, side="either", why="T5"),
    ("transfer", "decide_transfer"): _r(SM, side="either", why="T5"),
    ("transfer", "decide_stay"): _r(SM, side="either", why="T5"),
    ("transfer", "complete_transfer"): _r(*TRANSFER_MANAGERS, side="receiving", why="T7"),
    ("transfer", "record_meeting"): _r(*MEETING, side="either", why="T3"),
}


def rule(scope: str, action: str) -> Rule:
    """The row for ``action`` in ``scope`` (a kind's own, else the shared one). KeyError: no row."""
    found = TABLE.get((scope, action))
    if found is None and scope not in (VIEW, SHARED):
        found = TABLE.get((SHARED, action))
    if found is None:
        raise KeyError(f"no permission row for {action!r} in {scope!r}")
    return found


def scope_rules(scope: str) -> dict[str, Rule]:
    """The rows of one scope, by action."""
    return {action: r for (s, action), r in TABLE.items() if s == scope}


def teams_for(found: Rule, team: str, receiving: str | None = None) -> tuple[str, ...]:
    """The team(s) in which a role counts for the row, given a request's sending and receiving
    teams (or the one team being looked at). A request with no receiving team: its own team."""
    if found.side == "receiving" and receiving:
        return (receiving,)
    if found.side == "either" and receiving:
        return (team, receiving)
    return (team,)


def has(org: Organisation, person: str, scope: str, action: str, team: str, receiving: str | None = None) -> bool:
    """Does ``person`` hold a role of the row in a team that counts for it?"""
    found = rule(scope, action)
    return any(org.has_role(person, t, *found.roles) for t in teams_for(found, team, receiving))


def may_view(org: Organisation, person: str, action: str, team: str) -> bool:
    """A view of a team's things (``view_case``, ``view_radar`` ...)."""
    return has(org, person, VIEW, action, team)


def markdown() -> str:
    """The table as the README shows it (``tests/test_permission_matrix.py`` keeps them equal)."""
    roles = list(Role)
    head = "| scope | action | side | " + " | ".join(r.value.replace("_", " ") for r in roles) + " | rule |"
    lines = [head, "|" + "---|" * (len(roles) + 4)]
    for (scope, action), r in TABLE.items():
        marks = " | ".join("✓" if role in r.roles else "" for role in roles)
        lines.append(f"| {scope} | {action} | {r.side} | {marks} | {r.why} |")
    return "\n".join(lines)
