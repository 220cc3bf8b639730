"""The work tray over Slack's HTTP path (issue 8): the App Home republished when something in
it changes (for people who have opened it: issue 9), acting from Home redraws the channel card,
and ``/worktray``, and each working morning the Home of everyone who opened it recently
(``worktray.scheduler.refresh_homes``). Signed requests against the mock Web API
(tests/slack_mock.py), SQLite and PostgreSQL, at a fixed time that the tests move."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from urllib.parse import urlencode

from conftest import NOW
from slack_mock import Message
from sqlalchemy import select
from test_slack_http import (  # noqa: F401 (fixtures)
    BS,
    MGR,
    NAMES_OF_CLIENTS,
    SlackDriver,
    Store,
    button,
    slack,
    slack_api,
    store,
)

from bot.blockkit import MAX_VIEW_BLOCKS
from store.models import HomeViewer, JobRun, OutboxMessage
from workflows import tray
from workflows.clock import LONDON, FixedClock
from worktray.scheduler import REFRESH_HOMES, morning


def worktray(driver: SlackDriver, user: str, text: str = "") -> dict[str, Any]:
    body = urlencode({
        "token": "legacy-verification-token", "team_id": "T0FEN", "team_domain": "fenshire",
        "channel_id": "C0GENERAL", "channel_name": "general", "user_id": user, "user_name": user.lower(),
        "command": "/worktray", "text": text, "api_app_id": "A0WORKTRAY", "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0FEN/1/x", "trigger_id": driver.trigger(),
    })
    response = driver.post(body, "application/x-www-form-urlencoded")
    assert response.status == 200
    answer: dict[str, Any] = response.json()
    return answer


def shown(value: Any) -> str:
    """What a person reads: the JSON as text, without the zero-width joiners ``escape`` adds."""
    return json.dumps(value, ensure_ascii=False).replace("\u200d", "")


def homes(driver: SlackDriver, user: str) -> list[dict[str, Any]]:
    """The Home views published to ``user`` (that Slack accepted), oldest first."""
    return [c.args["view"] for c in driver.api.calls if c.method == "views.publish" and c.result.get("ok") and c.args["user_id"] == user]


def home_click(driver: SlackDriver, user: str, view: dict[str, Any], label: str) -> None:
    """Press a button on a published Home view: the payload's container is the view, with no channel."""
    as_message = Message(channel="", ts="", text="", blocks=view["blocks"])
    payload = driver.click_payload(user, as_message, button(as_message, label))
    payload["container"] = {"type": "view", "view_id": "V0HOME"}
    payload.pop("channel")
    payload.pop("message")
    payload["view"] = {"id": "V0HOME", "type": "home", "blocks": view["blocks"], "callback_id": "", "state": {"values": {}}}
    assert driver.interactive(payload).status == 200


def open_homes(driver: SlackDriver, *users: str) -> None:
    """The users open the bot's Home tab (app_home_opened): from then on it is republished when it changes."""
    for user in users:
        assert driver.home_opened(user).status == 200


def request_and_approve(slack: SlackDriver) -> None:  # noqa: F811
    slack.command("U0AMY", "close 3549723")
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."}).body == ""
    slack.click("U0MARIA", slack.card(MGR, "Closure request 1"), "Approve")
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""


