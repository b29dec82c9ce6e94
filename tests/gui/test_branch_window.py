"""The branch window, driven like a clerk drives it, against a real branch database, broker and Head Office."""
from __future__ import annotations

import dataclasses
import datetime as dt
import tkinter as tk
from decimal import Decimal
from tkinter import ttk

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import SyncWindow
from devtools.linkproxy import LinkProxy
from gui.date_entry import DateEntry
from gui.formats import money, sentence
from models.money import compute_line
from models.sale import SaleInvalid, new_sale
from sync.intake import IntakeConsumer
from tests.harness import head_office_rows, insert_sales

pytestmark = pytest.mark.gui

RATE = Decimal("0.07")
GOOD = {"sale_date": "2021-04-29", "region": "East", "product": "Paper", "qty": "73", "cost": "12.95"}


def branch_sales(offices, code: str = "bo1") -> list[tuple]:
    with offices.engine(code).connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT id, sale_date, region, product, qty, cost, amt, tax, total FROM sales"))]


def captured_changes(offices, code: str = "bo1") -> int:
    with offices.engine(code).connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM sync_outbox")).scalar_one()


def sync_word(window, sale_id: int) -> str:
    iid = str(sale_id)
    return window.sales.table.row_values(iid)[-1] if window.sales.table.tree.exists(iid) else ""


def fill(window, values: dict) -> None:
    for name, value in values.items():
        window.form.vars[name].set(value)


def test_sale_typed_with_keyboard_alone_is_saved_applied_and_shown_at_head_office(
        offices, gui, open_branch_window, open_head_office_window):
    head_office = open_head_office_window(offices.ho)
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    gui.focus_window()
    form.inputs["sale_date"].focus_set()
    gui.settle()

    # Focus starts in Date; Tab walks Date, Region, Product, Qty, Cost, Save and Shift+Tab walks back.
    expected = [form.inputs[name] for name in ("sale_date", "region", "product", "qty", "cost")] + [form.save_button]
    walked = [gui.focused()]
    for _ in range(5):
        gui.key("Tab")
        walked.append(gui.focused())
    assert walked == expected
    for _ in range(5):
        gui.key("Shift-Tab")
    assert gui.focused() is form.inputs["sale_date"]

    gui.key("Down")                      # the date steps back a day
    yesterday = dt.date.today() - dt.timedelta(days=1)
    assert form.vars["sale_date"].get() == yesterday.isoformat()
    gui.key("Tab")                       # the region keeps the office's default
    gui.key("Tab")
    gui.type("Paper")                    # the catalogue fills the cost
    gui.key("Tab")
    gui.type("73")
    gui.key("Tab")
    assert form.vars["cost"].get() == "12.95"
    line = compute_line(73, Decimal("12.95"), RATE)
    assert [form.amounts[n].cget("text") for n in ("amt", "tax", "total")] == ["945.35", "66.17", "1,011.52"]
    assert (line.amt, line.tax, line.total) == (Decimal("945.35"), Decimal("66.17"), Decimal("1011.52"))
    gui.key("Return")

    saved = gui.wait_until(lambda: branch_sales(offices), "the sale to be in the branch database")
    assert saved == [(saved[0][0], yesterday, "East", "Paper", 73, Decimal("12.95"), line.amt, line.tax, line.total)]
    sale_id = saved[0][0]
    gui.wait_until(lambda: window.sales.table.tree.exists(str(sale_id)), "the sale to show in the table")
    # The form is ready for the next sale: date and region kept, the rest empty, focus on Product.
    assert form.vars["sale_date"].get() == yesterday.isoformat() and form.vars["region"].get() == "East"
    assert [form.vars[n].get() for n in ("product", "qty", "cost")] == ["", "", ""]
    assert gui.focused() is form.inputs["product"]

    gui.wait_until(lambda: sync_word(window, sale_id) == "at the HO", "the sync column to say the sale is at the HO")
    gui.wait_until(lambda: head_office.sales.table.tree.exists(_ho_id(offices, "bo1", sale_id)),
                   "the Head Office window to show the sale without a refresh click")
    ho_values = head_office.sales.table.row_values(_ho_id(offices, "bo1", sale_id))
    assert ho_values[:2] == ("East Branch", str(sale_id)) and ho_values[-1] == "1,011.52"


