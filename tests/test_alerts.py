"""Alerts at the Head Office: each condition raised once and cleared once, recorded, sent.

Real consumer, real branch agents, real broker and databases; the webhook is a local
HTTP server and the e-mail a minimal SMTP sink (tests/alert_sinks.py).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import subprocess
import sys
import time
from collections import Counter

import pytest
from sqlalchemy import text

from devtools.linkproxy import LinkProxy
from models.alerts import read_alerts
from models.day_close import Ask, DayState, ask_branch, day_close, sale_differences
from models.schema import make_engine
from sync import dead_letters, protocol
from sync.alerts import AlertMonitor
from sync.head_office import HeadOfficeService
from sync.intake import IntakeConsumer
from sync.office import init_database
from sync.relay import OutboxRelay
from sync.states import ConsumerState
from sync.status import report as status_report
from tests.alert_sinks import SmtpSink, WebhookSink
from tests.harness import (
    BROKER,
    ROOT,
    assert_converged,
    changes_body,
    insert_sales,
    kill9,
    publish_raw,
    running,
    spawn,
    upsert,
    via_port,
    wait_for,
    with_amqp,
)


@pytest.fixture
def hook():
    sink = WebhookSink()
    yield sink
    sink.close()


@pytest.fixture
def smtp():
    sink = SmtpSink()
    yield sink
    sink.close()


def report(offices, branch: str, pending: int, rate: int | None, window: int | None) -> None:
    """A branch's report of version 3, as a branch of this release sends it."""
    at = int(time.time() * 1000)
    with offices.engine(branch).connect() as conn:
        origin = conn.execute(text("SELECT value FROM sync_state WHERE name = 'origin'")).scalar_one()
    publish_raw(offices, protocol.encode_report(protocol.Report(branch, origin, at, True, None, pending, 0, rate,
                                                                window, 3)), branch=branch)


def reported(offices, branch: str) -> bool:
    """Whether the branch's own report has reached the Head Office (it sends one once it knows the HO's version)."""
    with offices.engine("ho").connect() as conn:
        return conn.execute(text("SELECT reported_at FROM sync_branches WHERE code = :b"), {"b": branch}).scalar() \
            is not None


def said(hook: WebhookSink, kind: str, branch: str | None, state: str) -> bool:
    return any(b["kind"] == kind and b["branch"] == branch and b["state"] == state for b in hook.bodies())


