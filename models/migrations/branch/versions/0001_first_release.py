"""The branch schema of the first release (commit a7d5714), which kept no revision.

Revision ID: 0001
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = sa.text("CURRENT_TIMESTAMP(6)")
COLUMNS = "sale_id, op, sale_date, region, product, qty, cost, amt, tax, total"
NEW = "NEW.sale_date, NEW.region, NEW.product, NEW.qty, NEW.cost, NEW.amt, NEW.tax, NEW.total"
NULLS = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"


def _sale_columns(nullable: bool) -> list:
    return [
        sa.Column("sale_date", sa.Date, nullable=nullable),
        sa.Column("region", sa.String(64), nullable=nullable),
        sa.Column("product", sa.String(64), nullable=nullable),
        sa.Column("qty", sa.Integer, nullable=nullable),
        sa.Column("cost", sa.Numeric(10, 2), nullable=nullable),
        sa.Column("amt", sa.Numeric(12, 2), nullable=nullable),
        sa.Column("tax", sa.Numeric(12, 2), nullable=nullable),
        sa.Column("total", sa.Numeric(12, 2), nullable=nullable),
    ]


def upgrade() -> None:
    op.create_table(
        "sales",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        *_sale_columns(False),
        sa.CheckConstraint("qty >= 1", name="sales_qty_positive"),
        sa.CheckConstraint("cost >= 0", name="sales_cost_not_negative"),
        sa.CheckConstraint("amt = qty * cost", name="sales_amt_is_qty_times_cost"),
        sa.CheckConstraint("tax >= 0 AND tax <= amt", name="sales_tax_in_range"),
        sa.CheckConstraint("total = amt + tax", name="sales_total_is_amt_plus_tax"),
        **OPTS,
    )
    op.create_table(
        "sync_outbox",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("sale_id", sa.BigInteger, nullable=False),
        sa.Column("op", sa.String(1), nullable=False),
        *_sale_columns(True),
        sa.Column("state", sa.SmallInteger, nullable=False, server_default=sa.text("0")),
        sa.Column("captured_at", DATETIME(fsp=6), nullable=False, server_default=NOW6),
        sa.Column("sent_at", DATETIME(fsp=6), nullable=True),
        sa.Column("applied_at", DATETIME(fsp=6), nullable=True),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Index("sync_outbox_state_seq", "state", "seq"),
        sa.Index("sync_outbox_sale_seq", "sale_id", "seq"),
        **OPTS,
    )
    op.create_table(
        "sync_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255), nullable=False),
        **OPTS,
    )
    op.execute(f"CREATE TRIGGER sales_capture_insert AFTER INSERT ON sales FOR EACH ROW "
               f"INSERT INTO sync_outbox ({COLUMNS}) VALUES (NEW.id, 'u', {NEW})")
    op.execute(f"CREATE TRIGGER sales_capture_update AFTER UPDATE ON sales FOR EACH ROW BEGIN "
               f"IF NEW.id <> OLD.id THEN INSERT INTO sync_outbox ({COLUMNS}) VALUES (OLD.id, 'd', {NULLS}); END IF; "
               f"INSERT INTO sync_outbox ({COLUMNS}) VALUES (NEW.id, 'u', {NEW}); END")
    op.execute(f"CREATE TRIGGER sales_capture_delete AFTER DELETE ON sales FOR EACH ROW "
               f"INSERT INTO sync_outbox ({COLUMNS}) VALUES (OLD.id, 'd', {NULLS})")
    op.execute("INSERT INTO sync_state (name, value) VALUES ('capture_installed', '1'), ('origin', UUID())")


def downgrade() -> None:
    raise NotImplementedError("the first release is where the branch schema begins")
