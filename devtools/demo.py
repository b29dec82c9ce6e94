"""The demo: the Head Office window and the three branch windows on the local services.

    python -m devtools.demo

Uses config/ho.toml and config/bo1.toml .. bo3.toml (SYNC_* environment variables
override them as usual), creates the databases if needed, enters the seed's six
sample sales at their branches when a branch has no sales yet, then opens each
window as its own process, exactly as an office would run it.  Type a sale in a
branch window and watch it reach the Head Office.  Ctrl-C closes them all.
"""
from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError

from config import OfficeConfig
from gui.app import GEOMETRY_ENV
from models.branch_sales import add_sale
from models.sale import new_sale
from models.schema import bo_sales, make_engine
from models.setup import SchemaMismatch
from sync.failures import db_words
from sync.office import init_database, load_or_exit, setup_logging

ROOT = Path(__file__).resolve().parent.parent
HEAD_OFFICE = "config/ho.toml"
BRANCHES = {"bo1": "config/bo1.toml", "bo2": "config/bo2.toml", "bo3": "config/bo3.toml"}
# The seed's sample sales and the branch each was made at (East at bo1, West at bo2; North starts empty).
SEED = [
    ("bo1", dt.date(2021, 4, 29), "East", "Paper", 73, "12.95"),
    ("bo2", dt.date(2021, 4, 29), "West", "Paper", 33, "12.95"),
    ("bo1", dt.date(2021, 4, 30), "East", "Pens", 14, "2.19"),
    ("bo2", dt.date(2021, 4, 30), "West", "Pens", 40, "2.19"),
    ("bo1", dt.date(2021, 5, 1), "East", "Paper", 21, "12.95"),
    ("bo2", dt.date(2021, 5, 1), "West", "Paper", 10, "12.95"),
]
WINDOW = (1280, 800)


def prepare(cfg: OfficeConfig) -> None:
    """Create the office's database, or exit with a sentence saying why it could not be."""
    try:
        init_database(cfg)
    except SchemaMismatch as exc:
        sys.exit(str(exc))
    except DBAPIError as exc:
        sys.exit(f"Cannot prepare the {cfg.name} database: {db_words(exc)}. Is MySQL/MariaDB running at the db_url "
                 f"in {cfg.source}?")


def enter_seed(branch: OfficeConfig) -> int:
    """Enter the seed's sales for this branch if it has none yet; returns how many were entered."""
    engine = make_engine(branch.db_url)
    try:
        with engine.connect() as conn:
            if conn.execute(select(func.count()).select_from(bo_sales)).scalar_one():
                return 0
        rows = [row for row in SEED if row[0] == branch.code]
        for _code, day, region, product, qty, cost in rows:
            add_sale(engine, new_sale(sale_date=day, region=region, product=product, qty=qty, cost=Decimal(cost),
                                      tax_rate=branch.tax_rate))
        return len(rows)
    finally:
        engine.dispose()


def screen_size() -> tuple[int, int]:
    """The screen's size in pixels, or a common laptop size when it cannot be asked."""
    try:
        import tkinter

        probe = tkinter.Tk()
        probe.withdraw()
        size = probe.winfo_screenwidth(), probe.winfo_screenheight()
        probe.destroy()
        return size
    except Exception:  # noqa: BLE001 - no display yet; the windows will say so themselves
        return 1920, 1080


def placements(count: int) -> list[str]:
    """Where each window goes: a 2x2 grid when the screen holds it, otherwise a cascade that keeps each title visible."""
    width, height = screen_size()
    w, h = WINDOW
    if width >= 2 * w and height >= 2 * h:
        return [f"{w}x{h}+{(i % 2) * w}+{(i // 2) * h}" for i in range(count)]
    return [f"{w}x{h}+{48 * i}+{48 * i}" for i in range(count)]


def launch(program: str, config: str, geometry: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(ROOT / program), "--config", config], cwd=ROOT,
                            env={**os.environ, GEOMETRY_ENV: geometry})


def close_all(processes: list[subprocess.Popen]) -> None:
    """Ask every window still open to close, then make sure it did."""
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    for process in processes:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> int:
    setup_logging()
    head_office = load_or_exit(str(ROOT / HEAD_OFFICE), role="head_office")
    branches = [load_or_exit(str(ROOT / path), role="branch") for path in BRANCHES.values()]
    for cfg in [head_office, *branches]:
        prepare(cfg)
    for branch in branches:
        entered = enter_seed(branch)
        if entered:
            print(f"{branch.name}: entered {entered} sample sale(s).")
    spots = placements(1 + len(branches))
    # The Head Office goes last so that it opens on top.
    processes = [launch("bo_app.py", path, spot) for path, spot in zip(BRANCHES.values(), spots[1:], strict=True)]
    processes.append(launch("ho_app.py", HEAD_OFFICE, spots[0]))
    print("Four windows are opening. Type a sale in a branch window and watch it reach the Head Office; Ctrl-C closes them all.")
    try:
        while any(p.poll() is None for p in processes):
            time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nClosing the windows…")
    finally:
        close_all(processes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