def test_each_condition_is_raised_once_and_cleared_once_at_the_webhook_and_by_mail_even_across_a_restart(
        make_offices, hook, smtp):
    offices = make_offices(branches=2, alert_check_seconds=0.2, capture_check_minutes=0.01, sync_windows=["00:00-23:59"],
                           alert_webhook_url=hook.url, smtp_host="127.0.0.1", smtp_port=smtp.port,
                           alert_mail_from="ho@example.com", alert_mail_to=["ops@example.com"])
    ho, bo1, bo2 = offices.engine("ho"), offices.engine("bo1"), offices.engine("bo2")
    with bo1.begin() as conn:  # the pace bo1 measured in an earlier window
        conn.execute(text("INSERT INTO sync_state (name, value) VALUES ('drain_per_minute', '1234')"))
    monitors = [AlertMonitor(offices.ho)]
    with LinkProxy(BROKER) as link:
        consumer = IntakeConsumer(with_amqp(offices.ho, via_port(offices.amqp_url, link.port)),
                                  on_event=lambda event: monitors[-1].on_event(event))
        monitors[0].start()
        with running(consumer, OutboxRelay(offices.branch("bo1")), OutboxRelay(offices.branch("bo2"))):
            insert_sales(bo1, 3)
            insert_sales(bo2, 3, start=10)
            assert_converged(offices)

            # Silent: nothing heard from bo2 for three hours, then a sale.
            wait_for(lambda: reported(offices, "bo1") and reported(offices, "bo2"), 30, "the branches' own reports")
            with ho.begin() as conn:
                conn.execute(text("UPDATE sync_branches SET last_applied_at = NOW() - INTERVAL 3 HOUR, "
                                  "reported_at = NULL WHERE code = 'bo2'"))
            wait_for(lambda: said(hook, "silent", "bo2", "raised"), 30, "bo2's silence to be raised")
            insert_sales(bo2, 1, start=20)
            wait_for(lambda: said(hook, "silent", "bo2", "cleared"), 30, "bo2's silence to be cleared")

            # Capture broken at bo1; the Head Office restarts its monitor meanwhile.
            with bo1.begin() as conn:
                conn.execute(text("DROP TRIGGER sales_capture_insert"))
            wait_for(lambda: said(hook, "capture_broken", "bo1", "raised"), 30, "bo1's broken capture to be raised")
            monitors[0].stop()
            monitors.append(AlertMonitor(offices.ho))
            monitors[1].start()
            wait_for(lambda: monitors[1].checks >= 3, 10, "the restarted monitor to check a few times")
            init_database(offices.branch("bo1"))  # what init-db does: bo1's capture repaired
            wait_for(lambda: said(hook, "capture_broken", "bo1", "cleared"), 30, "bo1's capture to be cleared")
            with ho.connect() as conn:  # bo1 reported with version 3: its pace and its window
                rate, window = conn.execute(text("SELECT drain_per_minute, window_seconds FROM sync_branches "
                                                 "WHERE code = 'bo1'")).one()
            assert rate == 1234 and 0 < window <= 24 * 3600

            # A dead letter waits at bo1, then a person discards it.
            publish_raw(offices, b"not a message", branch="bo1")
            wait_for(lambda: said(hook, "dead_letters", "bo1", "raised"), 30, "bo1's dead letter to be raised")
            for letter in dead_letters.parked(ho):
                assert dead_letters.discard(ho, letter.id)
            wait_for(lambda: said(hook, "dead_letters", "bo1", "cleared"), 30, "bo1's dead letter to be cleared")

            # A backlog that does not fit the next window (10,000 at 100 a minute, in 10 minutes), then drained.
            report(offices, "bo1", pending=10_000, rate=100, window=600)
            wait_for(lambda: said(hook, "backlog", "bo1", "raised"), 30, "bo1's backlog to be raised")
            report(offices, "bo1", pending=0, rate=100, window=600)
            wait_for(lambda: said(hook, "backlog", "bo1", "cleared"), 30, "bo1's backlog to be cleared")

            # The consumer loses the broker, then finds it again.
            link.cut()
            wait_for(lambda: said(hook, "consumer_offline", None, "raised"), 30, "the consumer's loss to be raised")
            link.restore()
            wait_for(lambda: consumer.state is ConsumerState.ONLINE, 30, "the consumer to be back online")
            wait_for(lambda: said(hook, "consumer_offline", None, "cleared"), 30, "the consumer's return to be cleared")
            time.sleep(1)  # five more checks: nothing more may be said
        monitors[1].stop()

    expected = {(kind, branch, state) for kind, branch in [("silent", "bo2"), ("capture_broken", "bo1"),
                                                           ("dead_letters", "bo1"), ("backlog", "bo1"),
                                                           ("consumer_offline", None)]
                for state in ("raised", "cleared")}
    sent = Counter((b["kind"], b["branch"], b["state"]) for b in hook.bodies())
    assert sent == Counter(expected), sent
    for body in hook.bodies():
        assert body["sentence"] and body["at"], body
    wait_for(lambda: len(smtp.received()) == len(expected), 30, "one e-mail per raise and clear")
    subjects = Counter(m["Subject"] for m in smtp.received())
    assert subjects["[Branch Sync] raised: capture broken at branch bo1"] == 1, subjects
    assert subjects["[Branch Sync] cleared: consumer offline at the Head Office"] == 1, subjects
    active, history = read_alerts(ho)
    assert active == []
    assert Counter((a.kind, a.branch or None) for a in history) == Counter((k, b) for k, b, s in expected if s == "raised")


def test_a_webhook_that_fails_gets_its_alert_once_it_recovers_and_never_holds_the_checks_back(make_offices):
    hook = WebhookSink(answers=[500, 500, 503])
    try:
        offices = make_offices(branches=1, alert_check_seconds=0.1, alert_webhook_url=hook.url)
        monitor = AlertMonitor(offices.ho)
        courier = monitor.couriers[0]
        with running(monitor):
            with offices.engine("ho").begin() as conn:  # as the report of a broken capture writes it
                conn.execute(text("UPDATE sync_branches SET capture_ok = 0, capture_problem = 'trigger gone' "
                                  "WHERE code = 'bo1'"))
            wait_for(lambda: hook.requests >= 2, 30, "the webhook to be tried and to fail")
            checks = monitor.checks
            wait_for(lambda: monitor.checks >= checks + 3, 10, "the checks to go on while the webhook fails")
            wait_for(lambda: hook.bodies(), 30, "the webhook to get the alert once it answers 200")
            wait_for(lambda: courier.waiting() == 0, 10, "nothing left to send")
            said_by_status, _code = status_report(offices.ho)
            assert "alerts active: 1" in said_by_status and "trigger gone" in said_by_status, said_by_status
        assert hook.requests == 4
        assert [(b["kind"], b["branch"], b["state"]) for b in hook.bodies()] == [("capture_broken", "bo1", "raised")]
        assert "trigger gone" in hook.bodies()[0]["sentence"]
    finally:
        hook.close()


