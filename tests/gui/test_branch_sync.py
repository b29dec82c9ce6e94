"""The branch window's sync controls and figures: keys, offline words a clerk understands, today's takings."""
from __future__ import annotations

import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from devtools.linkproxy import LinkProxy
from gui.formats import money
from gui.theme import TONES
from sync.intake import IntakeConsumer
from tests.harness import change_qty, delete_sale, insert_sales

pytestmark = pytest.mark.gui


def test_sync_now_and_the_quick_filter_have_keys_and_sync_now_is_reachable_with_tab(
        offices, gui, open_branch_window, engine_threads):
    consumer = IntakeConsumer(offices.ho)
    consumer.start()
    engine_threads.append(consumer)
    insert_sales(offices.engine("bo1"), 2, product="Pens")
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    gui.wait_until(lambda: window.status.text("link") == "● Online", "the branch to be online")
    gui.focus_window()
    gui.key("Shift-Tab", form.inputs["sale_date"])    # back from the first field: the Sync now button
    assert gui.focused() is window.sync_button

    gui.key("F5", form.inputs["qty"])                  # F5 from anywhere, even a field being typed in
    assert str(window.sync_button.cget("state")) == "disabled"
    gui.wait_until(lambda: window.sync_message.cget("text").startswith("Sync finished"), "F5 to sync")
    assert form.vars["qty"].get() == ""

    form.inputs["product"].focus_set()
    gui.type("Pens")
    gui.key("Control-f")                               # to the quick filter, whose text is then replaced
    assert gui.focused() is window.sales.filter_entry
    gui.type("Pe")
    gui.key("Control-f")
    gui.type("pens")
    assert window.sales.filter_var.get() == "pens" and form.vars["product"].get() == "Pens"


def test_offline_the_clerk_reads_what_is_kept_in_sales_sees_which_and_the_cause_only_behind_details(
        offices, gui, open_branch_window, engine_threads):
    engine = offices.engine("bo1")
    consumer = IntakeConsumer(offices.ho)
    consumer.start()
    engine_threads.append(consumer)
    with LinkProxy(("127.0.0.1", make_url(offices.amqp_url).port or 5672)) as link:
        cfg = dataclasses.replace(offices.branch("bo1"), amqp_urls=(f"amqp://guest:guest@127.0.0.1:{link.port}/%2F",))
        (already_sent,) = insert_sales(engine, 1)
        window = open_branch_window(cfg)
        gui.wait_until(lambda: window.status.text("waiting") == "Nothing waiting to go", "the first sale to reach the HO")

        link.cut()
        edited, other, gone = insert_sales(engine, 3, start=10)
        for qty in (5, 6, 7):
            change_qty(engine, edited, qty)          # three more changes of one sale: still one sale waiting
        delete_sale(engine, gone)
        gui.wait_until(lambda: window.status.text("link").startswith("● Working offline"), "the link to be down")
        expected = "2 sales and 1 deleted sale waiting to go"
        gui.wait_until(lambda: window.status.text("waiting") == expected, "the waiting sales counted as sales")

        window.sync_button.invoke()
        words = ("Working offline: 2 sales and 1 deleted sale are kept here and go automatically when the link is back. "
                 "You can go on entering sales.")
        gui.wait_until(lambda: window.notice.text == words and str(window.sync_button.cget("state")) == "normal",
                       "Sync now to answer with what is kept here")
        assert str(window.sync_message.cget("foreground")) != TONES["bad"]
        assert not any(word in window.notice.text.lower() for word in ("amqp", "broker", "127.0.0.1", "cannot"))
        assert f"127.0.0.1:{link.port}" in window.notice.details and not window.notice.details_shown
        window.notice.toggle.invoke()
        gui.settle()
        assert window.notice.details_shown and window.notice.cause.winfo_ismapped()

        window.status.label("waiting").event_generate("<Button-1>")   # which sales are they? a click on the count
        gui.wait_until(lambda: sorted(window.sales.table.visible_ids()) == sorted([str(edited), str(other)]),
                       "only the waiting sales to show")
        assert window.sales.waiting_only.get() and str(already_sent) not in window.sales.table.visible_ids()

        link.restore()
        gui.wait_until(lambda: window.status.text("waiting") == "Nothing waiting to go", "everything to go", timeout=45)
        gui.wait_until(lambda: window.notice.text == "", "the offline sentence to go once online")
        assert window.status.text("link") == "● Online"


def test_the_branch_window_shows_the_count_and_takings_of_today(offices, gui, open_branch_window):
    engine = offices.engine("bo1")
    today = dt.date.today()
    insert_sales(engine, 2, day=today)
    insert_sales(engine, 1, start=5, day=today - dt.timedelta(days=1))
    window = open_branch_window(offices.branch("bo1"))

    def takings() -> Decimal:
        with engine.connect() as conn:
            return conn.execute(text("SELECT SUM(total) FROM sales WHERE sale_date = CURDATE()")).scalar_one()

    gui.wait_until(lambda: window.today.figures.cget("text") == f"2 sales · takings {money(takings())}",
                   "today's two sales and their takings")
    assert window.today.title.cget("text") == f"Today, {today:%a %d %b %Y}"
    for name, value in (("product", "Toner"), ("qty", "3")):
        window.form.vars[name].set(value)
    gui.key("Return", window.form.inputs["qty"])
    gui.wait_until(lambda: window.today.figures.cget("text") == f"3 sales · takings {money(takings())}",
                   "the new sale in today's figures")
