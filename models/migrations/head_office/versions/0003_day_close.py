"""Day close: each branch-day's reported totals, per-sale hashes, and requests to branches.

- sync_day_totals: the control totals each branch last reported for each day, and
  whether it still had changes of that day on their way.
- sync_day_sales: a branch's per-sale hashes of a day, when the Head Office asked.
- sync_day_requests: what the Head Office asks a branch about a day (resend, sales).
- sync_branches.totals_through: the branch has reported every day its changes up to
  this seq touched.

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = sa.text("CURRENT_TIMESTAMP(6)")
TS = DATETIME(fsp=6)


def totals_columns() -> list[sa.Column]:
    return [sa.Column("sale_count", sa.BigInteger, nullable=False), sa.Column("qty", sa.BigInteger, nullable=False),
            sa.Column("amt", sa.Numeric(20, 2), nullable=False), sa.Column("tax", sa.Numeric(20, 2), nullable=False),
            sa.Column("total", sa.Numeric(20, 2), nullable=False), sa.Column("digest", sa.Numeric(20, 0), nullable=False)]


def upgrade() -> None:
    op.add_column("sync_branches", sa.Column("totals_through", sa.BigInteger, nullable=False,
                                             server_default=sa.text("0")))
    op.create_table(
        "sync_day_totals",
        sa.Column("branch", sa.String(16), primary_key=True),
        sa.Column("sale_date", sa.Date, primary_key=True),
        *totals_columns(),
        sa.Column("in_flight", sa.Boolean, nullable=False),
        sa.Column("branch_at_ms", sa.BigInteger, nullable=False),
        sa.Column("reported_at", TS, nullable=False),
        sa.Column("sales_at", TS, nullable=True),
        **OPTS,
    )
    op.create_table(
        "sync_day_sales",
        sa.Column("branch", sa.String(16), primary_key=True),
        sa.Column("sale_date", sa.Date, primary_key=True),
        sa.Column("sale_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("digest", sa.Numeric(20, 0), nullable=False),
        **OPTS,
    )
    op.create_table(
        "sync_day_requests",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("branch", sa.String(16), nullable=False),
        sa.Column("sale_date", sa.Date, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("requested_at", TS, nullable=False, server_default=NOW6),
        sa.Column("sent_at", TS, nullable=True),
        sa.Index("sync_day_requests_sent", "sent_at", "id"),
        **OPTS,
    )


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
