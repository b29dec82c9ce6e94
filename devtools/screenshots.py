"""Screenshots of the real windows for the README, in docs/:

    screenshot-branch.png                   East Branch entering a sale, two sales waiting for the sync window
    screenshot-branch-offline.png           a branch that cannot reach the Head Office, the cause shown
    screenshot-head-office.png              the consolidated sales filling in live
    screenshot-head-office-subtotals.png    subtotals by branch and product
    screenshot-head-office-500-branches.png 500 branches at the window's minimum size, 1024x640
    screenshot-head-office-updating.png     a new filter being read: the old figures greyed, "Updating…"
    screenshot-dead-letters.png             parked messages: what each held and what to do
    screenshot-alerts.png                   the Alerts tab: two alerts active, one already cleared
    screenshot-catalogue.png                the Head Office's Catalogue tab, a price set for next week
    screenshot-sale-form-catalogue.png      the branch form typing ahead from the received catalogue
    screenshot-refusal.png                  a branch program started on a database older than itself: why it stops

    python -m devtools.screenshots            every picture
    python -m devtools.screenshots alerts     only those named (see PICTURES below)

Runs under its own virtual X display (Xvfb, 1280x800), on private databases and
broker names that are dropped afterwards, so it never touches an office's data.
It enters a fortnight of sample sales (the seed's six among them), lets the
relays and the Head Office consumer deliver them, then photographs each window
with ImageMagick's ``import`` (or Pillow's ``ImageGrab`` where ImageMagick is not installed).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import os
import queue
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import tkinter as tk
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from pyvirtualdisplay import Display
from sqlalchemy import text

from config import SyncWindow
from devtools.demo import SEED
from gui.app import destroy_root, make_root
from gui.branch_window import BranchWindow
from gui.head_office_window import HeadOfficeWindow
from models.branch_sales import PRODUCT_CATALOGUE, add_sale
from models.catalogue import add_product, find_product, load_catalogue, set_active, set_price
from models.sale import new_sale
from sync.alerts import AlertMonitor
from sync.events import ConsumerStatus
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from sync.states import ConsumerState
from tests.gui.head_office_data import put_many_branches
from tests.harness import Offices, assert_converged, changes_body, publish_raw, running, union_of_branches, upsert, wait_for

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SIZE = (1280, 800)
FIRST_DAY, LAST_DAY = dt.date(2021, 4, 19), dt.date(2021, 5, 2)
NEXT_WEEK = dt.date.today() + dt.timedelta(days=7)
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


def photograph(path: Path, size: tuple[int, int] = SIZE) -> None:
    """Save the top left ``size`` of the screen, where the window is (ImageMagick's import, else Pillow's grab)."""
    if shutil.which("import"):
        subprocess.run(["import", "-window", "root", "-crop", f"{size[0]}x{size[1]}+0+0", "+repage", str(path)],
                       check=True)
    else:
        from PIL import ImageGrab  # Pillow comes with matplotlib (requirements-dev.txt)

        ImageGrab.grab(bbox=(0, 0, *size), xdisplay=os.environ["DISPLAY"]).save(path)
    print(f"saved {path.relative_to(ROOT)}")


def open_branch(cfg) -> tuple[tk.Tk, BranchWindow, OutboxRelay]:
    """A branch window for ``cfg`` on the whole screen, with its relay (not started)."""
    root = make_root(f"{cfg.name} — Branch Sync")
    root.geometry(f"{SIZE[0]}x{SIZE[1]}+0+0")
    events: queue.Queue = queue.Queue()
    relay = OutboxRelay(cfg, on_event=events.put)
    window = BranchWindow(root, cfg, relay, events)
    window.pack(fill="both", expand=True)
    return root, window, relay


def branch_picture(offices: Offices) -> None:
    """East Branch outside its sync window, two new sales waiting, a third being typed."""
    engine = offices.engine("bo1")
    cfg = offices.branch("bo1")
    for product, qty in (("Paper", 12), ("Folders", 6)):
        add_sale(engine, new_sale(sale_date=LAST_DAY, region=cfg.region, product=product, qty=qty,
                                  cost=PRODUCT_CATALOGUE[product], tax_rate=cfg.tax_rate))
    later = (dt.datetime.now() + dt.timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    closed = SyncWindow(later.time(), (later + dt.timedelta(hours=1)).time())
    root, window, relay = open_branch(dataclasses.replace(cfg, sync_windows=(closed,)))
    with running(relay):
        settle(root, 15, lambda: window.status.text("waiting") == "2 sales waiting to go"
               and window.status.text("link").startswith("● Outside"))
        form = window.form
        form.vars["sale_date"].set(LAST_DAY.isoformat())
        form.vars["product"].set("Pens")
        form.vars["qty"].set("24")
        root.focus_force()
        form.inputs["sale_date"].selection_clear()
        form.inputs["qty"].focus_set()
        form.inputs["qty"].icursor("end")
        settle(root, 1.5)
        photograph(DOCS / "screenshot-branch.png")
    window.dispose()
    destroy_root(root)


def branch_offline_picture(offices: Offices) -> None:
    """North Branch with no way to the Head Office: Sync now answers with what is kept, the cause unfolded."""
    cfg = dataclasses.replace(offices.branch("bo3"), amqp_urls=("amqp://guest:guest@127.0.0.1:1/%2F",))
    for product, qty in (("Toner", 2), ("Paper", 5), ("Pens", 30)):
        add_sale(offices.engine("bo3"), new_sale(sale_date=dt.date.today(), region=cfg.region, product=product, qty=qty,
                                                 cost=PRODUCT_CATALOGUE[product], tax_rate=cfg.tax_rate))
    root, window, relay = open_branch(cfg)
    with running(relay):
        settle(root, 15, lambda: window.status.text("waiting").startswith("3 sales"))
        window.sync_now()
        settle(root, 15, lambda: window.notice.details and str(window.sync_button.cget("state")) == "normal")
        window.notice.toggle_details()
        window.sales.waiting_only.set(True)
        window.refresh()
        settle(root, 2)
        photograph(DOCS / "screenshot-branch-offline.png")
    window.dispose()
    destroy_root(root)


def open_head_office(offices: Offices, cfg, size: tuple[int, int]) -> tuple[tk.Tk, HeadOfficeWindow, IntakeConsumer]:
    """A Head Office window for ``cfg`` with the test offices' consumer beside it."""
    root = make_root("Head Office — Branch Sync")
    root.geometry(f"{size[0]}x{size[1]}+0+0")
    events: queue.Queue = queue.Queue()
    consumer = IntakeConsumer(offices.ho, on_event=events.put)
    window = HeadOfficeWindow(root, cfg, consumer, events)
    window.pack(fill="both", expand=True)
    return root, window, consumer


