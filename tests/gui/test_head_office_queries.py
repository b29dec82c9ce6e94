"""The queries under the Head Office window (no Tk here): seek paging, totals, daily sums and subtotals against plain SQL."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import text

from models.head_office_view import (
    SORT_COLUMNS,
    PagePosition,
    SalesFilter,
    SortOrder,
    daily_totals,
    filter_choices,
    sales_page,
    sales_totals,
)
from models.summaries import Dimension, sales_summary
from tests.gui.head_office_data import put_head_office_rows, query

COLUMN_INDEX = {name: i + 1 for i, name in enumerate(SORT_COLUMNS)}  # query() rows start with the id


@pytest.fixture
def held(offices):
    """137 rows with many ties in every column, so pages must break ties by id to be exact."""
    put_head_office_rows(offices, 137)
    return query(offices, "SELECT id, branch, branch_sale_id, sale_date, region, product, qty, cost, amt, tax, total FROM sales")


def test_walking_pages_forward_and_back_visits_every_row_in_order_for_every_sort(offices, held):
    for column in SORT_COLUMNS:
        for descending in (True, False):
            check_walks(offices.engine("ho"), held, SortOrder(column, descending))


def check_walks(engine, held, order: SortOrder, size: int = 20) -> None:
    index = COLUMN_INDEX[order.column]
    expected = sorted(held, key=lambda r: (r[index], r[0]), reverse=order.descending)
    ids = [r[0] for r in expected]

    forward, page = [], sales_page(engine, SalesFilter(), order, PagePosition(), size)
    assert not page.more_before
    while True:
        forward += [row.id for row in page.rows]
        if not page.more_after:
            break
        page = sales_page(engine, SalesFilter(), order, PagePosition("after", page.rows[-1].key(order)), size)
    assert forward == ids, order

    # Backwards each page is the slice just before the last one shown, except at the start,
    # where a short page is topped up to a full first page.
    end, page = len(ids), sales_page(engine, SalesFilter(), order, PagePosition("last"), size)
    assert not page.more_after
    while True:
        shown = [row.id for row in page.rows]
        if not page.more_before:
            assert shown == ids[:size], order
            break
        assert shown == ids[end - size:end], order
        end -= size
        page = sales_page(engine, SalesFilter(), order, PagePosition("before", page.rows[0].key(order)), size)

    middle = expected[57]
    again = sales_page(engine, SalesFilter(), order, PagePosition("from", (middle[index], middle[0])), size)
    assert [row.id for row in again.rows] == ids[57:77] and again.more_before and again.more_after, order


def test_totals_daily_sums_and_choices_match_plain_sql(offices, held):
    engine = offices.engine("ho")
    filt = SalesFilter(branch="bo1", date_from=dt.date(2021, 4, 10), date_to=dt.date(2021, 4, 30))
    (rows, qty, amt, tax, total), = query(
        offices, "SELECT COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales "
                 "WHERE branch = 'bo1' AND sale_date BETWEEN '2021-04-10' AND '2021-04-30'")
    totals = sales_totals(engine, filt)
    assert (totals.rows, totals.qty, totals.amt, totals.tax, totals.total) == (rows, qty, amt, tax, total)
    assert isinstance(totals.amt, Decimal)

    nothing = sales_totals(engine, SalesFilter(product="Nothing"))
    assert (nothing.rows, nothing.qty, nothing.total) == (0, 0, Decimal("0.00"))

    days = daily_totals(engine, SalesFilter(), days=7)
    with offices.engine("ho").connect() as conn:
        expected = conn.execute(text(
            "SELECT branch, sale_date, SUM(total) FROM sales WHERE sale_date >= "
            "(SELECT MAX(sale_date) FROM sales) - INTERVAL 6 DAY GROUP BY branch, sale_date ORDER BY sale_date, branch")).all()
    assert [(d.branch, d.day, d.total) for d in days.totals] == [tuple(r) for r in expected]
    assert (days.first, days.last) == (expected[0][1], expected[-1][1])
    assert daily_totals(engine, SalesFilter(product="Nothing")).totals == []
    # A From date inside the 30 days starts the chart there.
    since = daily_totals(engine, SalesFilter(date_from=dt.date(2021, 5, 1)))
    assert since.first == dt.date(2021, 5, 1) and min(d.day for d in since.totals) == dt.date(2021, 5, 1)

    choices = filter_choices(engine)
    assert choices.regions == ["East", "North", "West"] and choices.products == ["Paper", "Pens", "Toner"]


@pytest.mark.parametrize("by", [
    (Dimension.BRANCH,), (Dimension.REGION,), (Dimension.PRODUCT,), (Dimension.DAY,), (Dimension.MONTH,),
    (Dimension.BRANCH, Dimension.PRODUCT), (Dimension.MONTH, Dimension.BRANCH), (Dimension.PRODUCT, Dimension.DAY),
])
def test_subtotals_equal_group_by_over_sales_for_every_grouping(offices, held, by):
    engine = offices.engine("ho")
    filt = SalesFilter(date_from=dt.date(2021, 4, 5), date_to=dt.date(2021, 5, 2))
    where = "WHERE sale_date BETWEEN '2021-04-05' AND '2021-05-02'"
    keys = {Dimension.BRANCH: "branch", Dimension.REGION: "region", Dimension.PRODUCT: "product", Dimension.DAY: "sale_date",
            Dimension.MONTH: "DATE_FORMAT(sale_date, '%Y-%m')"}
    sums = "COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total)"

    def grouped(dimensions) -> list[tuple]:
        cols = ", ".join(keys[d] for d in dimensions)
        return query(offices, f"SELECT {cols}, {sums} FROM sales {where} GROUP BY {cols} ORDER BY {cols}")

    summary = sales_summary(engine, filt, by)
    as_tuples = lambda lines: [(*line.key, line.sales, line.qty, line.amt, line.tax, line.total) for line in lines]  # noqa: E731
    assert as_tuples(summary.lines) == grouped(by) and not summary.truncated
    assert as_tuples(summary.subtotals) == (grouped(by[:1]) if len(by) == 2 else [])
    assert as_tuples([summary.total]) == query(offices, f"SELECT {sums} FROM sales {where}")
    assert isinstance(summary.total.amt, Decimal)

    cut = sales_summary(engine, filt, by, limit=1)
    assert as_tuples(cut.lines) == grouped(by)[:1] and cut.truncated and cut.total == summary.total


def test_subtotals_of_a_filter_that_matches_nothing_are_zero(offices, held):
    summary = sales_summary(offices.engine("ho"), SalesFilter(product="Nothing"), (Dimension.BRANCH,))
    assert summary.lines == [] and (summary.total.sales, summary.total.total) == (0, Decimal("0.00"))
