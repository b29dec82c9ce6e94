"""Screenshots of the real windows for the README: docs/screenshot-branch.png and docs/screenshot-head-office.png.

    python -m devtools.screenshots

Runs under its own virtual X display (Xvfb, 1280x800), on private databases and
broker names that are dropped afterwards, so it never touches an office's data.
It enters a fortnight of sample sales (the seed's six among them), lets the
relays and the Head Office consumer deliver them, then photographs each window
with ImageMagick's ``import``.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tkinter as tk
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from pyvirtualdisplay import Display

from config import SyncWindow
from devtools.demo import SEED
from gui.app import destroy_root, make_root
from gui.branch_window import BranchWindow
from gui.head_office_window import HeadOfficeWindow
from models.branch_sales import PRODUCT_CATALOGUE, add_sale
from models.sale import new_sale
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import Offices, assert_converged, running, union_of_branches

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SIZE = (1280, 800)
FIRST_DAY, LAST_DAY = dt.date(2021, 4, 19), dt.date(2021, 5, 2)
# How busy each branch is: sales per day at most.
TRADE = {"bo1": 4, "bo2": 3, "bo3": 2}


def sample_sales(offices: Offices) -> None:
    """A fortnight of made-up trade at every branch, with the seed's six sales among it, entered day by day."""
    rng = random.Random(29)  # the same pictures every run
    products = list(PRODUCT_CATALOGUE)[:5]
    for branch in offices.branches:
        lines = [(day, region, product, qty, Decimal(cost)) for code, day, region, product, qty, cost in SEED
                 if code == branch.code]
        day = FIRST_DAY
        while day <= LAST_DAY:
            for _ in range(rng.randint(1, TRADE[branch.code])):
                product = rng.choice(products)
                qty = rng.randint(2, 60) if PRODUCT_CATALOGUE[product] < 10 else rng.randint(1, 25)
                lines.append((day, branch.region, product, qty, PRODUCT_CATALOGUE[product]))
            day += dt.timedelta(days=1)
        engine = offices.engine(branch.code)
        for day, region, product, qty, cost in sorted(lines, key=lambda line: line[0]):
            add_sale(engine, new_sale(sale_date=day, region=region, product=product, qty=qty, cost=cost,
                                      tax_rate=branch.tax_rate))


def settle(root: tk.Tk, seconds: float, until: Callable[[], bool] = lambda: False) -> None:
    """Run the window for ``seconds`` or until ``until()`` holds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        root.update()
        time.sleep(0.02)
    root.update()


def photograph(path: Path) -> None:
    subprocess.run(["import", "-window", "root", str(path)], check=True)
    print(f"saved {path.relative_to(ROOT)}")


def branch_picture(offices: Offices) -> None:
    """East Branch outside its sync window, two new sales waiting, a third being typed."""
    engine = offices.engine("bo1")
    cfg = offices.branch("bo1")
    for product, qty in (("Paper", 12), ("Folders", 6)):
        add_sale(engine, new_sale(sale_date=LAST_DAY, region=cfg.region, product=product, qty=qty,
                                  cost=PRODUCT_CATALOGUE[product], tax_rate=cfg.tax_rate))
    later = (dt.datetime.now() + dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    closed = SyncWindow(later.time(), (later + dt.timedelta(hours=1)).time())
    cfg = dataclasses.replace(cfg, sync_windows=(closed,))
    root = make_root(f"{cfg.name} — Branch Sync")
    root.geometry(f"{SIZE[0]}x{SIZE[1]}+0+0")
    events: queue.Queue = queue.Queue()
    relay = OutboxRelay(cfg, on_event=events.put)
    window = BranchWindow(root, cfg, relay, events)
    window.pack(fill="both", expand=True)
    with running(relay):
        settle(root, 15, lambda: window.status.text("waiting") == "2 changes waiting"
               and window.status.text("link").startswith("● Outside"))
        form = window.form
        form.vars["sale_date"].set(LAST_DAY.isoformat())
        form.vars["product"].set("Pens")
        form.vars["qty"].set("24")
        root.focus_force()
        form.inputs["qty"].focus_set()
        form.inputs["qty"].icursor("end")
        settle(root, 1.5)
        photograph(DOCS / "screenshot-branch.png")
    window.dispose()
    destroy_root(root)


def head_office_picture(offices: Offices) -> None:
    """The Head Office with every branch's fortnight in, and East Branch's two waiting sales arriving live."""
    root = make_root("Head Office — Branch Sync")
    root.geometry(f"{SIZE[0]}x{SIZE[1]}+0+0")
    events: queue.Queue = queue.Queue()
    consumer = IntakeConsumer(offices.ho, on_event=events.put)
    window = HeadOfficeWindow(root, offices.ho, consumer, events)
    window.pack(fill="both", expand=True)
    with running(consumer, OutboxRelay(offices.branch("bo1"))):
        sales, everything = window.sales, len(union_of_branches(offices))
        # Until the two waiting sales are in, and the totals and panel (re-read a few seconds later) count them.
        settle(root, 30, lambda: sales.totals is not None and sales.totals.rows == everything
               and len(sales.table.visible_ids()) == everything and window.chart.drawn_series() == ["bo1", "bo2", "bo3"]
               and sum(p.rows_held for p in window.branch_panel.progress) == everything)
        if window.sales.table.visible_ids():
            window.sales.table.select(window.sales.table.visible_ids()[2])
        window.sales.table.tree.focus_set()
        settle(root, 1.5)
        photograph(DOCS / "screenshot-head-office.png")
    window.dispose()
    destroy_root(root)


def main() -> int:
    if shutil.which("Xvfb") is None or shutil.which("import") is None:
        sys.exit("Screenshots need Xvfb and ImageMagick's import; install them with: apt-get install xvfb imagemagick")
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, Display(visible=False, size=SIZE, color_depth=24):
        offices = Offices(Path(scratch)).init()
        try:
            sample_sales(offices)
            relays = [OutboxRelay(b) for b in offices.branches]
            with running(IntakeConsumer(offices.ho), *relays):
                assert_converged(offices)
            branch_picture(offices)
            head_office_picture(offices)
        finally:
            offices.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