def _ho_id(offices, branch: str, branch_sale_id: int) -> str:
    with offices.engine("ho").connect() as conn:
        found = conn.execute(text("SELECT id FROM sales WHERE branch = :b AND branch_sale_id = :s"),
                             {"b": branch, "s": branch_sale_id}).scalar()
    return str(found) if found is not None else "missing"


INVALID = [
    ("sale_date", "2021-02-30"),
    ("sale_date", "29/04/2021"),
    ("region", ""),
    ("product", "   "),
    ("qty", "0"),
    ("qty", "two"),
    ("qty", "1.5"),
    ("cost", "-1"),
    ("cost", "12.955"),
    ("cost", ""),
]


def test_each_invalid_value_shows_its_sentence_beside_its_field_and_saves_nothing(offices, gui, open_branch_window):
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    gui.focus_window()
    for field, bad in INVALID:
        fill(window, {**GOOD, field: bad})
        form.inputs[field].focus_set()
        gui.key("Return")
        with pytest.raises(SaleInvalid) as refused:
            new_sale(tax_rate=RATE, **{**GOOD, field: bad})
        assert form.error_for(field) == sentence(refused.value.errors[field]), (field, bad)
        assert all(form.error_for(other) == "" for other in GOOD if other != field), (field, bad)
        assert gui.focused() is form.inputs[field]    # the cursor goes to what needs fixing
        assert "Traceback" not in form.error_for(field)
    gui.settle(0.3)
    assert branch_sales(offices) == [] and captured_changes(offices) == 0

    # Correcting the field clears its sentence; the values typed are all still there.
    form.vars["cost"].set("12.95")
    assert form.error_for("cost") == ""
    assert form.vars["qty"].get() == "73"


@pytest.mark.parametrize("qty, cost", [("73", "12.95"), ("10", "12.95"), ("1", "0.50"), ("3", "0.05"), ("1", "0.07"),
                                       ("14", "2.19"), ("99999", "99999.99"), ("1", "0")])
def test_amounts_shown_while_typing_match_the_money_function(offices, gui, open_branch_window, qty, cost):
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    gui.focus_window()
    form.inputs["qty"].focus_set()
    gui.type(qty)
    assert form.amounts["amt"].cget("text") == "—"   # no cost yet: nothing is guessed
    form.inputs["cost"].focus_set()
    gui.type(cost)
    line = compute_line(int(qty), Decimal(cost), RATE)
    shown = [form.amounts[n].cget("text") for n in ("amt", "tax", "total")]
    assert shown == [money(line.amt), money(line.tax), money(line.total)]
    assert [Decimal(s.replace(",", "")) for s in shown] == [line.amt, line.tax, line.total]


def test_product_from_catalogue_fills_its_cost_which_stays_editable(offices, gui, open_branch_window):
    window = open_branch_window(offices.branch("bo1"))
    form = window.form
    box = form.product_box
    box.current(list(box.cget("values")).index("Pens"))
    box.event_generate("<<ComboboxSelected>>")
    gui.settle()
    assert form.vars["cost"].get() == "2.19"
    box.current(list(box.cget("values")).index("Paper"))     # still the catalogue's price: it follows
    gui.settle()
    assert form.vars["cost"].get() == "12.95"
    gui.focus_window()
    form.inputs["cost"].focus_set()
    gui.wait_until(lambda: gui.focused() is form.inputs["cost"], "the cost field to take the focus")
    gui.erase()
    gui.type("11.50")                                         # the clerk's own price...
    box.current(list(box.cget("values")).index("Pens"))
    gui.settle()
    assert form.vars["cost"].get() == "11.50"                 # ...is never overwritten


