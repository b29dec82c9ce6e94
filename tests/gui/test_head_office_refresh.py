"""The Head Office window's reads under load: a newer filter supersedes a slow read (whose late answer is never
shown), the old figures say they are updating while the new ones are computed, and live refreshes are merged and
back off when reads are slow.  The window's reads are wrapped by an injected reader that the test holds or slows."""
from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

import gui.head_office_window
import gui.sales_view
import gui.summary_view
from gui.formats import money
from gui.head_office_window import LIVE_BACKOFF, LIVE_PAGE_GAP_MS, LIVE_SUMMARY_GAP_MS
from gui.theme import TONES
from sync import events as ev
from tests.gui.head_office_data import put_head_office_rows, query

pytestmark = pytest.mark.gui

READS = ((gui.sales_view, "sales_page"), (gui.sales_view, "sales_totals"), (gui.head_office_window, "daily_totals"),
         (gui.summary_view, "sales_summary"))
FIGURES = ("sales_totals", "daily_totals", "sales_summary")


class InjectedReader:
    """Wraps the window's database reads: counts them, holds those of a filtered branch until released, and makes
    each figure read take at least ``least_seconds``."""

    def __init__(self, monkeypatch, least_seconds: float = 0.0):
        self.least_seconds = least_seconds
        self.gates: dict[str | None, threading.Event] = {}
        self.entered: Counter = Counter()      # (read, branch) -> reads started
        self.running: Counter = Counter()      # read -> reads in progress now
        self.most_at_once: Counter = Counter()
        self._lock = threading.Lock()
        for module, name in READS:
            monkeypatch.setattr(module, name, self._wrap(name, getattr(module, name)))

    def hold(self, branch: str) -> threading.Event:
        self.gates[branch] = threading.Event()
        return self.gates[branch]

    def reads(self, name: str) -> int:
        return sum(n for (read, _branch), n in self.entered.items() if read == name)

    def _wrap(self, name: str, real):
        def read(engine, filt, *args, **kwargs):
            with self._lock:
                self.entered[(name, filt.branch)] += 1
                self.running[name] += 1
                self.most_at_once[name] = max(self.most_at_once[name], self.running[name])
            try:
                started = time.monotonic()
                gate = self.gates.get(filt.branch)
                if gate is not None:
                    gate.wait(60)
                value = real(engine, filt, *args, **kwargs)
                if name in FIGURES:
                    time.sleep(max(0.0, self.least_seconds - (time.monotonic() - started)))
                return value
            finally:
                with self._lock:
                    self.running[name] -= 1
        return read


def totals_of(offices, branch: str) -> tuple:
    (row,) = query(offices, "SELECT COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales WHERE branch = :b",
                   b=branch)
    return row


