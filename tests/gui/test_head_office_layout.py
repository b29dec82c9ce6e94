"""The Head Office window holds its layout from its minimum size to full screen, with 3 branches or 500:
nothing cut off, the side panel scrolls instead of growing, the chart stays in view and says what it shows."""
from __future__ import annotations

import dataclasses

import pytest

from gui.chart import ALL
from tests.gui.head_office_data import put_head_office_rows, put_many_branches, query
from tests.gui.window_checks import clipped, inside

pytestmark = pytest.mark.gui

@pytest.mark.parametrize("branches, size", [(3, "1024x640"), (500, "1024x640"), (3, "1920x1080"), (500, "1920x1080")])
def test_the_layout_holds_from_the_minimum_size_to_full_screen_with_3_and_500_branches(
        offices, gui, open_head_office_window, branches, size):
    if branches == 3:
        put_head_office_rows(offices, 200)
        cfg = offices.ho
    else:
        cfg = dataclasses.replace(offices.ho, branches=put_many_branches(offices, branches, days=12))
    window = open_head_office_window(cfg, size=size, consumer_cfg=offices.ho)
    gui.wait_until(lambda: window.sales.totals is not None and window.chart.totals and window.branch_panel.progress,
                   "the table, totals, chart and branch panel to fill")
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 200, "the first page")
    for name, day in (("date_from", "2021-04-01"), ("date_to", "2026-11-30")):   # dates in the fields, to see they fit
        window.filter_bar.vars[name].set(day)
    window.filter_bar.apply()
    gui.wait_until(lambda: not window.sales.updating and not window.chart.updating, "the figures for those dates")
    gui.settle(0.3)
    for tab in (window.sales, window.summary, window.dead_letters):
        window.notebook.select(tab)
        if tab is window.summary:
            gui.wait_until(lambda: window.summary.summary is not None and not window.summary.updating, "the subtotals")
        gui.settle(0.3)
        assert clipped(window.winfo_toplevel()) == [], tab
    panel = window.branch_panel
    shown_rows = int(str(panel.table.tree.cget("height")))
    assert shown_rows == 3 if branches == 3 else shown_rows <= 20    # the panel scrolls rather than grows
    (known,), = query(offices, "SELECT COUNT(*) FROM sync_branches")     # the 3 of the test offices are there too
    assert known >= branches and panel.summary.cget("text").startswith(f"{known:,} branches")
    chart = window.chart.canvas
    assert chart.winfo_ismapped() and chart.winfo_height() >= 120 and inside(chart, window.winfo_toplevel())
    series = window.chart.drawn_series()
    assert series == (sorted(cfg.branches) if branches == 3 else [ALL])


def test_the_chart_says_which_days_it_shows_and_whether_the_filter_or_the_office_has_no_sales(
        offices, gui, open_head_office_window):
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: window.chart.empty_text() == "No sales at the Head Office yet", "an empty office")
    put_head_office_rows(offices, 90)          # 2021-04-01 .. 2021-05-10
    window.refresh_all()
    gui.wait_until(lambda: window.chart.totals, "the chart to fill")
    assert window.chart.caption.cget("text") == "11 Apr – 10 May 2021"
    window.filter_bar.vars["product"].set("Nothing")
    window.filter_bar.apply()
    gui.wait_until(lambda: window.chart.empty_text() == "No sales match the filter", "the chart to say the filter matches nothing")
    assert window.chart.canvas.itemcget(window.chart.canvas.find_withtag("empty")[0], "text") == "No sales match the filter"