def test_the_consumer_waiting_for_its_database_is_sent_at_once_and_written_to_the_history_once_it_answers(offices, hook):
    url = make_engine(offices.ho.db_url).url
    with LinkProxy((url.host, url.port or 3306)) as proxy:
        via_proxy = offices.ho.db_url.replace(f"{url.host}:{url.port or 3306}", f"127.0.0.1:{proxy.port}")
        cfg = dataclasses.replace(offices.ho, db_url=via_proxy, alert_check_seconds=0.2, alert_webhook_url=hook.url)
        service = HeadOfficeService(cfg)
        with running(service):
            wait_for(lambda: service.consumer.state is ConsumerState.ONLINE and service.monitor.checks > 0, 30,
                     "the consumer and the monitor to start")
            proxy.cut()
            publish_raw(offices, changes_body("bo1", "db-1", [upsert(1, 1, qty=1)]))
            wait_for(lambda: said(hook, "database_waiting", None, "raised"), 30, "the wait to be sent while it lasts")
            assert read_alerts(offices.engine("ho"))[1] == []  # nothing could be written yet
            proxy.restore()
            wait_for(lambda: said(hook, "database_waiting", None, "cleared"), 60, "the end of the wait to be sent")
            wait_for(lambda: read_alerts(offices.engine("ho"))[1], 30, "the history to be written")
    assert [(b["kind"], b["state"]) for b in hook.bodies()] == [("database_waiting", "raised"),
                                                                 ("database_waiting", "cleared")]
    active, (written,) = read_alerts(offices.engine("ho"))
    assert active == [] and written.kind == "database_waiting" and written.cleared_at >= written.raised_at
    assert "waiting for its database" in written.sentence


def _different_days_certified(offices, day: dt.date) -> bool:
    return any(d.day == day and d.state is DayState.CERTIFIED for d in day_close(offices.engine("ho"), ["bo1"]))


