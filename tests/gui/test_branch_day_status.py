"""The branch window says, in a clerk's words, which of its days the Head Office has confirmed and which differ."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from gui.day_status import day_name
from gui.theme import TONES
from models import parked
from sync import protocol
from sync.intake import IntakeConsumer
from tests.harness import insert_sales

pytestmark = pytest.mark.gui

YESTERDAY = dt.date.today() - dt.timedelta(days=1)


@pytest.fixture
def offices(make_offices):
    """One branch whose agent checks its capture every second or so."""
    return make_offices(branches=1, capture_check_minutes=0.02)


def test_the_branch_window_names_its_last_confirmed_day_and_a_day_that_does_not_match(
        offices, gui, open_branch_window, engine_threads):
    bo1 = offices.engine("bo1")
    insert_sales(bo1, 4, day=YESTERDAY)
    consumer = IntakeConsumer(offices.ho)
    consumer.start()
    engine_threads.append(consumer)
    window = open_branch_window(offices.branch("bo1"))
    line = window.days.label
    gui.wait_until(lambda: f"The Head Office has every sale of {day_name(YESTERDAY)}" in line.cget("text"),
                   "the day confirmed", timeout=60)
    assert str(line.cget("foreground")) == TONES["good"]

    with bo1.begin() as conn:  # capture switched off, then a sale the Head Office never hears of
        conn.execute(text("DROP TRIGGER sales_capture_insert"))
    insert_sales(bo1, 1, start=50, day=YESTERDAY)
    gui.wait_until(lambda: f"figures for {day_name(YESTERDAY)} do not match" in line.cget("text"),
                   "the day said to differ", timeout=60)
    assert str(line.cget("foreground")) == TONES["bad"] and "tell the office manager" in line.cget("text")


def test_the_branch_window_says_when_a_message_from_the_head_office_waits_for_an_upgrade(
        offices, gui, open_branch_window):
    bo1 = offices.engine("bo1")
    window = open_branch_window(offices.branch("bo1"))
    line = window.days.label
    gui.wait_until(lambda: "not confirmed a day" in line.cget("text"), "the line to be read")
    newer = protocol.VERSION + 1  # as the agent keeps a newer Head Office's catalogue (tests/test_parked_at_branch.py)
    parked.park(bo1, newer, protocol.CATALOGUE, f"message version {newer} is not supported here", "zlib", "{}", b"x")
    gui.wait_until(lambda: "The Head Office sent an update (new prices, say) that this program is too old to read"
                   in line.cget("text"), "the clerk to be told an update waits for an upgrade")
    assert str(line.cget("foreground")) == TONES["bad"]
    assert "tell the office manager; sales are still sent as usual" in line.cget("text")