def test_with_the_broker_down_saving_works_and_sync_now_says_it_cannot_reach_the_head_office(
        offices, gui, open_branch_window, engine_threads):
    consumer = IntakeConsumer(offices.ho)
    consumer.start()
    engine_threads.append(consumer)
    with LinkProxy(("127.0.0.1", make_url(offices.amqp_url).port or 5672)) as link:
        link.cut()
        cfg = dataclasses.replace(offices.branch("bo1"), amqp_urls=(f"amqp://guest:guest@127.0.0.1:{link.port}/%2F",))
        window = open_branch_window(cfg)
        gui.wait_until(lambda: window.status.text("link") == "● Working offline", "the status bar to say offline")

        fill(window, GOOD)
        gui.key("Return", form_input(window, "cost"))
        saved = gui.wait_until(lambda: branch_sales(offices), "the sale to be saved while the broker is down")
        sale_id = saved[0][0]
        gui.wait_until(lambda: sync_word(window, sale_id) == "waiting", "the sale to show as waiting")
        gui.wait_until(lambda: window.status.text("waiting") == "1 sale waiting to go", "the status bar to count it")

        window.sync_button.invoke()
        assert str(window.sync_button.cget("state")) == "disabled"   # cannot be pressed twice
        window.sync_button.invoke()
        gui.wait_until(lambda: window.sync_message.cget("text").startswith("Working offline"),
                       "Sync now to say the branch is working offline")
        assert str(window.sync_button.cget("state")) == "normal"
        assert head_office_rows(offices.engine("ho")) == set()

        link.restore()
        gui.wait_until(lambda: sync_word(window, sale_id) == "at the HO", "the sale to go once the broker is back",
                       timeout=45)
        gui.wait_until(lambda: window.status.text("link") == "● Online", "the status bar to say online")
    assert len(head_office_rows(offices.engine("ho"))) == 1
    assert window.status.text("waiting") == "Nothing waiting to go"


def form_input(window, name: str):
    window.form.inputs[name].focus_set()
    return window.form.inputs[name]


def test_outside_the_sync_window_sync_now_sends_at_once_with_progress(offices, gui, open_branch_window, engine_threads):
    consumer = IntakeConsumer(offices.ho)
    consumer.start()
    engine_threads.append(consumer)
    insert_sales(offices.engine("bo1"), 30)
    later = (dt.datetime.now() + dt.timedelta(hours=2)).time().replace(second=0, microsecond=0)
    closed = SyncWindow(later, (dt.datetime.combine(dt.date.today(), later) + dt.timedelta(hours=1)).time())
    window = open_branch_window(dataclasses.replace(offices.branch("bo1"), sync_windows=(closed,)))
    gui.wait_until(lambda: window.status.text("link").startswith("● Outside the sync window"), "the status to say so")
    gui.wait_until(lambda: window.status.text("waiting") == "30 sales waiting to go", "the status to count the sales")

    window.sync_button.invoke()
    assert window.sync_message.cget("text") == "Connecting to the Head Office…"
    assert window.progress.winfo_manager() == "pack"
    gui.wait_until(lambda: window.sync_message.cget("text").startswith("Sync finished: 30 change(s) sent"),
                   "Sync now to say how it ended")
    assert (window.progress.cget("value"), window.progress.cget("maximum")) == (30, 30)   # it showed "sent 30 of 30"
    assert window.progress.winfo_manager() == "" and str(window.sync_button.cget("state")) == "normal"
    gui.wait_until(lambda: len(head_office_rows(offices.engine("ho"))) == 30, "the changes to reach the Head Office")