def test_a_day_that_differs_is_raised_once_and_cleared_once_at_the_webhook(make_offices, hook):
    """A hand edit at the Head Office of a day nobody reports is found by the sweep of all 62 days."""
    offices = make_offices(branches=1, alert_check_seconds=0.1, day_sweep_seconds=0.5, alert_webhook_url=hook.url)
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    day = dt.date.today() - dt.timedelta(days=3)
    _kept, removed, *_ = insert_sales(bo1, 4, day=day)
    monitor = AlertMonitor(offices.ho)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1")), monitor):
        wait_for(lambda: _different_days_certified(offices, day), 60, "the day to be certified")
        with ho.begin() as conn:  # a sale deleted by hand at the Head Office
            conn.execute(text("DELETE FROM sales WHERE branch = 'bo1' AND branch_sale_id = :i"), {"i": removed})
        wait_for(lambda: said(hook, "day_different", "bo1", "raised"), 30, "the different day to be raised")
        checks = monitor.checks
        wait_for(lambda: monitor.checks >= checks + 20, 30, "two more judgements of the days while it lasts")
        resent = subprocess.run([sys.executable, "-m", "sync", "resend", "--config", str(offices.paths["bo1"]),
                                 "--date", day.isoformat()], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert resent.returncode == 0, resent.stderr
        wait_for(lambda: said(hook, "day_different", "bo1", "cleared"), 30, "the repaired day to be cleared")
        checks = monitor.checks
        wait_for(lambda: monitor.checks >= checks + 20, 30, "two more judgements of the days once it ended")
    sent = [(b["kind"], b["branch"], b["state"]) for b in hook.bodies()]
    assert sent == [("day_different", "bo1", "raised"), ("day_different", "bo1", "cleared")], sent
    assert f"{day:%Y-%m-%d}" in hook.bodies()[0]["sentence"]
    active, history = read_alerts(ho)
    assert active == [] and [(a.kind, a.branch) for a in history] == [("day_different", "bo1")]


def test_a_notice_not_yet_sent_when_the_head_office_is_killed_is_sent_once_it_runs_again(make_offices):
    hook = WebhookSink(answers=[500] * 100_000)  # the receiver is down while the alert is raised
    try:
        offices = make_offices(branches=1, alert_check_seconds=0.1, alert_webhook_url=hook.url,
                               backoff_initial_seconds=0.05, backoff_max_seconds=0.2)
        with offices.engine("ho").begin() as conn:  # as the report of a broken capture writes it
            conn.execute(text("UPDATE sync_branches SET capture_ok = 0, capture_problem = 'trigger gone' "
                              "WHERE code = 'bo1'"))
        head_office = spawn("ho_app.py", offices.paths["ho"], "--headless")
        try:
            wait_for(lambda: hook.requests >= 3, 60, "the raised alert to be tried at the failing webhook")
        finally:
            kill9(head_office)
        assert hook.bodies() == [] and read_alerts(offices.engine("ho"))[0], "raised and recorded, never delivered"
        said_by_status, _code = status_report(offices.ho)
        assert "alert notices not yet taken by their receiver (sent when it answers): 1 by webhook" in said_by_status
        hook.answers.clear()  # the receiver is back; so is the Head Office, with nothing left in its memory
        monitor = AlertMonitor(offices.ho)
        with running(monitor):
            wait_for(lambda: hook.bodies(), 30, "the notice the killed Head Office owed to be sent")
            with offices.engine("ho").begin() as conn:
                conn.execute(text("UPDATE sync_branches SET capture_ok = 1, capture_problem = NULL WHERE code = 'bo1'"))
            wait_for(lambda: len(hook.bodies()) >= 2, 30, "the clear to be sent")
            checks = monitor.checks
            wait_for(lambda: monitor.checks >= checks + 5 and monitor.couriers[0].waiting() == 0, 30, "quiet checks")
        sent = [(b["kind"], b["branch"], b["state"]) for b in hook.bodies()]
        assert sent == [("capture_broken", "bo1", "raised"), ("capture_broken", "bo1", "cleared")], sent
        assert hook.bodies()[0]["id"] != hook.bodies()[1]["id"]  # a receiver can tell a repeat by its id
        again = AlertMonitor(offices.ho)  # a later start owes nothing
        with running(again):
            wait_for(lambda: again.checks >= 5, 30, "a few checks of a later start")
        assert len(hook.bodies()) == 2
        assert "not yet taken" not in status_report(offices.ho)[0]
    finally:
        hook.close()


def test_a_day_a_branch_reports_different_is_raised_at_the_next_check_not_at_the_next_sweep(make_offices, hook):
    """The issue's scenario whole: a capture trigger dropped, sales written; capture and day alerts raised, the
    missing sales named; capture repaired, the day resent: certified, each alert cleared once."""
    offices = make_offices(branches=1, alert_check_seconds=0.1, day_sweep_seconds=3600, capture_check_minutes=0.02,
                           alert_webhook_url=hook.url)
    bo1 = offices.engine("bo1")
    day = dt.date.today() - dt.timedelta(days=20)  # not one of the recent days every check looks at
    insert_sales(bo1, 5, day=day)
    monitor = AlertMonitor(offices.ho)
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1")), monitor):
        wait_for(lambda: _different_days_certified(offices, day), 60, "the day to be certified")
        wait_for(lambda: monitor.checks >= 3, 30, "the first (thorough) judgement and a light one")
        with bo1.begin() as conn:
            conn.execute(text("DROP TRIGGER sales_capture_insert"))
        missing = insert_sales(bo1, 3, start=10, day=day)  # capture off: the branch reports the day changed
        wait_for(lambda: said(hook, "capture_broken", "bo1", "raised"), 60, "the broken capture to be raised")
        wait_for(lambda: said(hook, "day_different", "bo1", "raised"), 60, "the reported day to be raised")
        ask_branch(offices.engine("ho"), "bo1", day, Ask.SALES)
        differs = wait_for(lambda: (d := sale_differences(offices.engine("ho"), "bo1", day)).answered_at and d, 30,
                           "the branch's per-sale hashes")
        assert (differs.missing, differs.extra, differs.changed) == (missing, [], [])
        init_database(offices.branch("bo1"))  # capture repaired; the resend puts the day right
        resent = subprocess.run([sys.executable, "-m", "sync", "resend", "--config", str(offices.paths["bo1"]),
                                 "--date", day.isoformat()], cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert resent.returncode == 0, resent.stderr
        wait_for(lambda: said(hook, "day_different", "bo1", "cleared"), 60, "the repaired day to be cleared")
        wait_for(lambda: said(hook, "capture_broken", "bo1", "cleared"), 60, "the repaired capture to be cleared")
        wait_for(lambda: _different_days_certified(offices, day), 30, "the day to be certified")
        checks = monitor.checks
        wait_for(lambda: monitor.checks >= checks + 10, 30, "more checks: nothing more may be said")
    days = [(b["state"], b["sentence"]) for b in hook.bodies() if b["kind"] == "day_different"]
    assert [state for state, _ in days] == ["raised", "cleared"] and f"{day:%Y-%m-%d}" in days[0][1], days
    assert Counter((b["kind"], b["state"]) for b in hook.bodies()) == Counter(
        [("capture_broken", "raised"), ("capture_broken", "cleared"), ("day_different", "raised"),
         ("day_different", "cleared")]), hook.bodies()
