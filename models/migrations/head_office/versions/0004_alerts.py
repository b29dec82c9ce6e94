"""Alerts and the backlog's pace.

- sync_alerts: every alert the Head Office raised, open while its condition lasts
  (``open_key`` is unique among the open ones), then cleared; its history.
- sync_branches: the pace a branch measured sending (changes per minute) and the
  seconds of its next sync window, from its reports of version 3.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = sa.text("CURRENT_TIMESTAMP(6)")
TS = DATETIME(fsp=6)


def upgrade() -> None:
    op.add_column("sync_branches", sa.Column("drain_per_minute", sa.BigInteger, nullable=True))
    op.add_column("sync_branches", sa.Column("window_seconds", sa.Integer, nullable=True))
    op.create_table(
        "sync_alerts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("branch", sa.String(16), nullable=False, server_default=""),
        sa.Column("sentence", sa.String(1000), nullable=False),
        sa.Column("raised_at", TS, nullable=False, server_default=NOW6),
        sa.Column("cleared_at", TS, nullable=True),
        sa.Column("open_key", sa.String(64), nullable=True),
        sa.Index("sync_alerts_open", "open_key", unique=True),
        sa.Index("sync_alerts_branch", "branch", "id"),
        **OPTS,
    )


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
