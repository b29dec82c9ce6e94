"""The Head Office window against a real Head Office database, consumer and broker."""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from devtools.linkproxy import LinkProxy
from gui.formats import money
from gui.sync_words import NOT_RECEIVING
from gui.theme import TONES
from tests.gui.head_office_data import CSV_SQL, put_head_office_rows, query
from tests.harness import insert_sales, publish_raw

pytestmark = pytest.mark.gui


NAMES = {"bo1": "East Branch", "bo2": "West Branch", "bo3": "North Branch"}
CODES = {name: code for code, name in NAMES.items()}


def shown_sale_ids(window) -> list[tuple[str, int]]:
    """(branch code, sale number) of the rows shown; the table names the branch."""
    table = window.sales.table
    return [(CODES[table.row_values(iid)[0]], int(table.row_values(iid)[1])) for iid in table.visible_ids()]


def totals_text(rows: list[tuple]) -> str:
    qty = sum(r[5] for r in rows)
    amt, tax, total = (sum((r[i] for r in rows), Decimal("0.00")) for i in (7, 8, 9))
    count = f"{len(rows):,} row" + ("" if len(rows) == 1 else "s")
    return f"Totals of {count}:  ·  Qty {qty:,}  ·  Amt {money(amt)}  ·  Tax {money(tax)}  ·  Total {money(total)}"


def test_filters_totals_and_csv_export_agree_with_the_database(offices, gui, open_head_office_window, tmp_path):
    put_head_office_rows(offices, 330)
    window = open_head_office_window(offices.ho)
    bar = window.filter_bar
    everything = query(offices, CSV_SQL + " ORDER BY sale_date DESC, id DESC")
    gui.wait_until(lambda: window.sales.totals_text == totals_text(everything), "the totals of every row")
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in everything[:200]], "the first page")
    assert window.sales.rows_label.cget("text") == "Rows 1–200 of 330"

    # Branch from its list, product typed then Enter, a date range typed.
    bar.branch_box.current(bar.branch_box.cget("values").index("West Branch (bo2)"))
    bar.branch_box.event_generate("<<ComboboxSelected>>")
    gui.focus_window()
    bar.product_box.focus_set()
    gui.erase()
    gui.type("Pens")
    gui.key("Return")
    bar.from_entry.entry.focus_set()
    gui.type("2021-04-05")
    bar.to_entry.entry.focus_set()     # leaving a field applies it too
    gui.type("2021-04-30")
    gui.key("Return")
    expected = query(offices, CSV_SQL + " WHERE branch = 'bo2' AND product = 'Pens' AND sale_date BETWEEN '2021-04-05' AND "
                                        "'2021-04-30' ORDER BY sale_date DESC, id DESC")
    assert 0 < len(expected) < 200
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in expected], "the table to show the filtered rows")
    gui.wait_until(lambda: window.sales.totals_text == totals_text(expected), "the totals of the filtered rows")
    window.sales.ask_export_path = lambda: str(tmp_path / "filtered.csv")
    window.sales.export_button.invoke()
    gui.wait_until(lambda: window.message.cget("text").startswith("Exported"), "the export to finish")
    assert read_csv(tmp_path / "filtered.csv") == [csv_row(r) for r in expected]

    # Region alone, sorted by Total (largest first): more than one page, and the export has them all.
    bar.clear()
    bar.region_box.focus_set()
    gui.erase()
    gui.type("East")
    gui.key("Return")
    tree = window.sales.table.tree
    tree.tk.call(tree.heading("total", "command"))   # what a click on the Total heading runs
    east = query(offices, CSV_SQL + " WHERE region = 'East' ORDER BY total DESC, id DESC")
    assert len(east) == 110
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in east[:110]], "the East rows sorted by total")
    window.sales.ask_export_path = lambda: str(tmp_path / "east.csv")
    window.sales.export_button.invoke()
    progress = window.sales.export_progress           # a bar, a count and Cancel while it runs
    assert progress.running and progress.winfo_manager() == "grid" and str(window.sales.export_button.cget("state")) == "disabled"
    gui.wait_until(lambda: window.message.cget("text") == f"Exported 110 rows to {tmp_path / 'east.csv'}.", "the export")
    assert read_csv(tmp_path / "east.csv") == [csv_row(r) for r in east]
    assert not (tmp_path / "east.csv.part").exists()
    assert progress.winfo_manager() == "" and progress.label.cget("text") == "110 of 110 rows"


def test_pages_move_through_a_large_result_in_database_order(offices, gui, open_head_office_window):
    put_head_office_rows(offices, 450)
    window = open_head_office_window(offices.ho)
    everything = query(offices, CSV_SQL + " ORDER BY sale_date DESC, id DESC")
    gui.wait_until(lambda: window.sales.rows_label.cget("text") == "Rows 1–200 of 450", "the first page")
    window.sales.page_buttons["next"].invoke()
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in everything[200:400]], "the second page")
    assert window.sales.rows_label.cget("text") == "Rows 201–400 of 450"
    window.sales.page_buttons["last"].invoke()
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in everything[250:]], "the last page")
    assert str(window.sales.page_buttons["next"].cget("state")) == "disabled"
    window.sales.page_buttons["prev"].invoke()
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in everything[50:250]], "the page before the last")
    window.sales.page_buttons["first"].invoke()
    gui.wait_until(lambda: shown_sale_ids(window) == [(r[0], r[1]) for r in everything[:200]], "the first page again")


