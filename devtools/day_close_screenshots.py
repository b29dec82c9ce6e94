"""Screenshots of day close for the README, in docs/ (run by ``make screenshots`` after devtools.screenshots):

    screenshot-day-close.png           the Head Office's Day close tab: a day different, its missing sale named
    screenshot-branch-day-status.png   a branch window saying which of its days the Head Office confirmed and which differ

    python -m devtools.day_close_screenshots

Like devtools/screenshots.py: its own virtual X display, private databases and broker
names dropped afterwards, the same fortnight of sample sales.
"""
from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from pathlib import Path

from pyvirtualdisplay import Display
from sqlalchemy import text

from devtools import screenshots
from devtools.screenshots import DOCS, LAST_DAY, ROOT, SIZE, open_branch, open_head_office, sample_sales, settle
from gui.app import destroy_root
from models.branch_sales import PRODUCT_CATALOGUE, add_sale
from models.day_close import Ask, DayState, ask_branch, day_close, sale_differences
from models.sale import new_sale
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import Offices, assert_converged, running, wait_for

DIFFERENT_DAY = LAST_DAY - dt.timedelta(days=2)   # West Branch: a sale deleted by hand at the Head Office
LATE_DAY = LAST_DAY - dt.timedelta(days=1)        # North Branch: a late change whose totals are on their way


def photograph(path: Path, size: tuple[int, int] = SIZE) -> None:
    """Save the top left ``size`` of the virtual screen: ImageMagick's import where installed, else Pillow's grab."""
    if shutil.which("import"):
        screenshots.photograph(path, size)
        return
    from PIL import ImageGrab

    ImageGrab.grab(bbox=(0, 0, *size), xdisplay=os.environ["DISPLAY"]).save(path)
    print(f"saved {path.relative_to(ROOT)}")


def certified(offices: Offices) -> bool:
    return all(d.state is DayState.CERTIFIED for d in day_close(offices.engine("ho"), offices.codes))


def stage(offices: Offices) -> None:
    """Every day certified; then one West Branch day different, one North Branch day in flight."""
    with running(IntakeConsumer(offices.ho), *[OutboxRelay(b) for b in offices.branches]):
        assert_converged(offices)
        wait_for(lambda: certified(offices), 60, "every day certified")
        with offices.engine("ho").begin() as conn:
            conn.execute(text("DELETE FROM sales WHERE branch = 'bo2' AND sale_date = :d ORDER BY branch_sale_id LIMIT 1"),
                         {"d": DIFFERENT_DAY})
        ask_branch(offices.engine("ho"), "bo2", DIFFERENT_DAY, Ask.SALES)
        wait_for(lambda: sale_differences(offices.engine("ho"), "bo2", DIFFERENT_DAY).any, 30, "West's sales")
    bo3 = offices.engine("bo3")
    with bo3.begin() as conn:  # its totals wait for the Head Office's next answer: the day stays in flight
        conn.execute(text("DELETE FROM sync_state WHERE name = 'ho_day_close'"))
    cfg = offices.branch("bo3")
    add_sale(bo3, new_sale(sale_date=LATE_DAY, region=cfg.region, product="Toner", qty=3,
                           cost=PRODUCT_CATALOGUE["Toner"], tax_rate=cfg.tax_rate))
    OutboxRelay(cfg).run_once(receipt_wait=0)


def head_office_picture(offices: Offices) -> None:
    root, window, consumer = open_head_office(offices, offices.ho, SIZE)
    view = window.day_close
    view.today = lambda: LAST_DAY
    with running(consumer):
        window.notebook.select(view)
        settle(root, 20, lambda: view.days.get(("bo3", LATE_DAY)) is not None
               and view.days[("bo3", LATE_DAY)].state is DayState.IN_FLIGHT)
        view.choose("bo2", DIFFERENT_DAY)
        settle(root, 10, lambda: "missing here" in view.sales_line.cget("text"))
        settle(root, 1)
        photograph(DOCS / "screenshot-day-close.png")
    window.dispose()
    destroy_root(root)


def branch_picture(offices: Offices) -> None:
    """East Branch after sales were written with capture switched off: its day no longer matches."""
    engine, cfg = offices.engine("bo1"), offices.branch("bo1")
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER sales_capture_insert"))
    add_sale(engine, new_sale(sale_date=LATE_DAY, region=cfg.region, product="Paper", qty=4,
                              cost=PRODUCT_CATALOGUE["Paper"], tax_rate=cfg.tax_rate))
    root, window, relay = open_branch(cfg)
    with running(IntakeConsumer(offices.ho), relay):
        settle(root, 40, lambda: "do not match" in window.days.label.cget("text"))
        settle(root, 1.5)
        photograph(DOCS / "screenshot-branch-day-status.png")
    window.dispose()
    destroy_root(root)


def main() -> int:
    if shutil.which("Xvfb") is None:
        sys.exit("Screenshots need Xvfb; install it with: apt-get install xvfb")
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, Display(visible=False, size=SIZE, color_depth=24):
        offices = Offices(Path(scratch), capture_check_minutes=0.05).init()
        try:
            sample_sales(offices)
            stage(offices)
            head_office_picture(offices)
            branch_picture(offices)
        finally:
            offices.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
