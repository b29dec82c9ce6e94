"""The daily sums the Head Office keeps with its sales (``sales_daily``, ``sync_branches.sales_held``) always
equal GROUP BY over ``sales``: after any traffic the apply takes, in an upgraded database, and in the
subtotals, totals and chart the window reads from them."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from models.daily import fill_daily
from models.head_office_view import SalesFilter, daily_totals, sales_totals
from models.migrations import Role, upgrade
from models.money import compute_line
from models.summaries import Dimension, sales_summary
from sync import events
from sync.intake import IntakeConsumer
from sync.status import branch_progress
from tests.harness import changes_body, dead_letters, publish_raw, running, wait_for

RATE = Decimal("0.07")
DAYS = [dt.date(2021, 4, 28) + dt.timedelta(days=i) for i in range(3)]
REGIONS = ("East", "West")
PRODUCTS = {"Paper": "12.95", "Pens": "2.19", "Toner": "64.50"}
BRANCHES = ("bo1", "bo2")

SUMS_SQL = "SELECT branch, sale_date, region, product, sales, qty, amt, tax, total FROM sales_daily WHERE sales <> 0"
GROUPED_SQL = ("SELECT branch, sale_date, region, product, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) "
               "FROM sales GROUP BY branch, sale_date, region, product")
EMPTIED_SQL = "SELECT COUNT(*) FROM sales_daily WHERE sales = 0 AND (qty <> 0 OR amt <> 0 OR tax <> 0 OR total <> 0)"
BY_BRANCH_SQL = "SELECT branch, sales, qty, amt, tax, total FROM sales_by_branch WHERE sales <> 0"
GROUPED_BY_BRANCH_SQL = "SELECT branch, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales GROUP BY branch"
HELD_SQL = ("SELECT b.code, b.sales_held, (SELECT COUNT(*) FROM sales s WHERE s.branch = b.code) "
            "FROM sync_branches b")


def sums_and_group_by(engine) -> tuple[set, set, int, list]:
    """sales_daily, GROUP BY over sales, emptied groups holding money, and the row counts, in one snapshot
    (one REPEATABLE READ transaction: the sums change in the transactions that change the sales); checks
    sales_by_branch against GROUP BY branch on the way."""
    with engine.begin() as conn:
        sums = {tuple(r) for r in conn.execute(text(SUMS_SQL))}
        grouped = {tuple(r) for r in conn.execute(text(GROUPED_SQL))}
        emptied = conn.execute(text(EMPTIED_SQL)).scalar_one()
        by_branch = {tuple(r) for r in conn.execute(text(BY_BRANCH_SQL))}
        grouped_by_branch = {tuple(r) for r in conn.execute(text(GROUPED_BY_BRANCH_SQL))}
        assert by_branch == grouped_by_branch
        held = [tuple(r) for r in conn.execute(text(HELD_SQL))]
    return sums, grouped, emptied, held


def change(seq: int, sale_id: int, op: tuple) -> list:
    if op[0] == "d":
        return [seq, sale_id, "d"]
    _, day, region, product, qty = op
    line = compute_line(qty, Decimal(PRODUCTS[product]), RATE)
    return [seq, sale_id, "u", DAYS[day].isoformat(), region, product, qty, PRODUCTS[product], str(line.amt),
            str(line.tax), str(line.total)]


OPS = st.one_of(
    st.tuples(st.just("u"), st.integers(0, len(DAYS) - 1), st.sampled_from(REGIONS), st.sampled_from(list(PRODUCTS)),
              st.integers(1, 40)),
    st.tuples(st.just("d")),
)
TRAFFIC = st.lists(st.tuples(st.sampled_from(BRANCHES), st.integers(1, 12), OPS), min_size=1, max_size=40)


def test_the_daily_sums_equal_group_by_over_sales_after_any_traffic_with_two_consumers(offices):
    """Inserts, updates that move a sale between groups, deletes, messages delivered twice and out of order,
    taken by two consumers at once: sales_daily and sales_held equal GROUP BY over sales, exactly."""
    origins = {b: str(uuid.uuid4()) for b in BRANCHES}
    seqs = dict.fromkeys(BRANCHES, 0)
    newest: dict[tuple[str, int], list] = {}   # (branch, sale) -> the newest change sent
    engine = offices.engine("ho")
    applied_by = {0: 0, 1: 0}

    def counter(n):
        def count(event):
            if isinstance(event, events.RowsApplied):
                applied_by[n] += 1
        return count

    ho = dataclasses.replace(offices.ho, prefetch=2)
    consumers = [IntakeConsumer(ho, on_event=counter(n)) for n in (0, 1)]

    @settings(max_examples=20, deadline=None, database=None, suppress_health_check=list(HealthCheck),
              phases=(Phase.explicit, Phase.generate))  # no shrinking: each example costs a round trip
    @given(traffic=TRAFFIC, seed=st.integers(0, 2**32))
    def traffic_leaves_sums_equal_to_group_by(traffic, seed):
        shuffle = random.Random(seed)
        messages = []
        for branch in BRANCHES:
            mine = [(sale_id, op) for b, sale_id, op in traffic if b == branch]
            changes = []
            for sale_id, op in mine:
                seqs[branch] += 1
                changes.append(change(seqs[branch], sale_id, op))
                newest[(branch, sale_id)] = changes[-1]
            while changes:  # messages of 1 to 5 changes; some sent twice
                size = shuffle.randint(1, 5)
                body = changes_body(branch, origins[branch], changes[:size])
                changes = changes[size:]
                messages += [(branch, body)] * shuffle.choice((1, 1, 2))
        shuffle.shuffle(messages)  # older changes of a sale arrive after newer ones: stale, changing nothing
        for branch, body in messages:
            publish_raw(offices, body, branch=branch)
        def all_applied():
            with engine.connect() as conn:
                ledger = conn.execute(text("SELECT COALESCE(SUM(seq), 0) FROM sync_ledger")).scalar_one()
            assert dead_letters(engine) == []
            return ledger == sum(n * (n + 1) // 2 for n in seqs.values())
        wait_for(all_applied, 60, "every change to be applied")
        sums, grouped, emptied, held = sums_and_group_by(engine)
        assert sums == grouped
        assert emptied == 0
        assert all(kept == counted for _code, kept, counted in held)
        expected = {(b, sid) for (b, sid), c in newest.items() if c[2] == "u"}
        with engine.connect() as conn:
            assert {(b, sid) for b, sid in conn.execute(text("SELECT branch, branch_sale_id FROM sales"))} == expected

    with running(*consumers):
        traffic_leaves_sums_equal_to_group_by()
    assert dead_letters(engine) == []
    assert applied_by[0] > 0 and applied_by[1] > 0, "both consumers should have applied changes"


def _sales_straight_to_the_table(engine, count: int) -> None:
    """Rows as an older release's apply left them (no daily sums), spread over branches, days and groups."""
    rows = []
    for i in range(count):
        product = list(PRODUCTS)[i // 3 % 3]
        line = compute_line(1 + i % 7, Decimal(PRODUCTS[product]), RATE)
        rows.append({"b": ("bo1", "bo2", "bo3")[i % 3], "i": i + 1,
                     "d": DAYS[i // 9 % 3] - dt.timedelta(days=40 * (i // 27 % 2)), "r": REGIONS[i // 54 % 2], "p": product,
                     "q": 1 + i % 7, "c": PRODUCTS[product], "a": line.amt,
                     "t": line.tax, "tot": line.total})
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO sales (branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, "
                          "total, version) VALUES (:b, :i, :d, :r, :p, :q, :c, :a, :t, :tot, 1)"), rows)


def test_upgrading_a_head_office_that_holds_sales_fills_the_daily_sums_and_row_counts(offices):
    engine = offices.engine("ho")
    with engine.begin() as conn:   # back to the schema of revision 0004, the one before the daily sums
        conn.execute(text("DROP TABLE sales_daily, sales_by_branch"))
        conn.execute(text("ALTER TABLE sync_branches DROP COLUMN sales_held"))
        conn.execute(text("DROP INDEX sales_branch_date ON sales"))
        conn.execute(text("UPDATE sync_schema_version SET version_num = '0004'"))
    _sales_straight_to_the_table(engine, 500)
    assert upgrade(engine, Role.HEAD_OFFICE, "0005") == ["0005"]
    sums, grouped, emptied, held = sums_and_group_by(engine)
    assert sums == grouped and len(grouped) > 10 and emptied == 0
    assert sorted(held) == [("bo1", 167, 167), ("bo2", 167, 167), ("bo3", 166, 166)]
    assert [(p.code, p.rows_held) for p in branch_progress(engine)] == [("bo1", 167), ("bo2", 167), ("bo3", 166)]


def _sql(engine, sql: str, **params) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql), params)]


