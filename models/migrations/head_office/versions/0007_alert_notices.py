"""Alert notices kept until sent.

- sync_alert_notices: each raise and clear owed to a channel (the webhook, e-mail),
  written with the alert in one transaction and marked sent once the receiver took
  it, so a Head Office stopped or killed before sending sends it when it runs again.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
TS = DATETIME(fsp=6)


def upgrade() -> None:
    op.create_table(
        "sync_alert_notices",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("branch", sa.String(16), nullable=False, server_default=""),
        sa.Column("state", sa.String(8), nullable=False),
        sa.Column("sentence", sa.String(1000), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Index("sync_alert_notices_owed", "channel", "sent_at", "id"),
        **OPTS,
    )


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
