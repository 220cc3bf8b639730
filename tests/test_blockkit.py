"""Every card and form of the demo journey renders to Block Kit that Slack accepts.

Offline check (../shared/slack/README.md): ``Block.parse(b).to_dict() == b``
for each block (slack_sdk validates lengths and required fields on the way),
at most 50 blocks a message and 100 a modal or Home tab. Cards and forms are
collected by running the whole demo journey through the real core.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from bot.actions import FORMS, Reply
from bot.blockkit import MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, ZWJ, card_blocks, escape, form_view, home_view, read_values
from bot.cards import Button, Card, Fact, Form, FormField, Option, Section
from workflows.clock import FixedClock
from workflows.org import Organisation
from worktray.bootstrap import App, build


class RecordingSender:
    """A ChatSender that keeps every card it is asked to show."""

    def __init__(self) -> None:
        self.cards: list[Card] = []

    def post(self, channel: str, card: Card) -> str:
        self.cards.append(card)
        return str(len(self.cards))

    def update(self, channel: str, message_id: str, card: Card) -> None:
        self.cards.append(card)

    def direct(self, user: str, card: Card) -> str:
        self.cards.append(card)
        return str(len(self.cards))


class Journey:
    """Drives the core as the adapters do, collecting every form and card shown."""

    def __init__(self, app: App, sender: RecordingSender) -> None:
        self.app = app
        self.sender = sender
        self.forms: list[Form] = []
        self.cards: list[Card] = []

    def _seen(self, reply: Reply) -> Reply:
        if reply.form is not None:
            self.forms.append(reply.form)
        if reply.card is not None:
            self.cards.append(reply.card)
        self.app.deliverer.drain()
        return reply

    def command(self, user: str, text: str) -> Reply:
        return self._seen(self.app.interactions.command(user, text))

    def press(self, user: str, action: str, value: str) -> Reply:
        return self._seen(self.app.interactions.press(user, action, value))

    def submit(self, user: str, form: Form, **values: Any) -> Reply:
        return self._seen(self.app.interactions.submit(user, form.callback, form.metadata, values))

    def form(self, callback: str) -> Form:
        return [f for f in self.forms if f.callback == callback][-1]

    def all_cards(self) -> list[Card]:
        return self.cards + self.sender.cards


@pytest.fixture
def journey(seeded: Any, db_url: str, org: Organisation, clock: FixedClock) -> Journey:
    sender = RecordingSender()
    app = build(db_url, org, sender, clock=clock)
    j = Journey(app, sender)
    note = "Needs the letter <!channel> <@U0SAM> <http://evil.example|gov.uk> & more"
    closure = {"reason": "RC7", "closure_date": "2026-11-26", "summary": "Needs met.", "done": ["visit_done"]}

    # 3549723 (+ sibling): request, return, resubmit, approve, claim, reassign, unclaim, claim, audit, close.
    for person in ("3549723", "3549724", "3549728", "3501779", "4100001"):
        j.command("U0AMY", f"status {person}")
    j.press("U0AMY", "request_closure", "3549723")
    j.submit("U0AMY", j.form("request_closure"), **closure, applies_to=["3549724"])
    j.press("U0MARIA", "return", "1")
    j.submit("U0MARIA", j.form("return"), note=note)
    j.press("U0AMY", "resubmit", "1")
    j.submit("U0AMY", j.form("resubmit"), **closure)
    j.press("U0MARIA", "approve", "1")
    j.submit("U0MARIA", j.form("approve"), note=note)
    j.press("U0SAM", "claim", "1")
    j.press("U0MARIA", "reassign", "1")
    j.submit("U0MARIA", j.form("reassign"), to="tess")
    j.press("U0TESS", "unclaim", "1")
    j.press("U0SAM", "claim", "1")
    j.press("U0SAM", "audit", "1")
    ticks = [o.value for o in j.form("audit").fields[0].options]
    j.submit("U0SAM", j.form("audit"), checklist=ticks)

    # 3549728: blocked, a step cancelled, a step done, re-checked, closed.
    j.command("U0BEN", "close 3549728")
    j.submit("U0BEN", j.form("request_closure"), **{**closure, "reason": "RC8"})
    j.press("U0MARIA", "approve", "2")
    j.submit("U0MARIA", j.form("approve"))
    j.press("U0SAM", "claim", "2")
    j.press("U0SAM", "audit", "2")
    with app.uow() as uow:
        steps = {s.kind: s.id for s in uow.cases.open_work_steps(["3549728"])}
    j.press("U0MARIA", "cancel_step", f"2:{steps['future']}")
    j.submit("U0MARIA", j.form("cancel_step"), reason="Not needed")
    j.press("U0BEN", "step_done", str(steps["incomplete"]))
    j.press("U0SAM", "recheck", "2")
    j.press("U0SAM", "audit", "2")
    j.submit("U0SAM", j.form("audit"), checklist=[o.value for o in j.form("audit").fields[0].options])

    # An adult never seen face to face (C4), and a withdrawal (C11).
    j.command("U0DAN", "close 4100001")
    j.submit("U0DAN", j.form("request_closure"), **{**closure, "reason": "A1"}, no_visit_reason="Declined visits.")
    j.press("U0OLU", "approve", "3")  # C3: the adults' 18-item checklist
    answers = {f"answer_{n}": "yes" for n in range(1, 19)} | {"answer_13": "no", "note_13": "No financial assessment: " + note}
    j.submit("U0OLU", j.form("approve"), **answers)
    j.command("U0AMY", "close 3501779")
    j.submit("U0AMY", j.form("request_closure"), **closure)
    j.press("U0AMY", "withdraw", "4")
    # C10: the adult's care package -> End Purchased Service request 5: returned, resubmitted, authorised.
    j.press("U0SAM", "claim", "3")
    j.press("U0SAM", "audit", "3")
    audit = j.form("audit")
    [package] = [o.value for f in audit.fields if f.key == "end_items" for o in f.options]
    j.submit("U0SAM", audit, checklist=[o.value for o in audit.fields[0].options], end_items=[package])
    j.press("U0RUTH", "return", "5")
    j.submit("U0RUTH", j.form("return"), note="End it from the 1st of December.")
    j.press("U0DAN", "resubmit_purchase", "5")
    j.submit("U0DAN", j.form("resubmit_purchase"), end_date="2026-12-01")
    j.press("U0RUTH", "approve", "5")
    j.submit("U0RUTH", j.form("approve"))

    # C10: a child leaving care (3549735): the looked-after period ends with a REC code (S3).
    j.command("U0AMY", "close 3549735")
    j.submit("U0AMY", j.form("request_closure"), **{**closure, "reason": "RC7"})
    j.press("U0MARIA", "approve", "6")
    j.submit("U0MARIA", j.form("approve"))
    j.press("U0SAM", "claim", "6")
    j.press("U0SAM", "audit", "6")
    audit = j.form("audit")
    [period] = [o.value for f in audit.fields if f.key == "end_items" for o in f.options]
    j.submit("U0SAM", audit, checklist=[o.value for o in audit.fields[0].options], end_items=[period],
             **{f"local_end_reason_{period}": "Returned home", f"rec_{period}": "E4A", "leaving_care_3549735": "yes"})
    for person in ("3549723", "3549728", "3501779", "4100001", "3549735"):
        j.command("U0AMY", f"status {person}")

    # C11 Reopen (the sibling only), C12 re-referrals: one accepted, one declined.
    j.command("U0MARIA", "status 3549723")
    j.press("U0MARIA", "reopen", "1")
    j.submit("U0MARIA", j.form("reopen"), people=["3549724"], worker="amy", reason="New information from school.")
    j.command("U0AMY", "rereferral 3549728 N4")
    j.press("U0MARIA", "accept", "7")
    j.submit("U0MARIA", j.form("accept"), worker="ben")
    j.command("U0AMY", "rereferral 3549723 N1")
    j.press("U0MARIA", "decline", "8")
    j.submit("U0MARIA", j.form("decline"), reason="Different concern: a new assessment is needed.")

    # T1-T7, C13: a transfer to 12+ raised potential, marked ready, returned, resubmitted, approved,
    # disputed, escalated, decided, held on duty, accepted; its audit at transfer (10); a second
    # transfer (11) disputed and resolved by a group manager.
    transfer = {"receiving_team": "12plus", "point_of_transfer": "age_11y6m", "planned_date": "2026-11-26", "reason": note,
                "std_genogram": "na", "why_genogram": note}
    j.command("U0MARIA", "status 3549750")
    j.press("U0MARIA", "request_transfer", "3549750")
    j.submit("U0BEN", j.form("transfer"), **transfer, readiness="potential")
    j.press("U0BEN", "mark_ready", "9")
    j.press("U0MARIA", "return", "9")
    j.submit("U0MARIA", j.form("return"), note=note)
    j.press("U0BEN", "transfer_resubmit", "9")
    j.submit("U0BEN", j.form("transfer_resubmit"), **transfer)
    j.press("U0MARIA", "approve", "9")
    j.submit("U0MARIA", j.form("approve"))
    j.press("U0NADIA", "transfer_dispute", "9")
    j.submit("U0NADIA", j.form("transfer_dispute"), reason=note)
    j.press("U0RAFE", "transfer_escalate", "9")
    j.submit("U0RAFE", j.form("transfer_escalate"), note=note)
    j.press("U0OLU", "transfer_decide", "9")
    j.submit("U0OLU", j.form("transfer_decide"), outcome="transfer", note=note)
    j.press("U0NADIA", "transfer_hold", "9")
    j.submit("U0NADIA", j.form("transfer_hold"), reason=note)
    j.press("U0NADIA", "transfer_accept", "9")
    j.submit("U0NADIA", j.form("transfer_accept"), worker="femi")
    j.press("U0IVY", "claim", "10")
    j.press("U0IVY", "transfer_audit", "10")
    j.submit("U0IVY", j.form("transfer_audit"), checklist=list(j.form("transfer_audit").fields[0].options and [o.value for o in j.form("transfer_audit").fields[0].options]))
    j.command("U0AMY", "transfer 3549724")
    j.submit("U0AMY", j.form("transfer"), **transfer)
    j.press("U0MARIA", "approve", "11")
    j.submit("U0MARIA", j.form("approve"))
    j.press("U0NADIA", "transfer_dispute", "11")
    j.submit("U0NADIA", j.form("transfer_dispute"), reason=note)
    j.press("U0GITA", "transfer_resolve", "11")
    j.submit("U0GITA", j.form("transfer_resolve"), outcome="stay", note=note)

    # C13: the morning job raises the three-month audit now due (3501779's, overdue); business support
    # claim it and record it, actions needed (the note goes to the worker and manager by DM); /audits.
    from workflows import audits

    with app.uow() as uow:
        assert audits.raise_due_audits(uow, app.ctx) == 1
    app.deliverer.drain()
    with app.uow() as uow:
        [due] = audits.due_audits(uow, app.ctx, "u12", dt.date(2026, 11, 26))
    j.press("U0TESS", "claim", str(due.request_id))
    j.press("U0TESS", "record_audit", str(due.request_id))
    checks = {f"check_{key}": "yes" for key in audits.CHECKS} | {"check_retention_present": "no"}
    j.submit("U0TESS", j.form("record_audit"), **checks, outcome="actions_needed", note=note)
    j._seen(app.interactions.audits("U0MARIA", "u12"))
    return j


def assert_slack_accepts(blocks: list[dict[str, Any]]) -> None:
    for block in blocks:
        assert Block.parse(block).to_dict() == block, block


def test_the_journey_produced_every_form_and_every_kind_of_card(journey: Journey) -> None:
    """Guards the test below: it must see everything the views can produce."""
    assert {f.callback for f in journey.forms} == set(FORMS)
    titles = " | ".join(c.title for c in journey.all_cards())
    for kind in ("superseded", "returned", "cannot progress", "is now yours", "is closed", "Case 3549723 (LM)",
                 "End Purchased Service request 5", "End purchased services · 4100001 (PG)", "authorised",
                 "reopens to you", "Re-referral", "declined by Under 12s", "Three-month audit", "actions needed (C13)",
                 "Three-month audits for Under 12s"):
        assert kind in titles, kind
    states = " | ".join(f.value for c in journey.all_cards() for f in c.facts if f.label == "State")
    for label in ("Waiting for the manager", "Returned", "unclaimed", "Claimed", "Blocked", "Closed", "Withdrawn",
                  "Waiting for the manager to authorise", "Authorised: sent to the purchasing team", "Accepted", "Declined"):
        assert label in states, label


def test_every_card_renders_blocks_slack_accepts(journey: Journey) -> None:
    cards = journey.all_cards()
    assert len(cards) > 40
    for card in cards:
        blocks = card_blocks(card)
        assert 0 < len(blocks) <= MAX_MESSAGE_BLOCKS
        assert_slack_accepts(blocks)


def test_every_form_renders_a_modal_slack_accepts(journey: Journey) -> None:
    for form in journey.forms:
        view = form_view(form)
        assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
        assert_slack_accepts(view["blocks"])
        assert View(**view).to_dict() == view
        assert {b["block_id"] for b in view["blocks"] if b["type"] == "input"} == {f.key for f in form.fields}


def test_the_home_tab_renders_blocks_slack_accepts(journey: Journey) -> None:
    for user in ("U0MARIA", "U0SAM", "U0DAN", "U0NOBODY"):
        view = home_view(journey.app.interactions.home(user))
        assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
        assert_slack_accepts(view["blocks"])


def test_text_a_user_typed_is_inert_in_cards(journey: Journey) -> None:
    returned = next(c for c in journey.all_cards() if c.title.endswith("returned"))
    rendered = str(card_blocks(returned))
    assert "<!channel>" not in rendered and "<@U0SAM>" not in rendered and "<http://evil.example" not in rendered
    assert "&lt;!channel&gt;" in rendered


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("<!channel>", "&lt;!channel&gt;"),
        ("<!here|here>", "&lt;!here|here&gt;"),
        ("<@U0SAM>", "&lt;@U0SAM&gt;"),
        ("<#C0U12MGR>", "&lt;#C0U12MGR&gt;"),
        ("<http://x|y>", "&lt;http://x|y&gt;"),
        ("Tom & Jerry", "Tom &amp; Jerry"),
        ("&lt;!channel&gt;", "&amp;lt;!channel&amp;gt;"),  # already-escaped text is not un-escaped by Slack
        ("plain words", "plain words"),
    ],
)
def test_escape(typed: str, shown: str) -> None:
    assert escape(typed).replace(ZWJ, "") == shown  # the zero-width joiners are for markup (below)
    assert "<" not in escape(typed) and ">" not in escape(typed)


def test_long_and_many_things_stay_within_slack_limits() -> None:
    long = "x" * 5000
    card = Card(
        title=long,
        facts=[Fact(f"Fact {i}", long) for i in range(25)],
        sections=[Section(f"Section {i}", [long]) for i in range(60)],
        buttons=[Button(f"Button {i} {long}", "approve", str(i), confirm=long) for i in range(30)],
        footer=long,
    )
    blocks = card_blocks(card)
    assert len(blocks) == MAX_MESSAGE_BLOCKS
    assert_slack_accepts(blocks)
    # Limits slack_sdk does not check: 10 fields of at most 2000 characters, 3000 for section text.
    for block in blocks:
        assert len(block.get("fields", [])) <= 10
        assert all(len(f["text"]) <= 2000 for f in block.get("fields", []))
        assert len(block.get("text", {}).get("text", "")) <= 3000
        assert len(block.get("elements", [])) <= 25
    form = Form("audit", long, long, "1", [FormField(f"f{i}", long, "text", initial="y" * 2000) for i in range(150)], [long])
    view = form_view(form)
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    assert_slack_accepts(view["blocks"])
    assert View(**view).to_dict() == view


def test_a_long_list_of_ticks_becomes_a_multi_select() -> None:
    """Slack allows at most 10 checkboxes (slack_sdk does not check); e.g. a large family group."""
    members = [Option(str(3549700 + i), f"{3549700 + i} (AB)") for i in range(12)]
    few = form_view(Form("x", "T", "S", "m", [FormField("applies_to", "Also", "checkboxes", members[:10], [members[0].value])]))
    many = form_view(Form("x", "T", "S", "m", [FormField("applies_to", "Also", "checkboxes", members, [members[0].value])]))
    assert few["blocks"][0]["element"]["type"] == "checkboxes"
    element = many["blocks"][0]["element"]
    assert element["type"] == "multi_static_select" and len(element["options"]) == 12
    assert element["initial_options"] == [element["options"][0]]
    assert_slack_accepts(many["blocks"])


def test_read_values_reads_every_element_type() -> None:
    form = Form(
        "x", "T", "S", "m",
        [
            FormField("reason", "Reason", "select", [Option("RC7", "RC7 ...")]),
            FormField("closure_date", "Date", "date"),
            FormField("summary", "Summary", "textarea"),
            FormField("done", "Done", "checkboxes", [Option("visit_done", "Visit")], optional=True),
            FormField("applies_to", "Also", "multiselect", [Option("3549724", "3549724")], optional=True),
        ],
    )
    assert [b["element"]["type"] for b in form_view(form)["blocks"]] == [
        "static_select", "datepicker", "plain_text_input", "checkboxes", "multi_static_select",
    ]
    state = {
        "reason": {"reason": {"type": "static_select", "selected_option": {"value": "RC7"}}},
        "closure_date": {"closure_date": {"type": "datepicker", "selected_date": dt.date(2026, 11, 26).isoformat()}},
        "summary": {"summary": {"type": "plain_text_input", "value": "Done <!channel>"}},
        "done": {"done": {"type": "checkboxes", "selected_options": []}},
        "applies_to": {"applies_to": {"type": "multi_static_select", "selected_options": [{"value": "3549724"}]}},
    }
    assert read_values(state) == {
        "reason": "RC7", "closure_date": "2026-11-26", "summary": "Done <!channel>", "done": [], "applies_to": ["3549724"],
    }
