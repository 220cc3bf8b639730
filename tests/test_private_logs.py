"""No personal data in logs, whatever happens (issue 5): the whole log, every logger at DEBUG, is scanned.

Two things that used to leak: Bolt logs a request with a bad signature
including its body, and a database error carries SQL parameters (or quotes a
row). Both requests here carry fixture names and a date of birth; the log must
say what happened (IDs, the exception type) and nothing of the person.
"""

from __future__ import annotations

import logging
from urllib.parse import urlencode

import pytest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from test_slack_http import SlackDriver, Store, slack, slack_api, store  # noqa: F401  (fixtures)

from bot.slack_app import SORRY
from store.db import make_engine

PRIVATE = ("Lily", "Marsh", "2015-06-14", "14/06/2015", "12 Fen Road")


def assert_nothing_private(caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text + "".join(repr(r.args) for r in caplog.records)
    for word in PRIVATE:
        assert word not in logged, f"{word!r} was logged"


def test_a_bad_signature_is_refused_and_its_body_is_not_logged(slack: SlackDriver, store: Store, caplog) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)  # the root logger: every logger's records
    body = urlencode({"command": "/case", "text": "close 3549723 Lily Marsh born 2015-06-14 of 12 Fen Road",
                      "user_id": "U0AMY", "trigger_id": "1.2.3"})
    answer = slack.post(body, "application/x-www-form-urlencoded", secret="forged")
    assert answer.status == 401
    assert store.writes() == (0, 0, 0)
    assert "Invalid request signature detected [details withheld]" in caplog.text  # logged, without the body
    assert_nothing_private(caplog)


def test_a_database_failure_logs_ids_and_the_error_type_and_tells_the_person(slack: SlackDriver, store: Store, caplog) -> None:  # noqa: F811
    slack.command("U0AMY", "close 3549723")
    form = slack.last_view("request_closure")
    caplog.set_level(logging.DEBUG)
    engine = slack.app.uow.args[0].kw["bind"]
    with engine.begin() as conn:  # the event log is gone: the request's transaction cannot commit
        conn.execute(text("ALTER TABLE events RENAME TO events_away"))
    try:
        answer = slack.submit("U0AMY", form, {"reason": "RC7", "summary": "Lily Marsh (born 14/06/2015, 2015-06-14) moved to 12 Fen Road."})
    finally:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE events_away RENAME TO events"))
    assert answer.status == 200  # the modal closes; the person is told in their DM
    assert [m.text for m in slack.dms("U0AMY")][-1] == SORRY
    assert store.writes() == (0, 0, 0)
    unhandled = [r.getMessage() for r in caplog.records if r.getMessage().startswith("unhandled ")]
    assert len(unhandled) == 1 and "view_submission" in unhandled[0] and "U0AMY" in unhandled[0]
    assert "Error" in unhandled[0]  # the exception's type, e.g. OperationalError or ProgrammingError
    assert_nothing_private(caplog)


def test_an_error_in_a_slash_command_is_answered_in_plain_words(slack: SlackDriver, store: Store, caplog, monkeypatch) -> None:  # noqa: F811
    caplog.set_level(logging.DEBUG)

    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("Lily Marsh 2015-06-14")  # an exception whose text would leak

    monkeypatch.setattr(slack.app.interactions, "command", broken)
    answer = slack.command("U0AMY", "status 3549723")
    assert answer.status == 200
    assert answer.json() == {"response_type": "ephemeral", "text": SORRY}
    assert "unhandled RuntimeError in slack /case from U0AMY" in caplog.text
    assert_nothing_private(caplog)


def test_database_errors_carry_no_sql_parameters(db_url: str) -> None:
    """Whoever logs a database error (the deliverer, the scheduler) logs no values: engines hide parameters."""
    engine = make_engine(db_url)
    try:
        with pytest.raises(SQLAlchemyError) as caught, engine.begin() as conn:
            conn.execute(text("INSERT INTO no_such_table (name, born) VALUES (:name, :born)"), {"name": "Lily Marsh", "born": "2015-06-14"})
        assert "hidden" in str(caught.value)
        assert "Lily" not in str(caught.value) and "2015-06-14" not in str(caught.value)
    finally:
        engine.dispose()


def test_a_failing_job_or_outbox_run_logs_its_type_and_place_never_its_message(seeded, ctx, caplog):
    """Our own failure logs (scheduler jobs, the outbox retry, the console) carry the exception's
    type and frames only: a database error's text can quote a row with a name and a date of birth."""
    from types import SimpleNamespace

    from worktray.scheduler import drain_outbox, run_job

    def broken_job(uow, ctx):
        raise RuntimeError('Failing row contains (3549723, Lily, Marsh, 2015-06-14)')

    class BrokenDeliverer:
        def drain(self) -> int:
            raise ValueError("Kai Ellison, 28/11/2016")

    with caplog.at_level(logging.DEBUG):
        assert run_job(seeded, ctx, broken_job) == 0
        assert drain_outbox(SimpleNamespace(deliverer=BrokenDeliverer())) == 0
    text = caplog.text
    assert "job broken_job failed: RuntimeError at test_private_logs.py:" in text
    assert "outbox retry failed: ValueError at test_private_logs.py:" in text
    for secret in ("Lily", "Marsh", "2015-06-14", "Kai", "Ellison", "28/11/2016"):
        assert secret not in text, secret
    assert all(record.exc_info is None for record in caplog.records)


def test_fetched_rows_are_not_logged_even_with_sqlalchemy_at_debug(db_url: str, caplog) -> None:
    """SQLAlchemy logs each fetched row at DEBUG; store.db holds its logger at WARNING, but a deployment's
    logging config (or echo) can lower it again. The rows are withheld on the logger itself (issue 8)."""
    engine = make_engine(db_url)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="sqlalchemy.engine")
    try:
        with engine.connect() as conn:
            row = conn.execute(text("SELECT CAST(:name AS VARCHAR(20)) AS n, CAST(:born AS VARCHAR(20)) AS b"),
                               {"name": "Lily Marsh", "born": "2015-06-14"}).one()
            assert tuple(row) == ("Lily Marsh", "2015-06-14")
    finally:
        engine.dispose()
    assert "Row [withheld]" in caplog.text  # the row was logged, as SQLAlchemy does at DEBUG, without its values
    assert "Lily" not in caplog.text and "2015-06-14" not in caplog.text