def test_a_manager_approving_on_the_channel_card_republishes_business_supports_home(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    open_homes(slack, "U0MARIA", "U0SAM")
    slack.command("U0AMY", "close 3549723")
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."}).body == ""
    maria = homes(slack, "U0MARIA")[-1]  # republished when the request was delivered, without opening the tab again
    assert maria["type"] == "home" and "Awaiting your decision · Closure request 1 · 3549723 (LM)" in shown(maria)
    assert [b["value"] for b in maria["blocks"] if b["type"] == "actions" for b in b["elements"]][:2] == ["1", "1"]
    before = len(homes(slack, "U0SAM"))
    slack.click("U0MARIA", slack.card(MGR, "Closure request 1"), "Approve")
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""
    assert store.request(1).state == "approved"
    sam = homes(slack, "U0SAM")
    assert len(sam) > before
    text = shown(sam[-1])
    assert "Unclaimed in the virtual worker · Closure request 1 · 3549723 (LM)" in text and '"Claim"' in text
    for name in NAMES_OF_CLIENTS:  # business support: ID and initials only
        assert name not in text
    assert "Closure request 1" not in shown(homes(slack, "U0MARIA")[-1]).split("Your teams")[0]  # no longer hers to decide


def test_claiming_from_home_updates_the_channel_card_and_the_clickers_home(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    open_homes(slack, "U0SAM", "U0TESS")
    request_and_approve(slack)
    card = slack.card(BS, "Closure request 1")
    edits = card.edits
    home_click(slack, "U0SAM", homes(slack, "U0SAM")[-1], "Claim")
    assert store.request(1).state == "claimed" and store.request(1).holder == "sam"
    # The business-support channel card is redrawn in place through the outbox (chat.update), as after a click there.
    updated = slack.card(BS, "Closure request 1")
    assert updated.ts == card.ts and updated.edits > edits and "Claimed" in shown(updated.blocks)
    assert any(c["channel"] == BS and c["ts"] == card.ts for c in slack.api.calls_to("chat.update"))
    # The clicker's Home shows the item as theirs; no DM says so again (a Home press has no
    # channel to answer in: the reply would be a permanent DM per click).
    assert "Held by you · Closure request 1" in shown(homes(slack, "U0SAM")[-1])
    assert not [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == "U0SAM"]
    assert "Closure request 1" not in shown(homes(slack, "U0TESS")[-1])  # out of tess's queue


def test_opening_home_and_show_more_pages(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    request_and_approve(slack)
    assert slack.home_opened("U0SAM").status == 200
    view = homes(slack, "U0SAM")[-1]
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS and "My work tray: 1 waiting" in shown(view)
    stranger = slack.home_opened("U0STRANGER")
    assert stranger.status == 200 and "not in worktray's organisation config" in shown(homes(slack, "U0STRANGER")[-1])
    # "Show more" (action tray_more) republishes Home at the page asked for; an odd value shows page 1.
    more = {"type": "actions", "elements": [{"type": "button", "action_id": "wt:tray_more", "text": {"type": "plain_text", "text": "Show more"}, "value": "x9"}]}
    count = len(homes(slack, "U0SAM"))
    home_click(slack, "U0SAM", {"blocks": [more]}, "Show more")
    assert len(homes(slack, "U0SAM")) == count + 1 and "My work tray: 1 waiting" in shown(homes(slack, "U0SAM")[-1])
    for odd in ("²", "99999999999", "3"):  # not a page number, too long, past the last page: page 1 of 1
        more["elements"][0]["value"] = odd
        home_click(slack, "U0SAM", {"blocks": [more]}, "Show more")
    assert len(homes(slack, "U0SAM")) == count + 4 and "My work tray: 1 waiting" in shown(homes(slack, "U0SAM")[-1])
    assert store.request(1).state == "approved"


def test_worktray_command_replies_ephemerally_and_refuses_bad_input(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    request_and_approve(slack)
    answer = worktray(slack, "U0SAM")
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("My work tray: 1 waiting")
    assert "Unclaimed in the virtual worker · Closure request 1 · 3549723 (LM)" in shown(answer["blocks"])
    assert len(answer["blocks"]) <= 50
    assert worktray(slack, "U0SAM", "adults-south")["text"].startswith("My work tray in Adults South: 0 waiting")
    for text, reason in [
        ("12plus", "Only people with a role in 12+ may see its work tray."),
        ("nosuch", "There is no team 'nosuch'"),
        ("u12 more", "Usage: `/worktray`"),
    ]:
        refused = worktray(slack, "U0SAM", text)
        said = refused["text"].replace("\u200d", "")
        assert refused["response_type"] == "ephemeral" and reason in said and "blocks" not in refused, (text, refused)
        assert "Usage: `/worktray` (all your teams)" in said and "\n" not in said
    assert "not in worktray's organisation config" in worktray(slack, "U0STRANGER")["text"]
    assert store.request(1).state == "approved"


def test_a_failed_home_publish_loses_no_delivery(slack: SlackDriver, store: Store, caplog: Any) -> None:  # noqa: F811
    """Best effort: Slack refusing views.publish is logged (IDs and the error code only); the cards
    are delivered and recorded as usual, and the next change publishes the Home again."""
    open_homes(slack, "U0AMY", "U0MARIA", "U0SAM", "U0TESS")
    for _ in range(3):  # the next three Home publishes are refused
        slack.api.fail("views.publish", "invalid_auth")
    slack.command("U0AMY", "close 3549723")
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."}).body == ""
    assert "Closure request 1" in slack.card(MGR, "Closure request 1").text
    with store.new() as uow:
        assert all(row.sent_at is not None for row in uow.session.scalars(select(OutboxMessage)))
    warnings = [r.getMessage() for r in caplog.records if "not published" in r.getMessage()]
    assert len(warnings) == 3 and all("invalid_auth" in w and "Lily" not in w for w in warnings)
    slack.click("U0MARIA", slack.card(MGR, "Closure request 1"), "Approve")
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""
    assert "Closure request 1" in shown(homes(slack, "U0SAM")[-1])


def test_only_people_who_opened_home_get_it_republished(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    """Issue 9: after a delivery the Home tab is drawn and published only for people who have
    opened it (noted in the store, ``home_viewers``); Slack draws it afresh for anyone else when
    they open it, so drawing it for them would spend CPU and views.publish's rate limit for nothing."""
    open_homes(slack, "U0SAM")  # sam (business support) opened Home once; tess (business support too) never
    slack.command("U0AMY", "close 3549723")
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."}).body == ""
    sam_before = len(homes(slack, "U0SAM"))
    slack.click("U0MARIA", slack.card(MGR, "Closure request 1"), "Approve")
    assert slack.submit("U0MARIA", slack.last_view("approve"), {}).body == ""
    assert store.request(1).state == "approved"  # both are now asked to claim it (the virtual-worker queue)
    assert len(homes(slack, "U0SAM")) == sam_before + 1
    assert "Unclaimed in the virtual worker · Closure request 1" in shown(homes(slack, "U0SAM")[-1])
    published_to = {c.args["user_id"] for c in slack.api.calls if c.method == "views.publish"}
    assert published_to == {"U0SAM"}  # not tess, not maria nor amy (they never opened Home)
    # tess opens Home: she is shown the tray as it is now, and is republished from then on.
    open_homes(slack, "U0TESS")
    assert "Unclaimed in the virtual worker · Closure request 1" in shown(homes(slack, "U0TESS")[-1])
    tess_before = len(homes(slack, "U0TESS"))
    home_click(slack, "U0SAM", homes(slack, "U0SAM")[-1], "Claim")
    assert store.request(1).state == "claimed"
    assert len(homes(slack, "U0TESS")) == tess_before + 1 and "Closure request 1" not in shown(homes(slack, "U0TESS")[-1])
    with store.new() as uow:
        viewers = {v.chat_user_id: (v.first_opened_at, v.last_opened_at) for v in uow.session.scalars(select(HomeViewer))}
    assert set(viewers) == {"U0SAM", "U0TESS"}
    assert all(first == last for first, last in viewers.values())  # a fixed clock


def test_opening_home_again_keeps_the_first_opening(slack: SlackDriver, store: Store) -> None:  # noqa: F811
    """The note is an upsert: opening Home again moves ``last_opened_at`` only (one row per person)."""
    open_homes(slack, "U0SAM", "U0SAM", "U0SAM")
    with store.new() as uow:
        assert list(uow.session.scalars(select(HomeViewer.chat_user_id))) == ["U0SAM"]
    assert len(homes(slack, "U0SAM")) == 3


# -- the morning refresh: Home kept current as the working days pass -------------------------------


def line(view: dict[str, Any], text: str) -> str:
    """The one line of a Home view that mentions ``text``, as it reads (without its bold marks)."""
    [found] = [b["text"]["text"] for b in view["blocks"] if b["type"] == "section" and text in b["text"].get("text", "")]
    return str(found).replace("\u200d", "").strip("*")


def published_since(driver: SlackDriver, count: int) -> list[str]:
    """To whom Home was published (Slack accepting it) after the first ``count`` calls, in order."""
    return [c.args["user_id"] for c in driver.api.calls[count:] if c.method == "views.publish" and c.result.get("ok")]


def morning_at(driver: SlackDriver, clock: FixedClock, local: dt.datetime) -> tuple[int, list[str]]:
    """The morning round's job body (what its 07:00 London trigger calls) at ``local``, London time:
    how many Homes it handed over, and to whom Home was published."""
    clock.at = local.replace(tzinfo=LONDON).astimezone(dt.UTC)
    count = len(driver.api.calls)
    done = morning(driver.app)
    return done[REFRESH_HOMES], published_since(driver, count)


def test_each_working_morning_republishes_the_homes_opened_recently_with_the_days_ages(
    slack: SlackDriver, store: Store, clock: FixedClock, caplog: Any  # noqa: F811
) -> None:
    """A Home kept open shows the day's ages (D4) and overdue marks: each working morning the
    Homes opened in the last 30 days are redrawn, once a day across runs; not those opened
    longer ago, nor anyone who never opened it, nor on a day that is not a working day."""
    clock.at = NOW - tray.RECENT_HOME_VIEWERS - dt.timedelta(days=1)
    open_homes(slack, "U0TESS")  # business support of Under 12s too, but Home unopened for over 30 days
    clock.at = NOW  # Thursday 26 November
    open_homes(slack, "U0SAM", "U0MARIA")
    request_and_approve(slack)  # unclaimed in the virtual worker from today (unclaimed_after: 1 working day)
    assert line(homes(slack, "U0SAM")[-1], "Closure request 1").startswith("Unclaimed in the virtual worker · Closure request 1 · 3549723 (LM)")
    assert line(homes(slack, "U0SAM")[-1], "Closure request 1").endswith("· 0 working days")

    slack.api.fail("views.publish", "invalid_auth")  # the first publish of the morning (maria's) is refused
    assert morning_at(slack, clock, dt.datetime(2026, 11, 27, 7)) == (2, ["U0SAM"])  # Friday: not tess, amy, ...
    assert [r.getMessage() for r in caplog.records if "not published" in r.getMessage()] == [
        "home of U0MARIA not published: SlackApiError: invalid_auth"  # IDs and the error code only
    ]
    friday = line(homes(slack, "U0SAM")[-1], "Closure request 1")
    assert friday.startswith("OVERDUE by 0 working days · Unclaimed in the virtual worker") and friday.endswith("· 1 working day")

    assert morning_at(slack, clock, dt.datetime(2026, 11, 27, 9, 30)) == (0, [])  # a restart's run, the same day
    assert morning_at(slack, clock, dt.datetime(2026, 11, 28, 7)) == (0, [])  # Saturday: no age moves
    assert morning_at(slack, clock, dt.datetime(2026, 11, 30, 7)) == (2, ["U0MARIA", "U0SAM"])  # Monday
    monday = line(homes(slack, "U0SAM")[-1], "Closure request 1")
    assert monday.startswith("OVERDUE by 1 working day · ") and monday.endswith("· 2 working days")
    assert "My work tray: 0 waiting" in shown(homes(slack, "U0MARIA")[-1])
    with store.new() as uow:
        runs = uow.session.scalars(select(JobRun.period).where(JobRun.job == tray.HOME_REFRESH_JOB).order_by(JobRun.period))
        assert list(runs) == ["2026-11-27", "2026-11-30"]


def test_the_morning_refresh_takes_an_ended_deputy_period_off_home(slack: SlackDriver, store: Store, clock: FixedClock) -> None:  # noqa: F811
    """A deputy period ends at the end of its last day (midnight, London): the next working
    morning's refresh redraws the deputy's Home without the absent person's lines."""
    assert worktray(slack, "U0MARIA", "deputy <@U0PIA> until 2026-11-26")["text"].startswith("Pia Novak is your deputy")
    open_homes(slack, "U0PIA")
    slack.command("U0AMY", "close 3549723")
    assert slack.submit("U0AMY", slack.last_view("request_closure"), {"reason": "RC7", "summary": "Done."}).body == ""
    assert line(homes(slack, "U0PIA")[-1], "Closure request 1").endswith("· on behalf of Maria Lopez")
    assert morning_at(slack, clock, dt.datetime(2026, 11, 27, 7)) == (1, ["U0PIA"])
    assert "Closure request 1" not in shown(homes(slack, "U0PIA")[-1])
    assert store.request(1).state == "requested"
