"""The Head Office window's reads at scale, and what keeping the daily sums costs the apply.

    python -m bench.ho_scale [--rows 5000000] [--branches 50] [--repeat 5] [--apply-changes 20000]

Builds a private Head Office database (``bs_bh<tag>_ho``, dropped at the end) holding
``--rows`` sales of ``--branches`` branches over two years (12 products), written with
INSERT ... SELECT in SQL, not through the apply (the secondary indexes are added
afterwards, as a bulk load would), and fills ``sales_daily`` with the migration's
GROUP BY.  Then it times, with the model calls the window makes (each the median of
``--repeat`` runs, the first run in brackets):

  launch         first page of rows, totals, chart, branches panel, filter lists
  filter change  one branch and one month: rows, totals, chart, subtotals by product; all
                 branches in one month; one region at any time
  before         the same totals and chart read from ``sales`` (the readers' fallback),
                 and the branches panel's old GROUP BY count
  sorts          the first page sorted by each column a manager can choose, unfiltered
                 and for one branch and month (one run each)
  apply          rows/s of apply_changes + commit, batches of 1,000, with the sums kept and
                 not kept (a Target without them: only this benchmark builds one),
                 alternated three times each; new sales of the last days, and the same
                 with one change in four an edit of a sale of the last two years

It prints a table and writes JSON to ``--out`` (default docs/bench/ho_scale.json).
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import json
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import text
from sqlalchemy.engine import Engine

from bench.data import OutboxRow, encode
from bench.offices import DB_ROOT
from models.daily import fill_daily
from models.head_office_view import PagePosition, SalesFilter, SortOrder, daily_totals, filter_choices, sales_page, sales_totals
from models.money import compute_line
from models.schema import create_database, make_engine
from models.setup import init_head_office_database
from models.summaries import Dimension, sales_summary
from sync import protocol
from sync.apply import HEAD_OFFICE, apply_changes
from sync.status import branch_progress

FIRST_DAY = dt.date(2025, 1, 1)
DAYS = 730
PRODUCTS = (("Paper", "12.95"), ("Pens", "2.19"), ("Binder", "4.99"), ("Stapler", "9.49"), ("Ink", "23.50"),
            ("Toner", "64.50"), ("Folders", "3.25"), ("Labels", "7.80"), ("Tape", "1.99"), ("Envelopes", "5.40"),
            ("Markers", "6.15"), ("Notebooks", "3.99"))
REGIONS = ("East", "West", "North", "South", "Central")
SECONDARY = {"sales_date": "sale_date", "sales_branch_date": "branch, sale_date", "sales_region": "region",
             "sales_product": "product"}
OUT = Path(__file__).resolve().parent.parent / "docs" / "bench" / "ho_scale.json"


def code(i: int) -> str:
    return f"b{i + 1:02d}"


def _elt(values: list[str]) -> str:
    return ", ".join(values)


def load(engine, rows: int, branches: int) -> float:
    """``rows`` sales of ``branches`` branches, sale numbers in date order; returns the seconds it took."""
    started = time.perf_counter()
    per_branch = rows // branches
    products = _elt([f"'{p}'" for p, _ in PRODUCTS])
    costs = _elt([f"'{c}'" for _, c in PRODUCTS])
    with engine.begin() as conn:
        for name in SECONDARY:
            conn.execute(text(f"DROP INDEX {name} ON sales"))
        conn.execute(text("CREATE TABLE bench_n (i INT PRIMARY KEY)"))
        conn.execute(text("INSERT INTO bench_n SELECT a.d * 1000 + b.d * 100 + c.d * 10 + e.d FROM "
                          + " CROSS JOIN ".join(f"(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 "
                                                f"UNION ALL SELECT 4 UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL "
                                                f"SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9) {x}" for x in "abce")))
    # One INSERT ... SELECT per branch: the sale's number decides its day, product and quantity.
    for b in range(branches):
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total, version) "
                "SELECT :branch, n, DATE_ADD(:first, INTERVAL (n - 1) * :days DIV :per DAY), :region, "
                f"ELT(1 + n * 7 % {len(PRODUCTS)}, {products}), q, c, q * c, ROUND(q * c * 0.07, 2), "
                "q * c + ROUND(q * c * 0.07, 2), n FROM ("
                f"SELECT y.i * 10000 + x.i + 1 n, 1 + (y.i * 10000 + x.i) * 13 % 40 q, "
                f"CAST(ELT(1 + (y.i * 10000 + x.i + 1) * 7 % {len(PRODUCTS)}, {costs}) AS DECIMAL(10, 2)) c "
                "FROM bench_n x JOIN bench_n y ON y.i * 10000 < :per WHERE y.i * 10000 + x.i < :per) s"),
                {"branch": code(b), "first": FIRST_DAY, "days": DAYS, "per": per_branch, "region": REGIONS[b % len(REGIONS)]})
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE bench_n"))
        conn.execute(text("ALTER TABLE sales " + ", ".join(f"ADD INDEX {n} ({cols})" for n, cols in SECONDARY.items())))
    filling = time.perf_counter()
    with engine.begin() as conn:
        fill_daily(conn)  # what the migration does
        conn.execute(text("UPDATE sync_branches SET last_seq = :per"), {"per": per_branch})
    print(f"sales_daily filled from sales in {time.perf_counter() - filling:.0f} s", flush=True)
    return time.perf_counter() - started


@contextlib.contextmanager
def scratch_head_office(tag: str, branches: dict[str, str]) -> Iterator[Engine]:
    """A private Head Office database ``bs_<tag><random>_ho`` at the newest schema, dropped at the end."""
    name = f"bs_{tag}{uuid.uuid4().hex[:8]}_ho"
    url = f"{DB_ROOT}/{name}"
    create_database(url)
    engine = make_engine(url, connect_args={"read_timeout": 3600, "write_timeout": 3600})  # the load takes minutes
    try:
        init_head_office_database(engine, branches)
        yield engine
    finally:
        engine.dispose()
        with make_engine(DB_ROOT + "/").begin() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))


def timed(work: Callable[[], Any], repeat: int) -> dict[str, Any]:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        runs.append(time.perf_counter() - started)
    return {"median_s": statistics.median(runs), "first_s": runs[0], "runs_s": runs}


def reads(engine, repeat: int, branches: int) -> dict[str, dict[str, Any]]:
    everything, newest = SalesFilter(), SortOrder()
    month = SalesFilter(branch=code(branches // 2), date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 10, 31))
    all_month = SalesFilter(date_from=dt.date(2026, 10, 1), date_to=dt.date(2026, 10, 31))
    region = SalesFilter(region="North")
    first = PagePosition()
    out = {
        "launch: first rows": timed(lambda: sales_page(engine, everything, newest, first), repeat),
        "launch: totals": timed(lambda: sales_totals(engine, everything), repeat),
        "launch: chart": timed(lambda: daily_totals(engine, everything), repeat),
        "launch: branches panel": timed(lambda: branch_progress(engine), repeat),
        "launch: filter lists": timed(lambda: filter_choices(engine), repeat),
        "launch: subtotals by branch": timed(lambda: sales_summary(engine, everything, (Dimension.BRANCH,)), repeat),
        "branch + month: rows": timed(lambda: sales_page(engine, month, newest, first), repeat),
        "branch + month: totals": timed(lambda: sales_totals(engine, month), repeat),
        "branch + month: chart": timed(lambda: daily_totals(engine, month), repeat),
        "branch + month: subtotals by product": timed(lambda: sales_summary(engine, month, (Dimension.PRODUCT,)), repeat),
        "all branches, one month: totals": timed(lambda: sales_totals(engine, all_month), repeat),
        "all branches, one month: chart": timed(lambda: daily_totals(engine, all_month), repeat),
        "all branches, one month: subtotals by branch": timed(
            lambda: sales_summary(engine, all_month, (Dimension.BRANCH,)), repeat),
        "region, any time: rows": timed(lambda: sales_page(engine, region, newest, first), repeat),
        "region, any time: totals": timed(lambda: sales_totals(engine, region), repeat),
        "region, any time: chart": timed(lambda: daily_totals(engine, region), repeat),
        "region, any time: subtotals by product": timed(
            lambda: sales_summary(engine, region, (Dimension.PRODUCT,)), repeat),
    }
    slow = max(1, repeat // 2)
    with mock.patch.object(SalesFilter, "by_day", lambda self: False), \
            mock.patch.object(SalesFilter, "whole_branches", lambda self: False):  # the readers' fallback: sales
        out["before: totals"] = timed(lambda: sales_totals(engine, everything), slow)
        out["before: chart"] = timed(lambda: daily_totals(engine, everything), slow)
        out["before: branch + month totals"] = timed(lambda: sales_totals(engine, month), slow)
        out["before: branch + month chart"] = timed(lambda: daily_totals(engine, month), slow)
    with engine.connect() as conn:
        out["before: branches panel (GROUP BY branch)"] = timed(
            lambda: conn.execute(text("SELECT branch, COUNT(*) FROM sales GROUP BY branch")).all(), slow)
    for column in ("total", "amt", "qty", "cost", "tax", "branch", "branch_sale_id", "region", "product", "sale_date"):
        order = SortOrder(column)
        out[f"sort by {column}"] = timed(lambda o=order: sales_page(engine, everything, o, first), 1)
        out[f"sort by {column}, branch + month"] = timed(lambda o=order: sales_page(engine, month, o, first), 1)
    return out


def _batches(branch: str, origin: str, first_seq: int, first_new: int, count: int, edit_below: int,
             edits: bool) -> list:
    """``count`` changes of ``branch``, 1,000 a message: new sales of the last three days, or, with ``edits``,
    one in four an edit of an older sale (taking it out of its group and into today's)."""
    rows = []
    for k in range(count):
        seq = first_seq + k
        sale_id = 1 + (seq * 7919) % edit_below if edits and k % 4 == 0 else first_new + k
        product, price = PRODUCTS[(seq * 5) % len(PRODUCTS)]
        qty = 1 + seq % 40
        line = compute_line(qty, Decimal(price), Decimal("0.07"))
        day = FIRST_DAY + dt.timedelta(days=DAYS - 1 - seq % 3)
        rows.append(OutboxRow(seq, sale_id, "u", day, "East", product, qty, Decimal(price), line.amt, line.tax, line.total))
    return [protocol.decode_changes(encode(branch, origin, rows[i:i + 1000]), protocol.CONTENT_ENCODING, [branch])
            for i in range(0, len(rows), 1000)]


def apply_rates(engine, changes: int, branches: int, per_branch: int) -> dict[str, dict[str, Any]]:
    """Rows/s of the apply with the sums kept and not, alternated; for new sales, and with edits of older ones."""
    without = dataclasses.replace(HEAD_OFFICE, daily=None, by_branch=None)
    origins: dict[str, str] = {}
    seq = 10 * per_branch
    out: dict[str, dict[str, Any]] = {}
    for workload, edits in (("new sales", False), ("1 in 4 an edit of an older sale", True)):
        rates: dict[str, list[float]] = {"kept": [], "not kept": []}
        for round_ in range(7):  # the first warms the caches and is not counted
            kept = round_ % 2 == 1
            branch = code((round_ + 7 * edits) % branches)
            batches = _batches(branch, origins.setdefault(branch, str(uuid.uuid4())), seq, per_branch + seq, changes,
                               per_branch, edits)
            seq += changes
            started = time.perf_counter()
            for batch in batches:
                with engine.begin() as conn:
                    outcome = apply_changes(conn, [batch], HEAD_OFFICE if kept else without)
                if outcome.refused:
                    raise RuntimeError(f"the apply refused a batch: {outcome.refused}")
            if round_:
                rates["kept" if kept else "not kept"].append(changes / (time.perf_counter() - started))
        for name, r in rates.items():
            out[f"apply rows/s, {workload}, sums {name}"] = {"median": statistics.median(r), "runs": r}
        out[f"apply, {workload}: sums kept / not kept"] = {
            "median": statistics.median(rates["kept"]) / statistics.median(rates["not kept"]),
            "runs": [k / n for k, n in zip(rates["kept"], rates["not kept"], strict=True)]}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ho_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--apply-changes", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    with scratch_head_office("bh", {code(i): f"Branch {code(i)}" for i in range(args.branches)}) as engine:
        loaded = load(engine, args.rows, args.branches)
        with engine.connect() as conn:
            groups = conn.execute(text("SELECT COUNT(*) FROM sales_daily")).scalar_one()
            held = conn.execute(text("SELECT COUNT(*) FROM sales")).scalar_one()
        print(f"{held:,} sales loaded in {loaded:.0f} s; sales_daily holds {groups:,} groups", flush=True)
        results: dict[str, Any] = {"rows": held, "branches": args.branches, "daily_groups": groups, "load_s": loaded,
                                   "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        results["reads"] = reads(engine, args.repeat, args.branches)
        for what, r in results["reads"].items():
            print(f"{what:<45} {r['median_s'] * 1000:>10.1f} ms  (first {r['first_s'] * 1000:.1f})", flush=True)
        results["apply"] = apply_rates(engine, args.apply_changes, args.branches, args.rows // args.branches)
        for what, r in results["apply"].items():
            print(f"{what:<60} {r['median']:>10.2f}  {[round(x, 2) for x in r['runs']]}", flush=True)
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
