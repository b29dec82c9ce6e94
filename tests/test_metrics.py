"""The metrics pages of the Head Office and of a branch agent, scraped over HTTP and parsed
with prometheus_client's own parser."""
from __future__ import annotations

import dataclasses
import datetime as dt
import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import text

from sync.head_office import HeadOfficeService
from sync.relay import OutboxRelay
from tests.harness import assert_converged, delete_sale, insert_sales, publish_raw, running, wait_for
from tests.test_alerts import reported


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of the page as {(name, labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
        body = page.read().decode("utf-8")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body) for s in family.samples}


def of(samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_the_head_office_and_a_branch_serve_their_metrics_per_branch(make_offices):
    offices = make_offices(branches=2, alert_check_seconds=0.2, capture_check_minutes=0.01)
    ho_cfg = dataclasses.replace(offices.ho, metrics_port=free_port())
    bo1_cfg = dataclasses.replace(offices.branch("bo1"), metrics_port=free_port())
    ids = insert_sales(offices.engine("bo1"), 5)
    delete_sale(offices.engine("bo1"), ids[0])
    insert_sales(offices.engine("bo2"), 3, start=10, day=dt.date.today())  # a day the alerts compare
    service = HeadOfficeService(ho_cfg)
    with running(service, OutboxRelay(bo1_cfg), OutboxRelay(offices.branch("bo2"))):
        assert_converged(offices)
        wait_for(lambda: reported(offices, "bo2"), 30, "bo2's own report (once it knows this Head Office)")
        publish_raw(offices, b"not a message", branch="bo2")
        with offices.engine("ho").begin() as conn:  # as bo2's report of a broken capture writes it
            conn.execute(text("UPDATE sync_branches SET capture_ok = 0, capture_problem = 'trigger gone' "
                              "WHERE code = 'bo2'"))
        ho = wait_for(lambda: (s := scrape(ho_cfg.metrics_port))
                      and of(s, "branch_sync_branch_alerts_active", branch="bo2") == 2 and s, 30,
                      "bo2's two alerts (capture, dead letter) on the Head Office's page")
        assert of(ho, "branch_sync_branch_days_different", branch="bo2") == 0
        with offices.engine("ho").begin() as conn:  # a hand edit at the Head Office: bo2's day no longer matches
            conn.execute(text("UPDATE sales SET qty = qty + 1 WHERE branch = 'bo2' ORDER BY branch_sale_id LIMIT 1"))
        ho = wait_for(lambda: (s := scrape(ho_cfg.metrics_port))
                      and of(s, "branch_sync_branch_days_different", branch="bo2") == 1 and s, 30,
                      "bo2's different day on the Head Office's page")
        bo1 = wait_for(lambda: (s := scrape(bo1_cfg.metrics_port))
                       and of(s, "branch_sync_applied_seq") == 6 and s, 30, "bo1's page to show its changes applied")

    assert of(ho, "branch_sync_branch_rows_held", branch="bo1") == 4
    assert of(ho, "branch_sync_branch_rows_held", branch="bo2") == 3
    # four sales and a delete: the deleted sale's insert went in the same message and was superseded
    assert of(ho, "branch_sync_branch_changes_applied_total", branch="bo1") == 5
    assert of(ho, "branch_sync_branch_changes_applied_total", branch="bo2") == 3
    assert of(ho, "branch_sync_branch_applied_seq", branch="bo1") == 6
    assert of(ho, "branch_sync_branch_high_water_seq", branch="bo1") == 6
    assert of(ho, "branch_sync_branch_lag_changes", branch="bo1") == 0
    assert of(ho, "branch_sync_branch_last_applied_timestamp_seconds", branch="bo1") > 0
    assert of(ho, "branch_sync_branch_dead_letters", branch="bo2") == 1
    assert of(ho, "branch_sync_branch_dead_letters", branch="bo1") == 0
    assert of(ho, "branch_sync_branch_capture_ok", branch="bo2") == 0
    assert of(ho, "branch_sync_branch_alerts_active", branch="bo1") == 0
    assert of(ho, "branch_sync_branch_days_different", branch="bo1") == 0
    assert of(ho, "branch_sync_consumer_state", branch_sync_consumer_state="online") == 1
    assert of(ho, "branch_sync_consumer_state", branch_sync_consumer_state="offline") == 0
    assert of(ho, "branch_sync_database_up") == 1

    assert of(bo1, "branch_sync_outbox_pending") == 0
    assert of(bo1, "branch_sync_outbox_sent") == 0
    assert of(bo1, "branch_sync_outbox_high_water_seq") == 6
    assert of(bo1, "branch_sync_capture_ok") == 1
    assert of(bo1, "branch_sync_last_sync_timestamp_seconds") > 0
    assert of(bo1, "branch_sync_link_state", branch_sync_link_state="online") == 1