def test_a_slow_read_superseded_by_a_newer_filter_is_never_shown_and_the_old_figures_say_updating_meanwhile(
        offices, gui, open_head_office_window, monkeypatch):
    put_head_office_rows(offices, 300)
    reader = InjectedReader(monkeypatch)
    window = open_head_office_window(offices.ho)
    window.notebook.select(window.summary)
    gui.wait_until(lambda: window.sales.totals is not None and window.chart.totals and window.summary.summary is not None
                   and not window.sales.updating and not window.summary.updating, "every figure of all the sales")
    all_time = window.sales.totals_text
    east, west = reader.hold("bo1"), reader.hold("bo2")

    window.filter_bar.choose_branch("bo1")     # East's reads start, and are held
    gui.wait_until(lambda: all(reader.entered[(name, "bo1")] for name in ("sales_page", *FIGURES)), "East's reads")
    window.filter_bar.choose_branch("bo2")     # West supersedes East at once; its reads are held too
    gui.wait_until(lambda: all(reader.entered[(name, "bo2")] for name in ("sales_page", *FIGURES)), "West's reads")
    gui.settle(0.3)                            # the window keeps running while both are computed
    assert window.sales.updating and window.sales.totals_text == all_time + "  ·  Updating for the new filter…"
    assert str(window.sales.totals_line.cells["total"].cget("foreground")) == TONES["stale"]
    assert window.chart.updating and window.chart.canvas.find_withtag("updating")
    assert window.summary.updating and window.summary.note.cget("text").startswith("Updating")
    lines = window.summary.table
    assert lines.visible_ids() and all(lines.tree.item(i, "tags") == ("stale",) for i in lines.visible_ids())
    assert window.sales.rows_label.cget("text") == "Reading the sales for the new filter…"
    table = window.sales.table
    assert window.sales.rows_stale and all(table.tree.item(i, "tags") == ("stale",) for i in table.visible_ids())

    west.set()
    rows, qty, amt, tax, total = totals_of(offices, "bo2")
    west_line = (f"Totals of {rows:,} rows:  ·  Qty {qty:,}  ·  Amt {money(amt)}  ·  Tax {money(tax)}  ·  "
                 f"Total {money(total)}")
    gui.wait_until(lambda: window.sales.totals_text == west_line and not window.summary.updating
                   and not window.chart.updating, "West's own figures")

    east.set()                                 # East's slow answers arrive last: dropped
    gui.wait_until(lambda: not window.sales.page_pending and not window._summaries_pending(), "East's late answers")
    gui.settle(0.3)
    assert window.sales.totals_text == west_line and not window.sales.updating
    assert str(window.sales.totals_line.cells["total"].cget("foreground")) == TONES["normal"]
    assert window.chart.drawn_series() == ["bo2"] and window.summary.summary.total.total == total
    assert all(lines.tree.item(i, "tags") != ("stale",) for i in lines.visible_ids())
    assert {table.row_values(i)[0] for i in table.visible_ids()} == {"West Branch"}
    assert not window.sales.rows_stale and all(table.tree.item(i, "tags") == "" for i in table.visible_ids())


def test_live_refreshes_are_merged_never_overlap_and_back_off_from_slow_reads(
        offices, gui, open_head_office_window, monkeypatch):
    least = 0.6                                # every figure read takes at least this long
    put_head_office_rows(offices, 30)
    reader = InjectedReader(monkeypatch, least_seconds=least)
    first_reads = reader.hold(None)            # the window's first reads (every branch) wait until let go
    window = open_head_office_window(offices.ho)
    gui.wait_until(lambda: reader.entered[("sales_totals", None)], "the first totals read to start")

    # A branch sending a sale every 0.2 s: rows written and the consumer's event for each.
    def sale(i: int) -> None:
        put_head_office_rows(offices, 1, first_sale=9000 + i)
        window.pump.events.put(ev.RowsApplied("bo1", 1, 0, 0))
        gui.settle(0.2)

    for i in range(20):
        sale(i)
    # While the first reads run, no live refresh starts over them, however many rows arrive.
    assert window.live_summaries.runs == 0 and window.live_page.runs == 0
    assert reader.entered[("sales_totals", None)] == 1 and reader.entered[("sales_page", None)] == 1
    first_reads.set()
    started = time.monotonic()
    for i in range(20, 35):
        sale(i)
    elapsed = time.monotonic() - started

    # Each refresh takes at least `least`, and the next starts no sooner than max(gap, 5 x that) after it ended.
    cycle = least + max(LIVE_SUMMARY_GAP_MS / 1000, LIVE_BACKOFF * least)
    summaries = window.live_summaries.runs
    assert 1 <= summaries <= 1 + int(elapsed / cycle), (summaries, elapsed)
    assert 1 <= window.live_page.runs <= 1 + int(elapsed / (LIVE_PAGE_GAP_MS / 1000)), elapsed
    assert window.live_summaries.last_seconds >= least and window.live_summaries.wait_ms() >= LIVE_BACKOFF * least * 1000

    # The last rows are not lost to the merging: a refresh after the burst shows all of them.
    gui.wait_until(lambda: window.sales.totals.rows == 65 and not window._summaries_pending(), "the last refresh")
    assert reader.reads("sales_totals") == 1 + window.live_summaries.runs     # one totals read per refresh
    assert reader.most_at_once["sales_totals"] == 1 and reader.most_at_once["daily_totals"] == 1   # never over itself
