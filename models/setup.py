"""Bringing an office database to life, or checking that it fits this code.

``init-db`` calls these: an empty database gets the newest schema (recorded as the
migrations' head); a current one is checked and mended (capture at a branch, the
branch list at the Head Office); an older or newer one is refused with a sentence,
before anything is touched (``python -m sync migrate`` upgrades an older one).
"""
from __future__ import annotations

import uuid

from sqlalchemy import text
from sqlalchemy.engine import Engine

from models.capture import CaptureRepair, Vanished, repair_capture
from models.catalogue import seed_branch, seed_head_office
from models.migrations import Role, SchemaStatus, Standing, schema_status, stamp
from models.schema import bo_metadata, bo_state, ho_metadata


class SchemaMismatch(Exception):
    """The database is older or newer than this code; the message says what to do."""

    def __init__(self, status: SchemaStatus, database: str):
        super().__init__(status.sentence(database))
        self.status, self.database = status, database

    def sentence(self, config: str) -> str:
        """The sentence, naming the office's file in the command to run."""
        return self.status.sentence(self.database, config) or str(self)


def _fits(engine: Engine, role: Role) -> Standing:
    status = schema_status(engine, role)
    if status.standing in (Standing.OLDER, Standing.NEWER):
        raise SchemaMismatch(status, engine.url.database or "?")
    return status.standing


def init_branch_database(engine: Engine, vanished: Vanished | None = None) -> CaptureRepair:
    """Create the branch schema if the database is empty, then make capture whole (idempotent).

    Installing capture on a database that already holds sales queues each of them
    once (the initial load).  Raises SchemaMismatch for an older or newer schema.
    """
    empty = _fits(engine, Role.BRANCH) is Standing.EMPTY
    bo_metadata.create_all(engine)  # only what is missing: a branch's own sales table is kept as it is
    if empty:
        stamp(engine, Role.BRANCH)
    with engine.begin() as conn:
        if conn.execute(bo_state.select().where(bo_state.c.name == "origin")).first() is None:
            # Identifies this database's history; a re-created database gets a new one.
            conn.execute(bo_state.insert().values(name="origin", value=str(uuid.uuid4())))
        seed_branch(conn)  # what to sell from until the Head Office's catalogue arrives
    return repair_capture(engine, vanished)


def init_head_office_database(engine: Engine, branches: dict[str, str]) -> None:
    """Create the Head Office schema if the database is empty, and register the known branches."""
    empty = _fits(engine, Role.HEAD_OFFICE) is Standing.EMPTY
    ho_metadata.create_all(engine)
    if empty:
        stamp(engine, Role.HEAD_OFFICE)
    with engine.begin() as conn:
        for code, name in branches.items():
            conn.execute(text("INSERT INTO sync_branches (code, name) VALUES (:c, :n) ON DUPLICATE KEY UPDATE name = :n"),
                         {"c": code, "n": name})
        seed_head_office(conn)


def check_fits(engine: Engine, role: Role) -> None:
    """Raise SchemaMismatch unless the database is at this code's schema (or empty)."""
    _fits(engine, role)