def head_office_subtotals_picture(offices: Offices) -> None:
    """The Subtotals tab: each branch and each product within it, for the fortnight."""
    root, window, consumer = open_head_office(offices, offices.ho, SIZE)
    with running(consumer):
        window.notebook.select(window.summary)
        settle(root, 20, lambda: window.summary.summary is not None and not window.summary.updating
               and window.chart.totals and window.branch_panel.progress)
        window.summary.table.select(window.summary.table.visible_ids()[0])
        settle(root, 1.5)
        photograph(DOCS / "screenshot-head-office-subtotals.png")
    window.dispose()
    destroy_root(root)


def head_office_many_branches_picture(offices: Offices) -> None:
    """500 branches at the window's minimum size: the panel scrolls, the chart keeps its room, nothing is cut."""
    cfg = dataclasses.replace(offices.ho, branches=put_many_branches(offices, 500, days=32))
    size = (1024, 640)
    root, window, consumer = open_head_office(offices, cfg, size)   # the consumer serves the three real branches
    with running(consumer):
        settle(root, 30, lambda: window.sales.totals is not None and window.chart.totals and window.branch_panel.progress
               and not window.sales.updating)
        settle(root, 1.5)
        photograph(DOCS / "screenshot-head-office-500-branches.png", size)
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


class HeldReads:
    """Makes the Head Office window's reads for one branch wait until ``release()`` (to photograph "Updating…")."""

    READS = (("gui.sales_view", "sales_page"), ("gui.sales_view", "sales_totals"),
             ("gui.head_office_window", "daily_totals"), ("gui.summary_view", "sales_summary"))

    def __init__(self, branch: str):
        import importlib

        self.branch, self.gate = branch, threading.Event()
        self.saved = [(importlib.import_module(m), name) for m, name in self.READS]
        self.real = [getattr(module, name) for module, name in self.saved]
        for (module, name), real in zip(self.saved, self.real, strict=True):
            setattr(module, name, self._held(real))

    def _held(self, real):
        def read(engine, filt, *args, **kwargs):
            if filt.branch == self.branch:
                self.gate.wait(60)
            return real(engine, filt, *args, **kwargs)
        return read

    def release(self) -> None:
        self.gate.set()
        for (module, name), real in zip(self.saved, self.real, strict=True):
            setattr(module, name, real)


def head_office_updating_picture(offices: Offices) -> None:
    """A new filter (West Branch) being read: the totals, chart and rows of the old one greyed, marked as updating."""
    root, window, consumer = open_head_office(offices, offices.ho, SIZE)
    with running(consumer):
        settle(root, 20, lambda: window.sales.totals is not None and window.chart.totals and window.branch_panel.progress
               and not window.sales.updating)
        held = HeldReads("bo2")
        try:
            window.filter_bar.choose_branch("bo2")
            settle(root, 1.5)
            photograph(DOCS / "screenshot-head-office-updating.png")
        finally:
            held.release()
        settle(root, 10, lambda: not window.sales.updating)
    window.dispose()
    destroy_root(root)