def read_csv(path) -> list[list[str]]:
    """The rows of an export, after checking it opens as spreadsheets expect: a UTF-8 byte order mark and the
    screen's column labels as its header."""
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Branch", "Sale #", "Date", "Region", "Product", "Qty", "Cost", "Amt", "Tax", "Total"]
    return rows[1:]


def csv_row(row: tuple) -> list[str]:
    return [NAMES[row[0]], str(row[1]), row[2].isoformat(), row[3], row[4], str(row[5]), *(str(v) for v in row[6:])]


def test_rows_fill_in_live_without_losing_the_managers_place_or_selection(
        offices, gui, open_head_office_window, open_branch_window):
    insert_sales(offices.engine("bo1"), 120, day=dt.date(2021, 4, 1))
    window = open_head_office_window(offices.ho)
    open_branch_window(offices.branch("bo1"))
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 120, "the first 120 rows to arrive")
    ids = window.sales.table.visible_ids()
    window.sales.table.select(ids[80])
    window.sales.table.tree.yview_moveto(0.5)
    gui.settle()
    top_before = window.sales.table.tree.identify_row(5)

    insert_sales(offices.engine("bo1"), 10, start=500, day=dt.date(2021, 6, 1))   # newer: they sort above
    gui.wait_until(lambda: len(window.sales.table.visible_ids()) == 130, "the new rows to fill in without a click")
    assert window.sales.table.selected() == ids[80]
    assert window.sales.table.tree.identify_row(5) == top_before
    gui.wait_until(lambda: window.sales.totals_text.startswith("Totals of 130 rows"), "the totals to follow")


def test_branch_panel_marks_a_branch_silent_for_too_long_and_the_chart_has_a_series_per_branch(
        offices, gui, open_head_office_window):
    put_head_office_rows(offices, 60)
    with offices.engine("ho").begin() as conn:
        conn.execute(text("UPDATE sync_branches SET last_applied_at = NOW() - INTERVAL 5 MINUTE WHERE code = 'bo1'"))
        conn.execute(text("UPDATE sync_branches SET last_applied_at = NOW() - INTERVAL 3 HOUR WHERE code = 'bo2'"))
    window = open_head_office_window(offices.ho)   # silent after 120 minutes (the default)
    panel = window.branch_panel
    gui.wait_until(lambda: panel.progress, "the branch panel to fill")
    assert panel.silent_branches() == ["bo2"]
    words = {iid: panel.table.row_values(iid) for iid in panel.table.visible_ids()}
    assert words["bo2"] == ("West Branch", "20", "⚠ silent 3 h")
    assert words["bo1"][2] == "✓ 5 min ago"
    assert words["bo3"][2] == "nothing yet"
    assert panel.summary.cget("text") == "3 branches · 1 silent"
    gui.wait_until(lambda: window.chart.drawn_series() == ["bo1", "bo2", "bo3"], "a chart series per branch")

    with offices.engine("ho").begin() as conn:
        conn.execute(text("UPDATE sync_branches SET alert = 'its database was replaced' WHERE code = 'bo3'"))
    window.reload_side()
    gui.wait_until(lambda: panel.alerts.cget("text") == "⚠ North Branch: Its database was replaced.", "the alert in words")
    assert panel.table.row_values("bo3")[2] == "⚠ see below"

    # A branch whose capture is broken, and one whose days do not match (the alert monitor's open alert), are
    # marked and listed first.
    with offices.engine("ho").begin() as conn:
        conn.execute(text("UPDATE sync_branches SET capture_ok = 0, capture_problem = 'trigger missing' "
                          "WHERE code = 'bo1'"))
        conn.execute(text("INSERT INTO sync_alerts (kind, branch, sentence, open_key) VALUES ('day_different', 'bo2', "
                          "'Branch bo2: the sales of 2021-06-01 do not match', 'day_different/bo2')"))
    window.reload_side()
    gui.wait_until(lambda: panel.table.row_values("bo1")[2] == "⚠ capture broken", "bo1's broken capture marked")
    assert panel.table.row_values("bo2")[2] == "⚠ days differ"
    assert panel.table.visible_ids()[2] not in ("bo1", "bo2")  # the marked ones sort first

    window.filter_bar.choose_branch("bo3")
    gui.wait_until(lambda: window.chart.drawn_series() == ["bo3"], "the chart to follow the filter")


def dead_letter_states(offices) -> dict[int, str]:
    return dict(query(offices, "SELECT id, state FROM sync_dead_letters"))