def test_subtotals_totals_and_chart_read_from_the_daily_sums_equal_sql_over_sales(offices):
    engine = offices.engine("ho")
    _sales_straight_to_the_table(engine, 300)
    with engine.begin() as conn:   # the sums the apply would have kept, and a group its deletes emptied
        fill_daily(conn)
        conn.execute(text("INSERT INTO sales_daily VALUES ('bo1', '2021-01-01', 'East', 'Paper', 0, 0, 0, 0, 0)"))
        conn.execute(text("INSERT INTO sales_by_branch VALUES ('bo9', 0, 0, 0, 0, 0)"))   # a branch whose sales all went
    filters = [SalesFilter(), SalesFilter(branch="bo2"), SalesFilter(branch="bo9"), SalesFilter(region="West", product="Pens"),
               SalesFilter(branch="bo1", date_from=dt.date(2021, 4, 29), date_to=dt.date(2021, 4, 30)),
               SalesFilter(date_from=dt.date(2020, 1, 1), date_to=dt.date(2021, 1, 1))]
    for filt in filters:
        where, params = _where(filt)
        count, qty, amt, tax, total = _sql(engine, f"SELECT COUNT(*), COALESCE(SUM(qty), 0), COALESCE(SUM(amt), 0), "
                                                   f"COALESCE(SUM(tax), 0), COALESCE(SUM(total), 0) FROM sales "
                                                   f"WHERE {where}", **params)[0]
        totals = sales_totals(engine, filt)
        assert (totals.rows, totals.qty, totals.amt, totals.tax, totals.total) == (count, qty, amt, tax, total)

        pivot = sales_summary(engine, filt, (Dimension.BRANCH, Dimension.PRODUCT))
        by_pair = _sql(engine, f"SELECT branch, product, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales "
                               f"WHERE {where} GROUP BY branch, product ORDER BY branch, product", **params)
        assert [(*line.key, line.sales, line.qty, line.amt, line.tax, line.total) for line in pivot.lines] == by_pair
        by_branch = _sql(engine, f"SELECT branch, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales "
                                 f"WHERE {where} GROUP BY branch ORDER BY branch", **params)
        assert [(*line.key, line.sales, line.qty, line.amt, line.tax, line.total) for line in pivot.subtotals] == by_branch
        assert (pivot.total.sales, pivot.total.total) == (count, total)
        by_branch_alone = sales_summary(engine, filt, (Dimension.BRANCH,))
        assert [(*line.key, line.sales, line.qty, line.amt, line.tax, line.total) for line in by_branch_alone.lines] \
            == by_branch
        by_month = sales_summary(engine, filt, (Dimension.MONTH,))
        assert [(line.key[0], line.sales, line.total) for line in by_month.lines] == _sql(
            engine, f"SELECT DATE_FORMAT(sale_date, '%Y-%m') m, COUNT(*), SUM(total) FROM sales WHERE {where} "
                    "GROUP BY m ORDER BY m", **params)

        chart = daily_totals(engine, filt, days=30)
        if chart.last is None:
            assert count == 0
            continue
        assert chart.last == _sql(engine, f"SELECT MAX(sale_date) FROM sales WHERE {where}", **params)[0][0]
        assert [(t.branch, t.day, t.total) for t in chart.totals] == _sql(
            engine, f"SELECT branch, sale_date, SUM(total) FROM sales WHERE {where} AND sale_date >= :first "
                    "GROUP BY branch, sale_date ORDER BY sale_date, branch", first=chart.first, **params)


def _where(filt: SalesFilter) -> tuple[str, dict]:
    clauses, params = ["TRUE"], {}
    for name in ("branch", "region", "product"):
        if getattr(filt, name) is not None:
            clauses.append(f"{name} = :{name}")
            params[name] = getattr(filt, name)
    if filt.date_from is not None:
        clauses.append("sale_date >= :date_from")
        params["date_from"] = filt.date_from
    if filt.date_to is not None:
        clauses.append("sale_date <= :date_to")
        params["date_to"] = filt.date_to
    return " AND ".join(clauses), params
