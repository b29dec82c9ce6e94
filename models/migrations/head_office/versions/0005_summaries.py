"""Daily sums kept with the sales, and the indexes the window's filters need.

- sales_daily: count, qty, amt, tax and total of the sales per (branch, day, region,
  product), filled here from the sales held; from now on the apply keeps it in the
  transaction that changes the sales (models/daily.py).
- sales_by_branch: the same sums per branch (what the unfiltered window shows), filled and kept alike.
- sync_branches.sales_held: each branch's rows, filled here, kept by the apply.
- sales(branch, sale_date): one branch's days read as a range, newest first.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
SUM_MONEY = sa.Numeric(20, 2)
SLICE = 250_000


def upgrade() -> None:
    op.create_table(
        "sales_daily",
        sa.Column("branch", sa.String(16), primary_key=True),
        sa.Column("sale_date", sa.Date, primary_key=True),
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("product", sa.String(64), primary_key=True),
        sa.Column("sales", sa.BigInteger, nullable=False),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.Column("amt", SUM_MONEY, nullable=False),
        sa.Column("tax", SUM_MONEY, nullable=False),
        sa.Column("total", SUM_MONEY, nullable=False),
        sa.Index("sales_daily_date", "sale_date"),
        **OPTS,
    )
    op.create_table(
        "sales_by_branch",
        sa.Column("branch", sa.String(16), primary_key=True),
        sa.Column("sales", sa.BigInteger, nullable=False),
        sa.Column("qty", sa.BigInteger, nullable=False),
        sa.Column("amt", SUM_MONEY, nullable=False),
        sa.Column("tax", SUM_MONEY, nullable=False),
        sa.Column("total", SUM_MONEY, nullable=False),
        **OPTS,
    )
    op.add_column("sync_branches", sa.Column("sales_held", sa.BigInteger, nullable=False, server_default=sa.text("0")))
    op.create_index("sales_branch_date", "sales", ["branch", "sale_date"])
    conn = op.get_bind()
    # Written out here, not imported: a migration stays what it was when it shipped.  A slice of ids at a
    # time, each slice's sums added to the groups', so no statement runs for minutes on a large Head Office.
    fill = sa.text(
        "INSERT INTO sales_daily (branch, sale_date, region, product, sales, qty, amt, tax, total) "
        "SELECT * FROM (SELECT branch, sale_date, region, product, COUNT(*) n, SUM(qty) q, SUM(amt) a, SUM(tax) t, "
        "SUM(total) s FROM sales WHERE id > :after AND id <= :upto GROUP BY branch, sale_date, region, product) g "
        "ON DUPLICATE KEY UPDATE sales = sales_daily.sales + g.n, qty = sales_daily.qty + g.q, "
        "amt = sales_daily.amt + g.a, tax = sales_daily.tax + g.t, total = sales_daily.total + g.s")
    last = conn.execute(sa.text("SELECT COALESCE(MAX(id), 0) FROM sales")).scalar_one()
    for after in range(0, last, SLICE):
        conn.execute(fill, {"after": after, "upto": after + SLICE})
    conn.execute(sa.text("INSERT INTO sales_by_branch (branch, sales, qty, amt, tax, total) SELECT branch, SUM(sales), "
                         "SUM(qty), SUM(amt), SUM(tax), SUM(total) FROM sales_daily GROUP BY branch"))
    conn.execute(sa.text("UPDATE sync_branches b SET sales_held = "
                         "COALESCE((SELECT SUM(d.sales) FROM sales_daily d WHERE d.branch = b.code), 0)"))


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
