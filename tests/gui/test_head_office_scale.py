"""The Head Office window at scale, the window's side: a new filter is read at once and the old figures say
they are being updated until its own arrive; every view follows the filter; F5, Ctrl+F and Ctrl+E work."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from gui.formats import money
from gui.periods import period_range
from gui.theme import TONES
from models.daily import fill_daily
from tests.gui.head_office_data import CSV_SQL, put_head_office_rows, query

pytestmark = pytest.mark.gui


def sql_totals(offices, where: str) -> tuple:
    (row,) = query(offices, f"SELECT COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales WHERE {where}")
    return row


def test_a_new_filter_marks_the_old_totals_chart_and_subtotals_as_updating_until_its_own_arrive(
        offices, gui, open_head_office_window):
    put_head_office_rows(offices, 300)
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: window.sales.totals is not None and window.chart.totals, "the first figures")
    window.notebook.select(window.summary)
    gui.wait_until(lambda: window.summary.summary is not None and not window.summary.updating, "the subtotals")
    all_time = window.sales.totals_text

    bar = window.filter_bar
    bar.choose_branch("bo2")                   # no event is handled between this and the checks below
    assert window.sales.updating and window.sales.totals_text == all_time + "  ·  Updating for the new filter…"
    assert str(window.sales.totals_line.cells["total"].cget("foreground")) == TONES["stale"]
    assert window.chart.updating and window.chart.canvas.find_withtag("updating")
    assert window.summary.updating and window.summary.note.cget("text").startswith("Updating")
    assert window.sales.rows_label.cget("text") == "Reading the sales for the new filter…"

    rows, qty, amt, tax, total = sql_totals(offices, "branch = 'bo2'")
    gui.wait_until(lambda: not window.sales.updating and not window.summary.updating and not window.chart.updating,
                   "the new filter's own figures")
    assert window.sales.totals_text == (f"Totals of {rows:,} rows:  ·  Qty {qty:,}  ·  Amt {money(amt)}  ·  "
                                        f"Tax {money(tax)}  ·  Total {money(total)}")
    assert window.summary.summary.total.total == total and window.chart.drawn_series() == ["bo2"]
    assert str(window.sales.totals_line.cells["total"].cget("foreground")) == TONES["normal"]


def test_date_presets_fill_the_dates_and_every_view_follows_them(offices, gui, open_head_office_window):
    today = dt.date.today()
    put_head_office_rows(offices, 60)
    with offices.engine("ho").begin() as conn:     # move the 40 days of sales so they end today
        conn.exec_driver_sql("UPDATE sales SET sale_date = sale_date + INTERVAL DATEDIFF(%s, '2021-05-10') DAY",
                             (today.isoformat(),))
        fill_daily(conn)
    window = open_head_office_window(offices.ho)
    bar = window.filter_bar
    gui.wait_until(lambda: window.sales.totals is not None and window.sales.totals.rows == 60, "all the sales")
    for period in ("Today", "This week", "This month", "Last month"):
        bar.period_box.set(period)
        bar.period_box.event_generate("<<ComboboxSelected>>")
        first, last = period_range(period, today)
        assert (bar.vars["date_from"].get(), bar.vars["date_to"].get()) == (first.isoformat(), last.isoformat())
        where = f"sale_date BETWEEN '{first}' AND '{last}'"
        expected = query(offices, CSV_SQL + f" WHERE {where} ORDER BY sale_date DESC, id DESC")
        gui.wait_until(lambda e=expected: [int(window.sales.table.row_values(i)[1]) for i in window.sales.table.visible_ids()]
                       == [r[1] for r in e], f"the table for {period}")
        gui.wait_until(lambda e=expected: window.sales.totals is not None and window.sales.totals.rows == len(e)
                       and not window.sales.updating, f"the totals for {period}")
    bar.from_entry.entry.focus_set()                # typed dates that are no named period
    bar.vars["date_from"].set("2000-01-01")
    bar.apply()
    assert bar.vars["period"].get() == "Chosen dates"
    bar.period_box.set("Any time")
    bar.period_box.event_generate("<<ComboboxSelected>>")
    assert (bar.vars["date_from"].get(), bar.vars["date_to"].get()) == ("", "")


def test_subtotals_by_branch_then_product_equal_sql_and_export_with_screen_labels(
        offices, gui, open_head_office_window, tmp_path):
    put_head_office_rows(offices, 240)
    window = open_head_office_window(offices.ho)
    window.notebook.select(window.summary)
    summary = window.summary
    window.filter_bar.vars["region"].set("East")
    window.filter_bar.apply()
    gui.wait_until(lambda: summary.summary is not None and not summary.updating, "the subtotals of East")
    table = summary.table
    shown = [table.row_values(iid) for iid in table.visible_ids()]
    expected = []
    for branch, count, qty, amt, tax, total in query(offices, "SELECT branch, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) "
                                                               "FROM sales WHERE region = 'East' GROUP BY branch ORDER BY branch"):
        expected.append(("East Branch", f"{count:,}", f"{qty:,}", money(amt), money(tax), money(total)))
        for product, *sums in query(offices, "SELECT product, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales "
                                              "WHERE region = 'East' AND branch = :b GROUP BY product ORDER BY product", b=branch):
            expected.append(("      " + product, f"{sums[0]:,}", f"{sums[1]:,}", *(money(v) for v in sums[2:])))
    assert shown == [tuple(row) for row in expected]

    summary.first_var.set("Day")                   # by day alone
    summary.then_var.set("nothing more")
    summary.first_box.event_generate("<<ComboboxSelected>>")
    gui.wait_until(lambda: not summary.updating and summary.summary.by[0].value == "day", "the subtotals by day")
    days = query(offices, "SELECT sale_date, SUM(total) FROM sales WHERE region = 'East' GROUP BY sale_date ORDER BY sale_date")
    assert [(table.row_values(i)[0], table.row_values(i)[-1]) for i in table.visible_ids()] == [
        (d.isoformat(), money(t)) for d, t in days]
    (total,), = query(offices, "SELECT SUM(total) FROM sales WHERE region = 'East'")
    assert summary.total_line.text.endswith(f"Total {money(total)}")

    summary.ask_export_path = lambda: str(tmp_path / "days.csv")
    window.export_shown()                          # what Ctrl+E does on this tab
    gui.wait_until(lambda: window.message.cget("text").startswith("Exported"), "the export")
    lines = (tmp_path / "days.csv").read_text(encoding="utf-8-sig").splitlines()
    assert lines[0] == "Day,Sales,Qty,Amt,Tax,Total"
    assert [line.split(",")[0] for line in lines[1:-1]] == [d.isoformat() for d, _ in days]
    assert lines[-1].startswith("Total,") and lines[-1].endswith(f",{total}")
    assert Decimal(lines[1].split(",")[-1]) == days[0][1]


def test_f5_ctrl_f_and_ctrl_e_in_the_head_office_window(offices, gui, open_head_office_window, tmp_path):
    put_head_office_rows(offices, 30)
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 30, "the rows")
    put_head_office_rows(offices, 5, first_sale=5000)   # written behind the consumer's back: no event tells the window
    gui.focus_window()
    gui.key("F5", window.sales.table.tree)
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 35, "F5 to read the new rows")
    gui.key("Control-f")
    assert gui.focused() is window.filter_bar.branch_box
    window.sales.ask_export_path = lambda: str(tmp_path / "all.csv")
    gui.key("Control-e")
    gui.wait_until(lambda: (tmp_path / "all.csv").exists() and window.message.cget("text").startswith("Exported 35 rows"),
                   "Ctrl+E to export the sales")


def test_a_sort_no_index_serves_is_offered_only_while_the_filter_holds_few_sales(
        offices, gui, open_head_office_window, monkeypatch):
    # At 5 million sales a sort by Total reads and sorts every row (seconds per page); the window offers it
    # only up to SORT_LIMIT sales.  The limit is lowered here so that 300 rows stand for millions.
    import gui.sales_view as sales_view

    monkeypatch.setattr(sales_view, "SORT_LIMIT", 150)
    put_head_office_rows(offices, 300)
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: window.sales.totals is not None and window.sales.totals.rows == 300, "all the sales")
    tree = window.sales.table.tree
    tree.tk.call(tree.heading("total", "command"))   # what a click on the Total heading runs
    gui.settle()
    assert window.sales.order.column == "sale_date"
    assert window.message.cget("text").startswith("Sorting by Total is offered once the filter holds at most 150 sales")
    tree.tk.call(tree.heading("product", "command"))  # an index serves this one at any size
    assert window.sales.order.column == "product"

    window.filter_bar.choose_branch("bo2")
    gui.wait_until(lambda: not window.sales.updating and window.sales.totals.rows == 100, "bo2's 100 sales")
    tree.tk.call(tree.heading("total", "command"))
    assert window.sales.order.column == "total" and window.sales.order.descending
    (top,) = query(offices, "SELECT MAX(total) FROM sales WHERE branch = 'bo2'")
    gui.wait_until(lambda: window.sales.table.row_values(window.sales.table.visible_ids()[0])[9] == money(top[0]),
                   "bo2's sales, largest total first")

    window.filter_bar.clear()                        # 300 again: too many for that sort
    gui.wait_until(lambda: not window.sales.updating and window.sales.order.column == "sale_date",
                   "the table back in date order")
