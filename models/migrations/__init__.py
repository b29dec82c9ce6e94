"""Schema versions of the office databases, kept with Alembic.

Each role has its own line of migrations (``branch/versions``, ``head_office/versions``)
and records its revision in ``sync_schema_version``.  Revision 0001 is the schema of
the first release (commit a7d5714), which kept no revision: a database with tables
and no revision is that release's, and is stamped 0001 before it is upgraded.

    schema_status(engine, role)   where a database stands against this code
    create_newest(engine, role)   a new database: the newest tables, stamped head
    upgrade(engine, role)         an older database brought to head in place
"""
from __future__ import annotations

import enum
import threading
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

VERSION_TABLE = "sync_schema_version"
_ONE_AT_A_TIME = threading.Lock()
FIRST_RELEASE = "0001"
# A table every release of a role has: without it (and without a revision) the database holds none of ours yet.
MARKER = {"branch": "sync_outbox", "head_office": "sync_branches"}
HERE = Path(__file__).resolve().parent


class Role(enum.StrEnum):
    BRANCH = "branch"
    HEAD_OFFICE = "head_office"


class Standing(enum.Enum):
    EMPTY = "empty"      # no tables yet
    CURRENT = "current"  # at this code's head
    OLDER = "older"      # needs `python -m sync migrate`
    NEWER = "newer"      # written by a newer release than this code


@dataclass(frozen=True)
class SchemaStatus:
    standing: Standing
    revision: str | None
    head: str

    def sentence(self, database: str, config: str = "<this office's file>") -> str | None:
        """What a person must do, in one sentence naming both revisions and the command; None when nothing."""
        if self.standing is Standing.OLDER:
            return (f"The database {database} is at schema revision {self.revision}, older than this program's "
                    f"{self.head}; run `python -m sync migrate --config {config}` (installed: `branch-sync migrate`) "
                    "to upgrade it in place (nothing is lost), then start again; nothing was touched.")
        if self.standing is Standing.NEWER:
            return (f"The database {database} is at schema revision {self.revision}, which a newer release of Branch "
                    f"Sync wrote (this program knows up to {self.head}); install that release here (`pip install "
                    "--upgrade` its wheel) and start it; nothing was touched.")
        return None


def _config(role: Role, connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE / role.value))
    cfg.attributes["connection"] = connection
    cfg.attributes["role"] = role
    return cfg


def head(role: Role) -> str:
    return ScriptDirectory.from_config(_config(role)).get_current_head() or FIRST_RELEASE


def _known(role: Role) -> set[str]:
    return {script.revision for script in ScriptDirectory.from_config(_config(role)).walk_revisions()}


def schema_status(engine: Engine, role: Role) -> SchemaStatus:
    """Where the database behind ``engine`` stands against this code's migrations."""
    newest = head(role)
    with engine.connect() as conn:
        tables = set(inspect(conn).get_table_names())
        revision = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()
    if revision is None:
        if MARKER[role.value] not in tables:  # maybe a sales table of its own, but nothing of Branch Sync's
            return SchemaStatus(Standing.EMPTY, None, newest)
        revision = FIRST_RELEASE  # the first release kept no revision
    if revision == newest:
        return SchemaStatus(Standing.CURRENT, revision, newest)
    if revision in _known(role):
        return SchemaStatus(Standing.OLDER, revision, newest)
    return SchemaStatus(Standing.NEWER, revision, newest)


def stamp(engine: Engine, role: Role, revision: str = "head") -> None:
    """Record ``revision`` as the database's schema without running anything (safe from any thread)."""
    script = ScriptDirectory.from_config(_config(role))
    with engine.begin() as conn:
        MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(script, revision)


def upgrade(engine: Engine, role: Role, revision: str = "head") -> list[str]:
    """Bring the database to ``revision`` in place; returns the revisions applied, oldest first."""
    before = schema_status(engine, role)
    if before.standing is Standing.NEWER:
        raise ValueError(before.sentence(engine.url.database or "?"))
    if before.standing is Standing.OLDER and before.revision == FIRST_RELEASE:
        with engine.connect() as conn:
            unstamped = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision() is None
        if unstamped:
            stamp(engine, role, FIRST_RELEASE)
    with _ONE_AT_A_TIME, engine.begin() as conn:  # Alembic's command API works through a module-global context
        command.upgrade(_config(role, conn), revision)
    script = ScriptDirectory.from_config(_config(role))
    applied = [s.revision for s in script.iterate_revisions(revision if revision != "head" else head(role),
                                                              before.revision or "base")]
    return list(reversed(applied))
