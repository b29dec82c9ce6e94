"""The catalogue as the branch received it from the Head Office.

- catalogue_products, catalogue_prices: the Head Office's products (its ids) and their
  effective-dated costs, each with the catalogue version it came with; seeded at
  version 0 with the list the previous release had in its code, which the Head
  Office's first catalogue message replaces.
- sync_state: ``catalogue_version``, the version this branch holds.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
SEED = (("Paper", "12.95"), ("Pens", "2.19"), ("Pencils", "0.89"), ("Envelopes", "6.30"), ("Folders", "4.75"),
        ("Notebooks", "3.49"), ("Staplers", "8.99"), ("Toner", "64.50"))


def upgrade() -> None:
    op.create_table(
        "catalogue_products",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("name_key", sa.String(100), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Index("catalogue_products_name_key", "name_key"),
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
    for product_id, (name, cost) in enumerate(SEED, 1):
        conn.execute(sa.text("INSERT INTO catalogue_products (id, name, name_key, active, version) "
                             "VALUES (:id, :name, :key, 1, 0)"), {"id": product_id, "name": name, "key": name.casefold()})
        conn.execute(sa.text("INSERT INTO catalogue_prices (product_id, effective_from, cost, version) "
                             "VALUES (:id, '2000-01-01', :cost, 0)"), {"id": product_id, "cost": cost})
    conn.execute(sa.text("INSERT IGNORE INTO sync_state (name, value) VALUES ('catalogue_version', '0')"))


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