def dead_letters_picture(offices: Offices) -> None:
    """Three parked messages: West Branch's sales holding impossible values (selected, the reason unfolded), a branch
    the Head Office does not know, and bytes that are no message."""
    root, window, consumer = open_head_office(offices, offices.ho, SIZE)
    with running(consumer):
        settle(root, 20, lambda: window.status.text("consumer") == "● Receiving")
        with offices.engine("ho").connect() as conn:
            origin = conn.exec_driver_sql("SELECT origin FROM sync_branches WHERE code = 'bo2'").scalar_one()
        refused = [upsert(90_000 + i, 9000 + i, qty=q) for i, q in enumerate((3, 12, 7, 40, 2, 5, 9, 1))]
        for change in refused:
            change[6] = 0                                   # a quantity of nothing: no sale may hold it
        publish_raw(offices, changes_body("bo2", origin, refused), branch="bo2")
        publish_raw(offices, changes_body("bo9", "a-new-till", [upsert(s, 500 + s, qty=s) for s in range(1, 4)]))
        publish_raw(offices, b"\x1f\x8b not a message at all")
        view = window.dead_letters
        settle(root, 30, lambda: len(view.letters) == 3 and all(view.table.row_values(i)[3] != "…" for i in view.letters))
        window.notebook.select(view)
        west = next(i for i, letter in view.letters.items() if letter.branch == "bo2")
        view.table.select(west)
        settle(root, 10, lambda: view.details is not None)
        view.todo.toggle_details()
        settle(root, 1.5)
        photograph(DOCS / "screenshot-dead-letters.png")
    window.dispose()
    destroy_root(root)


def catalogue_changes(offices: Offices) -> None:
    """The Head Office sets a price for next week, adds two products and retires one; East Branch hears of it."""
    with offices.engine("ho").begin() as conn:
        set_price(conn, find_product(conn, "Pens").id, Decimal("2.50"), NEXT_WEEK)
        set_price(conn, find_product(conn, "Paper").id, Decimal("13.25"), dt.date.today())
        add_product(conn, "Glue sticks", Decimal("1.20"), dt.date.today())
        add_product(conn, "Markers", Decimal("3.80"), dt.date.today())
        set_active(conn, find_product(conn, "Toner").id, False)


def catalogue_picture(offices: Offices) -> None:
    """The Catalogue tab: Pens selected, its price from next week typed; two branches behind in the panel."""
    root, window, consumer = open_head_office(offices, offices.ho, SIZE)
    with running(consumer, OutboxRelay(offices.branch("bo1"))):
        window.notebook.select(window.catalogue)
        view = window.catalogue
        note = window.branch_panel.catalogue_note
        settle(root, 30, lambda: bool(view.table.visible_ids()) and "West Branch" in note.cget("text")
               and "East Branch" not in note.cget("text"))   # East has heard, the others are behind
        pens = str(load_catalogue(offices.engine("ho"), head_office=True).find("Pens").id)  # type: ignore[union-attr]
        view.table.select(pens)
        settle(root, 0.5)
        view.vars["cost"].set("2.50")
        view.vars["effective_from"].set(NEXT_WEEK.isoformat())
        view.say(f"Pens costs 2.50 from {NEXT_WEEK}; every branch sells at it from that day, link or not.", "good")
        settle(root, 1.5)
        photograph(DOCS / "screenshot-catalogue.png")
    window.dispose()
    destroy_root(root)


def alerts_picture(offices: Offices) -> None:
    """The Alerts tab: bo2's capture broken and a dead letter from bo3 active, bo1's silence raised and cleared."""
    root, window, consumer = open_head_office(offices, offices.ho, SIZE)
    monitor = AlertMonitor(dataclasses.replace(offices.ho, alert_check_seconds=0.2))
    monitor.on_event(ConsumerStatus(offices.ho.code, ConsumerState.ONLINE))
    ho = offices.engine("ho")

    def checked() -> None:
        done = monitor.checks + 2
        settle(root, 10, lambda: monitor.checks >= done)

    with running(consumer, monitor):
        with ho.begin() as conn:
            conn.execute(text("UPDATE sync_branches SET last_applied_at = NOW() - INTERVAL 3 HOUR, reported_at = NULL "
                              "WHERE code = 'bo1'"))
        checked()
        with ho.begin() as conn:
            conn.execute(text("UPDATE sync_branches SET last_applied_at = NOW() WHERE code = 'bo1'"))
            conn.execute(text("UPDATE sync_branches SET capture_ok = 0, capture_problem = 'Change capture is broken: "
                              "trigger sales_capture_insert is not installed. Run `python -m sync init-db` for this "
                              "branch to repair it (see docs/OPERATIONS.md).' WHERE code = 'bo2'"))
        publish_raw(offices, b"not a message", branch="bo3")
        settle(root, 10, lambda: window.dead_letters.letters != {})
        checked()
        window.notebook.select(window.alerts)
        window.refresh_all()
        settle(root, 10, lambda: len(window.alerts.active.visible_ids()) == 2)
        window.alerts.active.select(window.alerts.active.visible_ids()[0])
        settle(root, 1.5)
        photograph(DOCS / "screenshot-alerts.png")
    window.dispose()
    destroy_root(root)


