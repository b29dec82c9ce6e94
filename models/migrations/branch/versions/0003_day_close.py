"""Day close: the control totals of each day as the branch last sent them.

- sync_day_totals: per sale date, the totals last sent to the Head Office, whether
  changes of the day were still on their way then, and the Head Office's answer.

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
TS = DATETIME(fsp=6)


def totals_columns() -> list[sa.Column]:
    return [sa.Column("sale_count", sa.BigInteger, nullable=False), sa.Column("qty", sa.BigInteger, nullable=False),
            sa.Column("amt", sa.Numeric(20, 2), nullable=False), sa.Column("tax", sa.Numeric(20, 2), nullable=False),
            sa.Column("total", sa.Numeric(20, 2), nullable=False), sa.Column("digest", sa.Numeric(20, 0), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "sync_day_totals",
        sa.Column("sale_date", sa.Date, primary_key=True),
        *totals_columns(),
        sa.Column("in_flight", sa.Boolean, nullable=False),
        sa.Column("sent_at", TS, nullable=False),
        sa.Column("ho_state", sa.String(16), nullable=True),
        sa.Column("ho_state_at", TS, nullable=True),
        **OPTS,
    )


def downgrade() -> None:
    op.drop_table("sync_day_totals")
