"""The Head Office's Day close view and the branch's day status, against real offices, consumer and agents."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from gui.theme import TINTS, TONES
from models.day_close import DayState
from tests.harness import insert_sales

pytestmark = pytest.mark.gui

TODAY = dt.date.today()
YESTERDAY = TODAY - dt.timedelta(days=1)


def state_of(view, branch: str, day: dt.date) -> DayState | None:
    found = view.days.get((branch, day))
    return found.state if found else None


def cell_fill(view, branch: str, day: dt.date) -> str:
    x, y = view.cell_center(branch, day)
    cell = next(i for i in view.canvas.find_overlapping(x, y, x, y) if view.canvas.type(i) == "rectangle")
    return view.canvas.itemcget(cell, "fill")


def test_the_day_close_view_colours_each_branch_day_compares_totals_names_the_sales_and_resends(
        offices, gui, open_head_office_window, open_branch_window):
    ids = insert_sales(offices.engine("bo1"), 6, day=YESTERDAY)
    insert_sales(offices.engine("bo1"), 3, day=TODAY)
    insert_sales(offices.engine("bo2"), 4, day=TODAY)
    window = open_head_office_window(offices.ho)
    open_branch_window(offices.branch("bo1"))
    open_branch_window(offices.branch("bo2"))
    view = window.day_close
    window.notebook.select(view)

    def refreshed(predicate, what: str) -> None:
        def check() -> bool:
            view.refresh()
            gui.settle(0.3)
            return predicate()
        gui.wait_until(check, what, timeout=60)

    refreshed(lambda: state_of(view, "bo1", YESTERDAY) is DayState.CERTIFIED and state_of(view, "bo1", TODAY)
              is DayState.CERTIFIED and state_of(view, "bo2", TODAY) is DayState.CERTIFIED, "three certified days")
    assert cell_fill(view, "bo1", YESTERDAY) == TINTS["good"] and state_of(view, "bo3", TODAY) is None

    with offices.engine("ho").begin() as conn:  # a sale deleted by hand at the Head Office
        conn.execute(text("DELETE FROM sales WHERE branch = 'bo1' AND branch_sale_id = :i"), {"i": ids[2]})
    refreshed(lambda: state_of(view, "bo1", YESTERDAY) is DayState.DIFFERENT, "the day to show different")
    assert cell_fill(view, "bo1", YESTERDAY) == TINTS["bad"]
    x, y = view.cell_center("bo1", YESTERDAY)
    view.canvas.event_generate("<Button-1>", x=x, y=y)
    gui.settle(0.3)
    assert view.title.cget("text").startswith("East Branch · ") and view.title.cget("text").endswith("· Different")
    assert (view.cells[("Sales", "branch")].cget("text"), view.cells[("Sales", "office")].cget("text")) == ("6", "5")
    assert str(view.cells[("Sales", "office")].cget("foreground")) == TONES["bad"]

    view.sales_button.invoke()
    refreshed(lambda: f"#{ids[2]} missing here" in view.sales_line.cget("text"), "the missing sale named")
    view.resend_button.invoke()
    gui.wait_until(lambda: "Asked East Branch to send this day again" in view.asked.cget("text"), "the ask said")
    refreshed(lambda: state_of(view, "bo1", YESTERDAY) is DayState.CERTIFIED, "the day certified after the resend")
    assert view.cells[("Sales", "office")].cget("text") == "6"
