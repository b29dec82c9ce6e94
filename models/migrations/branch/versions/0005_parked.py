"""Messages from the Head Office of a version this branch does not read yet, kept until it does.

- sync_parked: each such message (its version, its type if readable, the sentence
  saying why, its content encoding, headers and body), applied and removed by the
  agent of a release that reads it.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME, LONGBLOB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}


def upgrade() -> None:
    op.create_table(
        "sync_parked",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("received_at", DATETIME(fsp=6), nullable=False, server_default=sa.text("CURRENT_TIMESTAMP(6)")),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(40), nullable=True),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("content_encoding", sa.String(64), nullable=True),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("body", LONGBLOB, nullable=False),
        **OPTS,
    )


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
