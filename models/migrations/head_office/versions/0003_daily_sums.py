"""Daily sums kept with the sales, and the indexes the window's filters need.

- sales_daily: count, qty, amt, tax and total of the sales per (branch, day, region,
  product), filled here from the sales held; from now on the apply keeps it in the
  transaction that changes the sales (models/daily.py).
- sync_branches.sales_held: each branch's rows, filled here, kept by the apply.
- sales(branch, sale_date): one branch's days read as a range, newest first.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
SUM_MONEY = sa.Numeric(20, 2)


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
    op.add_column("sync_branches", sa.Column("sales_held", sa.BigInteger, nullable=False, server_default=sa.text("0")))
    op.create_index("sales_branch_date", "sales", ["branch", "sale_date"])
    conn = op.get_bind()
    # Written out here, not imported: a migration stays what it was when it shipped.
    conn.execute(sa.text(
        "INSERT INTO sales_daily (branch, sale_date, region, product, sales, qty, amt, tax, total) "
        "SELECT branch, sale_date, region, product, COUNT(*), SUM(qty), SUM(amt), SUM(tax), SUM(total) "
        "FROM sales GROUP BY branch, sale_date, region, product"))
    conn.execute(sa.text("UPDATE sync_branches b SET sales_held = (SELECT COUNT(*) FROM sales s WHERE s.branch = b.code)"))


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
