"""Alembic's entry for this role's migrations: run on the connection the caller opened."""
from alembic import context

from models.migrations import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE,
                  transaction_per_migration=True)
with context.begin_transaction():
    context.run_migrations()
