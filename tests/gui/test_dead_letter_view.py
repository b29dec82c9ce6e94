"""The manager's dead letters: what a parked message held (branch by name, sales, their total, their numbers),
one sentence on what to do, the engine's reason behind Details, and every attempt after a Retry that failed again."""
from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from gui.formats import money
from models.money import compute_line
from tests.gui.head_office_data import query
from tests.gui.window_checks import clipped
from tests.harness import changes_body, publish_raw, upsert

pytestmark = pytest.mark.gui


def test_a_parked_message_shows_its_branch_sales_total_and_numbers_and_stays_in_view_when_a_retry_fails_again(
        offices, gui, open_head_office_window):
    # The window's configuration names West Branch; the consumer's does not know bo2, so it parks bo2's sales.
    consumer_cfg = dataclasses.replace(offices.ho, branches={"bo1": "East Branch"})
    window = open_head_office_window(offices.ho, size="1024x640", consumer_cfg=consumer_cfg)   # its minimum size
    view = window.dead_letters
    gui.wait_until(lambda: window.status.text("consumer") == "● Receiving", "the consumer to connect")
    changes = [upsert(seq, 100 + seq, qty=seq) for seq in range(1, 9)]
    publish_raw(offices, changes_body("bo2", "db-2", changes))
    garbage = b"\x00\x01 this is no message"
    publish_raw(offices, garbage)
    gui.wait_until(lambda: len(view.letters) == 2 and all(view.table.row_values(i)[3] != "…" for i in view.letters),
                   "both letters to be listed and read")
    (sales_id,), (garbage_id,) = query(offices, "SELECT id FROM sync_dead_letters ORDER BY id")
    total = sum((compute_line(seq, Decimal("2.19"), Decimal("0.07")).total for seq in range(1, 9)), Decimal(0))
    assert view.table.row_values(str(sales_id))[2:6] == ("West Branch (bo2)", f"8 sales · {money(total)}", "passes now", "1")
    assert view.table.row_values(str(garbage_id))[2:5] == ("an unknown sender", f"unreadable, {len(garbage)} bytes",
                                                            "unreadable")
    assert window.status.text("message") == "A message from an unknown sender could not be applied: see Dead letters."

    window.notebook.select(view)
    view.table.select(str(sales_id))
    gui.wait_until(lambda: view.details is not None, "the letter's details")
    assert view.held.cget("text") == (f"West Branch (bo2) sent 8 sales totalling {money(total)}: "
                                      "sales 101, 102, 103, 104, 105, 106 and 2 more.")
    assert view.todo.text.startswith("It passes the Head Office's checks now") and view.todo.details
    assert view.history.cget("text").startswith("Parked once: parked ")
    view.todo.toggle_details()
    assert view.todo.details_shown and "is not one this Head Office knows" in view.todo.details
    gui.settle(0.3)
    assert clipped(window.winfo_toplevel()) == []          # the reason unfolded still leaves everything in view

    view.retry_button.invoke()          # the consumer still does not know bo2: parked again, and still in view
    gui.wait_until(lambda: view.letters[str(sales_id)].attempts == 2 and view.details is not None
                   and view.history.cget("text").startswith("Parked 2 times"), "the retry to fail again, in view")
    assert "parked again" in view.history.cget("text") and view.table.row_values(str(sales_id))[5] == "2"
    assert query(offices, f"SELECT state FROM sync_dead_letters WHERE id = {sales_id}") == [("parked",)]

    view.table.select(str(garbage_id))
    gui.wait_until(lambda: view.details is not None and view.details.letter_id == garbage_id, "the other letter")
    assert view.held.cget("text") == f"A message from an unknown sender; what it held could not be read ({len(garbage)} bytes)."
    assert view.todo.text.startswith("Nothing in it says which branch sent it")
