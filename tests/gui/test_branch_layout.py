"""The branch window holds its layout at its minimum size, in its busiest state: offline with the cause shown,
and a sale with a sentence beside each of its wrong values open in the form."""
from __future__ import annotations

import dataclasses

import pytest

from tests.gui.window_checks import ODD, clipped, write_without_checks
from tests.harness import insert_sales

pytestmark = pytest.mark.gui


def test_at_its_minimum_size_offline_and_editing_a_faulty_sale_nothing_in_the_branch_window_is_cut_off(
        offices, gui, root, open_branch_window):
    engine = offices.engine("bo1")
    insert_sales(engine, 30)
    write_without_checks(engine, ODD, [{"d": "0000-00-00", "r": "", "p": "Paper", "q": 0, "c": "-1.00", "a": "0.00",
                                        "t": "0.00", "tot": "0.00"}])
    root.geometry("1024x640")
    cfg = dataclasses.replace(offices.branch("bo1"), amqp_urls=("amqp://guest:guest@127.0.0.1:1/%2F",))
    window = open_branch_window(cfg)
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 31, "the sales")
    window.sync_button.invoke()
    gui.wait_until(lambda: window.notice.details and str(window.sync_button.cget("state")) == "normal", "the offline answer")
    window.notice.toggle.invoke()
    odd = window.sales.table.visible_ids()[0]
    window.sales.table.select(odd)
    window.edit_selected()
    gui.settle(0.5)
    assert sum(bool(window.form.error_for(f)) for f in ("sale_date", "region", "qty", "cost")) == 4
    assert window.notice.details_shown and window.sales.note.winfo_ismapped()
    assert clipped(root) == []
