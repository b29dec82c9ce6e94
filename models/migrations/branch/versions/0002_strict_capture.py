"""Capture that cannot switch off silently, and the Head Office's rules in the branch table.

- sales: CHECKs that the date is a real day (no zero dates) and that text is neither
  blank nor holds control or text-direction characters, as the Head Office requires.
  Rows already stored stay as they are (the Head Office refused them and the branch
  window shows why); new writes are checked.
- the capture triggers are created again: strict sql_mode, and a sale number that an
  existing Head Office sale still holds is refused.
- sync_state values may be longer (the Head Office's alert is kept there).

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

from models.capture import install_triggers
from models.shape import text_checks_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    op.alter_column("sync_state", "value", existing_type=sa.String(255), type_=sa.String(1000), existing_nullable=False)
    mariadb = "mariadb" in conn.exec_driver_sql("SELECT VERSION()").scalar_one().lower()
    if mariadb:  # keep the rows the first release stored; MySQL 8 checks them, and names any that break a rule
        conn.exec_driver_sql("SET SESSION check_constraint_checks = 0")
    try:
        op.create_check_constraint("sales_date_is_a_real_day", "sales", "sale_date >= '1000-01-01'")
        for name, sql in text_checks_sql():
            op.create_check_constraint(name, "sales", sql)
    finally:
        if mariadb:
            conn.exec_driver_sql("SET SESSION check_constraint_checks = 1")
    install_triggers(conn)


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