def sale_form_catalogue_picture(offices: Offices) -> None:
    """East Branch, offline, typing "pen" next week: Product completes from the catalogue, the list narrows."""
    cfg = dataclasses.replace(offices.branch("bo1"), amqp_urls=("amqp://guest:guest@127.0.0.1:1/%2F",))
    root, window, relay = open_branch(cfg)
    with running(relay):
        form = window.form
        settle(root, 15, lambda: "Glue sticks" in form.product_box.cget("values"))
        root.focus_force()
        form.vars["sale_date"].set(NEXT_WEEK.isoformat())
        form.vars["qty"].set("")
        form.product_box.focus_set()
        settle(root, 0.3)
        for char in "pen":
            form.product_box.event_generate("<KeyPress>", keysym=char)
        settle(root, 0.3)
        form.product_box.event_generate("<Down>")  # the list, narrowed to what holds "pen"
        settle(root, 1.5)
        photograph(DOCS / "screenshot-sale-form-catalogue.png")
        form.product_box.event_generate("<Escape>")
    window.dispose()
    destroy_root(root)


def refusal_picture(offices: Offices) -> None:
    """bo_app.py itself, started with its window on a database an older release left: the dialog it shows."""
    from models.migrations import VERSION_TABLE, Role, head
    from tests.gui.other_program import applications, ask, press, window_of
    from tests.harness import spawn, stop

    engine = offices.engine("bo1")
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0004'"))
    root = tk.Tk()
    root.withdraw()
    before = applications(root)
    process = spawn("bo_app.py", offices.paths["bo1"])
    try:
        dialog = window_of(root, before, ".refusal.ok")
        time.sleep(1.0)  # drawn
        size = (int(ask(root, dialog, "winfo width .")), int(ask(root, dialog, "winfo height .")))
        photograph(DOCS / "screenshot-refusal.png", size)
        press(root, dialog, ".refusal.ok")
        process.wait(30)
    finally:
        if process.poll() is None:
            stop(process)
        root.destroy()
        with engine.begin() as conn:
            conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = :head"), {"head": head(Role.BRANCH)})


def _pillow_grabs() -> bool:
    try:
        from PIL import features
    except ImportError:
        return False
    return bool(features.check("xcb"))


PICTURES: dict[str, Callable[[Offices], None]] = {
    "branch": branch_picture, "branch-offline": branch_offline_picture, "head-office": head_office_picture,
    "subtotals": head_office_subtotals_picture, "500-branches": head_office_many_branches_picture,
    "alerts": alerts_picture, "head-office-updating": head_office_updating_picture,
    "dead-letters": dead_letters_picture, "catalogue": catalogue_picture,
    "sale-form-catalogue": sale_form_catalogue_picture, "refusal": refusal_picture,
}


def main(argv: list[str] | None = None) -> int:
    names = (sys.argv[1:] if argv is None else argv) or list(PICTURES)
    unknown = [n for n in names if n not in PICTURES]
    if unknown:
        sys.exit(f"No picture named {', '.join(unknown)}; the pictures are {', '.join(PICTURES)}.")
    if shutil.which("Xvfb") is None or (shutil.which("import") is None and not _pillow_grabs()):
        sys.exit("Screenshots need Xvfb and ImageMagick's import; install them with: apt-get install xvfb imagemagick")
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch, Display(visible=False, size=SIZE, color_depth=24):
        offices = Offices(Path(scratch)).init()
        try:
            sample_sales(offices)
            relays = [OutboxRelay(b) for b in offices.branches]
            with running(IntakeConsumer(offices.ho), *relays):
                assert_converged(offices)
                for branch in offices.branches:  # every branch holds the first catalogue
                    wait_for(lambda b=branch.code: load_catalogue(offices.engine(b), head_office=False).version > 0, 30,
                             f"{branch.code} to hold the catalogue")
            for name in names:
                if name in ("catalogue", "sale-form-catalogue") and not catalogue_changed(offices):
                    catalogue_changes(offices)
                PICTURES[name](offices)
        finally:
            offices.cleanup()
    return 0


def catalogue_changed(offices: Offices) -> bool:
    return load_catalogue(offices.engine("ho"), head_office=True).find("Markers") is not None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
