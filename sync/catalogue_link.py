"""The branch's side of the catalogue: apply what the Head Office sends, and say which version it holds.

A catalogue message on the branch's queue is applied in one transaction (item by
item, only where newer: ``models.catalogue.apply_items``) and acked only after that
commit, so a crash redelivers it and applying again changes nothing.  The branch then
tells the Head Office the version it holds (``catalogue-state``), at the start of each
connected period and whenever that version moves, but only to a Head Office that
reads it: one that has sent this branch a catalogue, or answers in version 2.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.engine import Engine

from models.catalogue import apply_items, held_version
from models.rows import tuples
from models.schema import bo_state
from sync import events, protocol

FROM_HEAD_OFFICE = "catalogue_from_ho"  # sync_state: this branch has received a catalogue from its Head Office
LOOK_SECONDS = 5.0  # between two looks at the version held, besides the one after each catalogue applied


class CatalogueAtBranch:
    """Handles catalogue messages and reports the version held, for one connected session."""

    def __init__(self, code: str, engine: Engine, origin: Callable[[], str], publish: Callable[[bytes, Any], None],
                 user: str | None, emit: Callable[[events.Event], None], log: logging.Logger):
        self.code, self.engine, self.origin, self.publish, self.user = code, engine, origin, publish, user
        self.emit, self.log = emit, log
        self._reported: int | None = None
        self._next_look = 0.0  # the session calls report() after every pass: look at the database now and then

    def receive(self, message: protocol.CatalogueMessage) -> None:
        """Apply a catalogue message and commit (the session acks it when this returns)."""
        with self.engine.begin() as conn:
            applied, held = apply_items(conn, message.items)
            fact = mysql_insert(bo_state).values(name=FROM_HEAD_OFFICE, value="1")
            conn.execute(fact.on_duplicate_key_update(value=fact.inserted.value))
        self.log.info("catalogue %s from the Head Office: %d item(s) newer than held; now at version %d",
                      "snapshot" if message.full else f"changes after version {message.items.base}", applied, held)
        self.emit(events.CatalogueReceived(self.code, held, applied))
        self.report(now=True)

    def report(self, now: bool = False) -> None:
        """Tell the Head Office the version held, when it moved (or was never said in this session)."""
        if not now and time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + LOOK_SECONDS
        with self.engine.connect() as conn:
            held = held_version(conn, head_office=False)
            if held == self._reported:
                return
            facts: dict[str, str] = dict(tuples(conn.execute(select(bo_state.c.name, bo_state.c.value).where(
                bo_state.c.name.in_([FROM_HEAD_OFFICE, "ho_version"])))))
        ho_version = facts.get("ho_version", "")
        if facts.get(FROM_HEAD_OFFICE) != "1" and not (ho_version.isdigit()
                                                       and int(ho_version) >= protocol.CATALOGUE_VERSION):
            return  # a Head Office of the previous release would park it
        at = int(time.time() * 1000)
        origin = self.origin()
        body = protocol.encode_catalogue_state(protocol.CatalogueState(self.code, origin, held, at))
        self.publish(body, protocol.catalogue_state_properties(self.code, origin, held, self.user))
        self._reported = held
