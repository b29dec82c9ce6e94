"""The Head Office window's Alerts tab: what is active now, and the history, as the monitor records them."""
from __future__ import annotations

import dataclasses
import time

import pytest
from sqlalchemy import text

from sync.alerts import AlertMonitor

pytestmark = pytest.mark.gui


def set_capture(offices, branch: str, ok: bool) -> None:
    """What a branch's report writes at the Head Office about its capture."""
    with offices.engine("ho").begin() as conn:
        conn.execute(text("UPDATE sync_branches SET capture_ok = :ok, capture_problem = :problem WHERE code = :b"),
                     {"ok": ok, "problem": None if ok else "Change capture is broken: trigger sales_capture_insert "
                                                           "is not installed.", "b": branch})


class Refresher:
    """Asks the window to refresh at most twice a second while a test waits (as F5 would), not on every poll."""

    def __init__(self, window):
        self.window, self.last = window, 0.0

    def __call__(self) -> None:
        if time.monotonic() - self.last >= 0.5:
            self.last = time.monotonic()
            self.window.refresh_all()


def test_the_alerts_tab_shows_an_alert_while_it_lasts_and_keeps_it_in_the_history(offices, gui, open_head_office_window,
                                                                                    engine_threads):
    window = open_head_office_window(offices.ho)
    monitor = AlertMonitor(dataclasses.replace(offices.ho, alert_check_seconds=0.3))
    monitor.start()
    engine_threads.append(monitor)
    tabs = window.notebook
    refresh = Refresher(window)
    tabs.select(window.alerts)
    gui.wait_until(lambda: "none" in window.alerts.active_label.cget("text"), "the empty list of active alerts")

    set_capture(offices, "bo2", ok=False)
    gui.wait_until(lambda: monitor.checks > 2 and refresh() is None
                   and tabs.tab(window.alerts, "text") == "Alerts (1)", "the tab to count one active alert")
    (row,) = [window.alerts.active.row_values(iid) for iid in window.alerts.active.visible_ids()]
    assert row[1:3] == ("Capture broken", "West Branch")
    assert "sales_capture_insert is not installed" in row[3]
    window.alerts.active.select(window.alerts.active.visible_ids()[0])
    gui.wait_until(lambda: "still active" in window.alerts.detail.cget("text"), "the selected alert in full")
    assert window.alerts.detail.cget("text").endswith("trigger sales_capture_insert is not installed.")

    set_capture(offices, "bo2", ok=True)
    gui.wait_until(lambda: refresh() is None and tabs.tab(window.alerts, "text") == "Alerts",
                   "the tab to count none once capture works again")
    assert window.alerts.active.visible_ids() == []
    (kept,) = [window.alerts.history.row_values(iid) for iid in window.alerts.history.visible_ids()]
    assert kept[1] != "active" and kept[2:4] == ("Capture broken", "West Branch")
