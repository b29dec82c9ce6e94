"""The branch's side of the catalogue: apply what the Head Office sends, and say which version it holds.

A catalogue message on the branch's queue is applied in one transaction (item by
item, only where newer: ``models.catalogue.apply_items``) and acked only after that
commit, so a crash redelivers it and applying again changes nothing.  The branch
tells the Head Office the version it holds (``catalogue-state``) when that version is
not the one it last said, and once a day besides; what it last said is kept in
``sync_state`` so that a Head Office of the previous release, which parks the
message ("... is not supported here") until it is upgraded and retries it, is told
once a day at most.  The Head Office sends a catalogue only to a branch that has
said what it holds, so a branch of the previous release is never sent one.

The Head Office says the version it holds on its receipts and catalogue messages
(``x-sync-catalogue``); ``behind`` compares it with the version held, so that a
``--once`` run waits for the catalogue its own catalogue-state asked for (a Head
Office of the previous release says nothing, and nothing is waited for).
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
from models.schema import bo_state
from sync import events, protocol

SAID = "catalogue_said"  # sync_state: "<version> <unix time>" last told to the Head Office
SAY_AGAIN_SECONDS = 86_400.0  # the same version is said again after a day (a lost message is then sent again)
LOOK_SECONDS = 5.0  # between two looks at the version held, besides the one after each catalogue applied


class CatalogueAtBranch:
    """Handles catalogue messages and reports the version held, for one connected session."""

    def __init__(self, code: str, engine: Engine, origin: Callable[[], str], publish: Callable[[bytes, Any], None],
                 user: str | None, emit: Callable[[events.Event], None], log: logging.Logger):
        self.code, self.engine, self.origin, self.publish, self.user = code, engine, origin, publish, user
        self.emit, self.log = emit, log
        self._next_look = 0.0  # the session calls report() after every pass: look at the database now and then
        self.held: int | None = None  # the version held, as last read or applied
        self.announced: int | None = None  # the newest version the Head Office said it holds, this session

    def head_office_holds(self, version: int) -> None:
        """The Head Office said (on a receipt or a catalogue message) which catalogue version it holds."""
        self.announced = max(version, self.announced or 0)

    def behind(self) -> int:
        """Versions the Head Office said it holds beyond the one held here (0 when it said none)."""
        if self.announced is None:
            return 0
        if self.held is None:
            with self.engine.connect() as conn:
                self.held = held_version(conn, head_office=False)
        return max(0, self.announced - self.held)

    def receive(self, message: protocol.CatalogueMessage) -> None:
        """Apply a catalogue message and commit (the session acks it when this returns)."""
        with self.engine.begin() as conn:
            applied, held = apply_items(conn, message.items)
        self.held = held
        self.log.info("catalogue %s from the Head Office: %d item(s) newer than held; now at version %d",
                      "snapshot" if message.full else f"changes after version {message.items.base}", applied, held)
        self.emit(events.CatalogueReceived(self.code, held, applied))
        self.report(now=True)

    def report(self, now: bool = False) -> None:
        """Tell the Head Office the version held, when it is not what was last said (or a day has passed)."""
        if not now and time.monotonic() < self._next_look:
            return
        self._next_look = time.monotonic() + LOOK_SECONDS
        with self.engine.connect() as conn:
            held = held_version(conn, head_office=False)
            said = conn.execute(select(bo_state.c.value).where(bo_state.c.name == SAID)).scalar() or ""
        self.held = held
        version, _, at = said.partition(" ")
        if version == str(held) and at.replace(".", "", 1).isdigit() and time.time() - float(at) < SAY_AGAIN_SECONDS:
            return
        at_ms = int(time.time() * 1000)
        origin = self.origin()
        body = protocol.encode_catalogue_state(protocol.CatalogueState(self.code, origin, held, at_ms))
        self.publish(body, protocol.catalogue_state_properties(self.code, origin, held, self.user))  # confirmed
        with self.engine.begin() as conn:
            fact = mysql_insert(bo_state).values(name=SAID, value=f"{held} {time.time():.0f}")
            conn.execute(fact.on_duplicate_key_update(value=fact.inserted.value))