def test_dead_letters_are_listed_with_their_reason_and_can_be_retried_or_discarded(offices, gui, open_head_office_window):
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: window.status.text("consumer") == "● Receiving", "the consumer to connect")
    publish_raw(offices, b"not a message at all", branch="bo1")  # bo1's own queue: it came from bo1
    gui.wait_until(lambda: len(window.dead_letters.letters) == 1, "the dead letter to be listed", timeout=30)
    assert window.notebook.tab(window.dead_letters, "text") == "Dead letters (1)"
    (first_id,) = dead_letter_states(offices)
    view = window.dead_letters
    gui.wait_until(lambda: view.table.row_values(str(first_id))[3] != "…", "what the letter held to be read")
    assert view.table.row_values(str(first_id))[2:5] == ("East Branch (bo1)", "unreadable, 20 bytes", "unreadable")
    window.notebook.select(window.dead_letters)
    view.table.select(str(first_id))
    gui.wait_until(lambda: view.details is not None, "the letter's details")
    assert view.held.cget("text") == "A message from East Branch (bo1); what it held could not be read (20 bytes)."
    assert view.todo.text.startswith("Ask the support of East Branch (bo1)")
    (reason,), = query(offices, f"SELECT reason FROM sync_dead_letters WHERE id = {first_id}")
    assert reason in view.todo.details and not view.todo.details_shown      # the engine's words behind Details
    asked = []
    window.confirm = lambda title, question: asked.append(question) or True
    window.dead_letters.discard_button.invoke()
    gui.wait_until(lambda: dead_letter_states(offices) == {first_id: "discarded"}, "the dead letter to be discarded")
    assert f"#{first_id}" in asked[0]
    gui.wait_until(lambda: not window.dead_letters.letters, "the list to empty")
    assert window.status.text("letters") == "No dead letters"

    publish_raw(offices, b"also not a message", branch="bo1")
    gui.wait_until(lambda: len(window.dead_letters.letters) == 1, "the second dead letter to be listed", timeout=30)
    (second_id,) = [i for i, state in dead_letter_states(offices).items() if state == "parked"]
    window.dead_letters.table.select(str(second_id))
    gui.settle()
    window.dead_letters.retry_button.invoke()
    # Still not a message: tried again and parked again, in view, with both attempts kept.
    gui.wait_until(lambda: query(offices, f"SELECT attempts FROM sync_dead_letters WHERE id = {second_id}") == [(2,)],
                   "the retry to be tried and parked again")
    assert dead_letter_states(offices)[second_id] == "parked"
    gui.wait_until(lambda: str(second_id) in window.dead_letters.letters, "the letter to stay in view")


def test_sync_now_at_the_head_office_asks_connected_branches_to_send(offices, gui, open_head_office_window, open_branch_window):
    head_office = open_head_office_window(offices.ho)
    branch = open_branch_window(offices.branch("bo1"))
    gui.wait_until(lambda: branch.status.text("link") == "● Online", "the branch to be online")
    gui.wait_until(lambda: head_office.status.text("consumer") == "● Receiving", "the consumer to connect")
    head_office.sync_button.invoke()
    assert head_office.message.cget("text").startswith("Asked every connected branch")
    gui.wait_until(lambda: branch.sync_message.cget("text").startswith("Sync finished"), "the branch to answer the request")


def test_a_consumer_that_cannot_reach_the_broker_is_said_calmly_with_the_cause_behind_details(
        offices, gui, open_head_office_window):
    with LinkProxy(("127.0.0.1", make_url(offices.amqp_url).port or 5672)) as link:
        link.cut()
        cfg = dataclasses.replace(offices.ho, amqp_urls=(f"amqp://guest:guest@127.0.0.1:{link.port}/%2F",))
        window = open_head_office_window(cfg)
        gui.wait_until(lambda: window.status.text("consumer") == "● Not receiving", "the consumer to be offline")
        assert window.notice.text == NOT_RECEIVING and str(window.message.cget("foreground")) != TONES["bad"]
        assert f"127.0.0.1:{link.port}" in window.notice.details and "amqp" not in window.notice.text.lower()
        assert window.status.text("message") == ""
        link.restore()
        gui.wait_until(lambda: window.status.text("consumer") == "● Receiving", "the consumer to connect", timeout=45)
        assert window.notice.text == ""


def test_a_branch_known_to_the_head_office_but_not_configured_is_named_in_the_table_and_filter(
        offices, gui, open_head_office_window):
    put_head_office_rows(offices, 9)
    cfg = dataclasses.replace(offices.ho, branches={"bo1": "East Branch", "bo2": "West Branch"})   # bo3 not configured
    window = open_head_office_window(cfg, consumer_cfg=offices.ho)
    gui.wait_until(lambda: "North Branch" in [window.sales.table.row_values(i)[0] for i in window.sales.table.visible_ids()],
                   "bo3's rows to carry the name the Head Office holds for it")
    assert "North Branch (bo3)" in window.filter_bar.branch_box.cget("values")
