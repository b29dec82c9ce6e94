"""The Head Office schema of the first release (commit a7d5714), which kept no revision.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME, LONGBLOB

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = sa.text("CURRENT_TIMESTAMP(6)")
TS = DATETIME(fsp=6)


def upgrade() -> None:
    op.create_table(
        "sales",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("branch", sa.String(16), nullable=False),
        sa.Column("branch_sale_id", sa.BigInteger, nullable=False),
        sa.Column("sale_date", sa.Date, nullable=False),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("product", sa.String(64), nullable=False),
        sa.Column("qty", sa.Integer, nullable=False),
        sa.Column("cost", sa.Numeric(10, 2), nullable=False),
        sa.Column("amt", sa.Numeric(12, 2), nullable=False),
        sa.Column("tax", sa.Numeric(12, 2), nullable=False),
        sa.Column("total", sa.Numeric(12, 2), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("applied_at", TS, nullable=False, server_default=NOW6),
        sa.Index("sales_branch_row", "branch", "branch_sale_id", unique=True),
        sa.Index("sales_date", "sale_date"),
        sa.Index("sales_region", "region"),
        sa.Index("sales_product", "product"),
        **OPTS,
    )
    op.create_table(
        "sync_tombstones",
        sa.Column("branch", sa.String(16), primary_key=True),
        sa.Column("branch_sale_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("deleted_at", TS, nullable=False, server_default=NOW6),
        **OPTS,
    )
    op.create_table(
        "sync_branches",
        sa.Column("code", sa.String(16), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False, server_default=""),
        sa.Column("origin", sa.String(36), nullable=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("changes_applied", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("last_applied_at", TS, nullable=True),
        sa.Column("high_water", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("high_water_at_ms", sa.BigInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("alert", sa.String(255), nullable=True),
        **OPTS,
    )
    op.create_table(
        "sync_dead_letters",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("received_at", TS, nullable=False, server_default=NOW6),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("branch", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(255), nullable=True),
        sa.Column("properties", sa.Text, nullable=False),
        sa.Column("body", sa.LargeBinary().with_variant(LONGBLOB(), "mysql"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="parked"),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Index("sync_dead_letters_state", "state", "id"),
        sa.Index("sync_dead_letters_fingerprint", "fingerprint", unique=True),
        **OPTS,
    )


def downgrade() -> None:
    raise NotImplementedError("the first release is where the Head Office schema begins")
