"""No row a database can hold breaks a window: rows written by plain SQL with values no checked sale has,
and sales the Head Office refused, are shown, explained and can be corrected."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from gui.formats import sentence
from gui.theme import TONES
from models.daily import fill_daily
from models.money import compute_line
from tests.gui.window_checks import ODD, write_without_checks
from tests.harness import insert_sales

pytestmark = pytest.mark.gui

RATE = Decimal("0.07")
def test_a_branch_row_no_sale_may_hold_is_shown_explained_and_corrected_in_the_form(offices, gui, open_branch_window):
    engine = offices.engine("bo1")
    write_without_checks(engine, ODD, [
        {"d": "0000-00-00", "r": "East\u202e", "p": "Pa\x85per", "q": 0, "c": "12.95", "a": "99.00", "t": "0.00", "tot": "1.00"},
    ])
    with engine.connect() as conn:
        odd_id = conn.execute(text("SELECT MAX(id) FROM sales")).scalar_one()
    window = open_branch_window(offices.branch("bo1"))
    gui.wait_until(lambda: window.sales.table.tree.exists(str(odd_id)), "the odd row to be shown")
    cells = window.sales.table.row_values(str(odd_id))
    assert cells[1:5] == ("0000-00-00", "East\ufffd", "Pa\ufffdper", "0")   # as stored, hidden characters made visible

    gui.focus_window()
    window.sales.table.select(str(odd_id))
    gui.settle()
    assert "holds values no sale may have" in window.sales.note.cget("text")
    gui.key("Return", window.sales.table.tree)
    form = window.form
    assert form.editing_id == odd_id and form.vars["sale_date"].get() == "0000-00-00"
    for field in ("sale_date", "region", "product", "qty"):
        assert form.error_for(field).endswith("."), field           # a sentence beside each impossible value
    assert gui.focused() is form.inputs["sale_date"]

    for name, value in (("sale_date", "2021-04-29"), ("region", "East"), ("product", "Paper"), ("qty", "3")):
        form.vars[name].set(value)
    gui.key("Return", form.inputs["qty"])
    line = compute_line(3, Decimal("12.95"), RATE)
    gui.wait_until(lambda: _row(engine, odd_id) == (dt.date(2021, 4, 29), "East", "Paper", 3, line.amt, line.tax, line.total),
                   "the corrected sale to be saved")


def _row(engine, sale_id: int) -> tuple:
    with engine.connect() as conn:
        return tuple(conn.execute(text("SELECT sale_date, region, product, qty, amt, tax, total FROM sales WHERE id = :i"),
                                  {"i": sale_id}).one())


def test_a_sale_the_head_office_refused_shows_the_reason_and_the_fix_beside_it(offices, gui, open_branch_window):
    engine = offices.engine("bo1")
    refused, fine = insert_sales(engine, 2)
    reason = "qty: Qty must be at most 1000 at this Head Office"
    with engine.begin() as conn:
        conn.execute(text("UPDATE sync_outbox SET state = 3, note = :n WHERE sale_id = :s"), {"n": reason, "s": refused})
        conn.execute(text("UPDATE sync_outbox SET state = 2 WHERE sale_id = :s"), {"s": fine})
    window = open_branch_window(offices.branch("bo1"))
    gui.wait_until(lambda: window.sales.table.tree.exists(str(refused)), "the refused sale to be shown")
    assert window.sales.table.row_values(str(refused))[-1] == "⚠ refused"
    assert window.status.text("waiting") == "Nothing waiting to go · 1 sale refused by the Head Office"
    window.sales.table.select(str(fine))
    gui.settle()
    assert window.sales.note.cget("text") == ""
    window.sales.table.select(str(refused))
    gui.settle()
    note = window.sales.note.cget("text")
    assert note == (f"⚠ The Head Office refused sale #{refused}: {sentence(reason)} "
                    "Edit the sale and save it again; the corrected sale is sent.")
    assert str(window.sales.note.cget("foreground")) == TONES["bad"] and window.sales.note.winfo_ismapped()


def test_head_office_rows_no_sale_may_hold_are_shown_and_do_not_break_the_chart_or_totals(
        offices, gui, open_head_office_window):
    with offices.engine("ho").begin() as conn:
        conn.execute(text("SET SESSION sql_mode = ''"))
        conn.execute(text(
            "INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version) VALUES "
            "('bo1', 1, '0000-00-00', 'East\u2066', 'Pens\x9b', 0, 2.19, 5.00, 0.00, 5.00, 1), "
            "('bo2', 1, '2021-04-29', 'West', 'Paper', 1, 12.95, 12.95, 0.91, 13.86, 1), "
            "('zz9', 7, '2021-04-30', '', '', 1, 1.00, 1.00, 0.07, 1.07, 1)"))
        fill_daily(conn)   # what the apply keeps for the rows it writes
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 3, "every row to be shown")
    dates = sorted(window.sales.table.row_values(iid)[2] for iid in window.sales.table.visible_ids())
    assert dates == ["0000-00-00", "2021-04-29", "2021-04-30"]
    gui.wait_until(lambda: window.sales.totals is not None and window.sales.totals.rows == 3, "the totals")
    gui.wait_until(lambda: window.chart.drawn_series() == ["bo2", "zz9"], "the chart of the rows with real dates")
    assert window.chart.empty_text() == ""
    window.filter_bar.choose_branch("bo1")        # only the row without a real date
    gui.wait_until(lambda: window.sales.totals is not None and window.sales.totals.rows == 1 and not window.sales.updating,
                   "the one row of bo1")
    gui.wait_until(lambda: window.chart.empty_text() == "No sales match the filter" and not window.chart.updating,
                   "the chart to have nothing to draw")
    assert window.banner.text == ""
