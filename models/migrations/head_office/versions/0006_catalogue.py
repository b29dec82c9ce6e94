"""The catalogue the Head Office governs, and what each branch holds of it.

- catalogue_counter: one row, the catalogue's version (every change bumps it).
- catalogue_products, catalogue_prices: products (names unique as a person reads
  them) and their effective-dated costs, each with the version of its last change;
  seeded with the list the previous release had in its code, so nothing changes for
  a clerk until the Head Office changes a price.
- sync_branches: the catalogue version each branch last said it holds, and what was
  last sent to it.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
TS = DATETIME(fsp=6)
# The previous release's PRODUCT_CATALOGUE, in its order (a branch seeds the same ids).
SEED = (("Paper", "12.95"), ("Pens", "2.19"), ("Pencils", "0.89"), ("Envelopes", "6.30"), ("Folders", "4.75"),
        ("Notebooks", "3.49"), ("Staplers", "8.99"), ("Toner", "64.50"))


def upgrade() -> None:
    for name in ("catalogue_held", "catalogue_sent_base", "catalogue_sent_version"):
        op.add_column("sync_branches", sa.Column(name, sa.BigInteger, nullable=True))
    for name in ("catalogue_heard_at", "catalogue_sent_at"):
        op.add_column("sync_branches", sa.Column(name, TS, nullable=True))
    op.create_table(
        "catalogue_counter",
        sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        **OPTS,
    )
    op.create_table(
        "catalogue_products",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Index("catalogue_products_name_key", "name_key", unique=True),
        sa.Index("catalogue_products_version", "version"),
        **OPTS,
    )
    op.create_table(
        "catalogue_prices",
        sa.Column("product_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("effective_from", sa.Date, primary_key=True),
        sa.Column("cost", sa.Numeric(10, 2), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.CheckConstraint("cost >= 0", name="catalogue_prices_cost_not_negative"),
        sa.Index("catalogue_prices_version", "version"),
        **OPTS,
    )
    conn = op.get_bind()
    version = 0
    for product_id, (name, cost) in enumerate(SEED, 1):
        conn.execute(sa.text("INSERT INTO catalogue_products (id, name, name_key, active, version) "
                             "VALUES (:id, :name, :key, 1, :v)"),
                     {"id": product_id, "name": name, "key": name.casefold(), "v": version + 1})
        conn.execute(sa.text("INSERT INTO catalogue_prices (product_id, effective_from, cost, version) "
                             "VALUES (:id, '2000-01-01', :cost, :v)"), {"id": product_id, "cost": cost, "v": version + 2})
        version += 2
    conn.execute(sa.text("INSERT INTO catalogue_counter (id, version) VALUES (1, :v)"), {"v": version})


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