def test_edit_and_delete_reach_the_head_office(offices, gui, open_branch_window, engine_threads):
    consumer = IntakeConsumer(offices.ho)
    consumer.start()
    engine_threads.append(consumer)
    kept, deleted = insert_sales(offices.engine("bo1"), 2)
    window = open_branch_window(offices.branch("bo1"))
    gui.focus_window()
    for sale_id in (kept, deleted):
        gui.wait_until(lambda s=sale_id: sync_word(window, s) == "at the HO", f"sale {sale_id} to be applied")

    window.sales.table.select(str(kept))
    gui.settle()
    window.sales.edit_button.invoke()
    assert window.form.heading.cget("text") == f"Editing sale #{kept}"
    assert gui.focused() is window.form.inputs["qty"]
    window.form.vars["qty"].set("500")
    gui.key("Return", window.form.inputs["qty"])
    line = compute_line(500, Decimal("12.95"), RATE)
    gui.wait_until(lambda: any(r[1] == kept and r[5] == 500 and r[-1] == line.total for r in head_office_rows(offices.engine("ho"))),
                   "the edit to reach the Head Office")
    # The Head Office can apply the change before the window hears back from its own save.
    gui.wait_until(lambda: window.form.heading.cget("text") == "New sale", "the form to leave edit mode")

    asked = []
    window.confirm = lambda title, question: asked.append(question) or False   # the clerk says no
    window.sales.table.select(str(deleted))
    gui.settle()
    window.sales.delete_button.invoke()
    gui.settle(0.3)
    assert len(asked) == 1 and f"sale #{deleted}" in asked[0]
    assert {r[0] for r in branch_sales(offices)} == {kept, deleted}

    window.confirm = lambda title, question: True                              # now yes
    gui.key("Delete", window.sales.table.tree)
    gui.wait_until(lambda: {r[1] for r in head_office_rows(offices.engine("ho"))} == {kept},
                   "the delete to reach the Head Office")
    assert {r[0] for r in branch_sales(offices)} == {kept}
    gui.wait_until(lambda: not window.sales.table.tree.exists(str(deleted)), "the deleted sale to leave the table")


def test_quick_filter_narrows_the_table(offices, gui, open_branch_window):
    engine = offices.engine("bo1")
    insert_sales(engine, 3, product="Paper")
    pens = insert_sales(engine, 2, start=10, product="Pens")
    window = open_branch_window(offices.branch("bo1"))
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 5, "all five sales to show")
    gui.focus_window()
    window.sales.filter_entry.focus_set()
    gui.type("pens")
    gui.wait_until(lambda: sorted(window.sales.table.visible_ids()) == sorted(map(str, pens)), "only the Pens sales to show")
    assert window.sales.count_label.cget("text") == "2 sales matching the filter"


def test_branch_database_down_says_so_keeps_what_was_typed_and_recovers(offices, gui, open_branch_window, engine_threads):
    url = make_url(offices.branch("bo1").db_url)
    with LinkProxy((url.host, url.port or 3306)) as link:
        cfg = dataclasses.replace(offices.branch("bo1"), db_url=url.set(port=link.port).render_as_string(hide_password=False))
        window = open_branch_window(cfg)
        gui.wait_until(lambda: window.status.text("last_sync").startswith("Last sync"), "the first read")
        fill(window, GOOD)
        link.cut()
        gui.key("Return", form_input(window, "cost"))
        gui.wait_until(lambda: "database is not answering" in window.banner.text, "the window to say the database is down")
        assert "what you typed is kept" in window.banner.text
        assert {n: window.form.vars[n].get() for n in GOOD} == GOOD
        assert str(window.form.save_button.cget("state")) == "normal"
        assert branch_sales(offices) == []

        link.restore()
        gui.wait_until(lambda: window.banner.text == "", "the banner to go when the database is back")
        gui.key("Return", form_input(window, "cost"))
        gui.wait_until(lambda: branch_sales(offices), "the sale to be saved once the database is back")
        for thread in engine_threads:
            thread.stop()   # while its database link still exists, so it is not left waiting for a greeting


def test_date_picker_sets_the_date_and_escape_closes_it(gui, root):
    variable = tk.StringVar(root, value="2021-04-29")
    field = DateEntry(root, variable)
    field.pack()
    gui.settle()
    field.button.invoke()
    popup = field.calendar
    gui.settle()
    days = {w.cget("text"): w for w in popup.frame.winfo_children() if isinstance(w, ttk.Button)}
    days["15"].invoke()
    gui.settle()
    assert variable.get() == "2021-04-15" and field.calendar is None
    field.toggle_calendar()
    gui.settle()
    gui.focus_window()
    gui.key("Escape", field.calendar)
    assert variable.get() == "2021-04-15" and field.calendar is None
    gui.key("Prior", field.entry)                   # Page Up: a month on
    assert variable.get() == "2021-05-15"
