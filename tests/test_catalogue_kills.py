"""kill -9 of the Head Office at each precise moment of sending the catalogue down: after a body was confirmed
and before the next is published, after one is published and before its confirm is read, and after the broker
confirmed and before the Head Office recorded it sent.  The Head Office is a real process of its own
(tests/ho_killed_at.py kills it at the moment); the branches' agents run throughout.  Real MariaDB and RabbitMQ.

What makes these moments dangerous: a Head Office that recorded a send before the broker confirmed it would,
killed between bodies, believe the rest of a snapshot (or the other branches' messages) was on its way, and
send nothing more to a branch still saying it holds the old version.  This test then times out waiting.
"""
from __future__ import annotations

import datetime as dt
import signal
from decimal import Decimal

from sqlalchemy import text

from models.catalogue import add_product, find_product, read_catalogue, set_active, set_price
from sync.protocol.catalogue import PART_ITEMS
from sync.relay import OutboxRelay
from tests.harness import running, spawn, stop, wait_for
from tests.test_catalogue import LATER, TODAY, add_many, heard_holding, holds_the_head_offices, show, version

MOMENTS = ("between-bodies", "published-unconfirmed", "confirmed-unrecorded")


def killed_at(offices, moment: str, tmp_path) -> str:
    """Run the Head Office until it kill -9s itself at ``moment``; what it was about then."""
    mark = tmp_path / f"{moment}.mark"
    mark.unlink(missing_ok=True)
    consumer = spawn("tests/ho_killed_at.py", offices.paths["ho"], "--at", moment, "--mark", str(mark))
    try:
        wait_for(lambda: consumer.poll() is not None, 90, f"the Head Office to reach the moment {moment}")
    except AssertionError as exc:  # it sends nothing to a branch it believes has a message on its way
        raise AssertionError(f"{exc}; versions held now {versions(offices)}") from None
    finally:
        said = stop(consumer)
    assert consumer.returncode == -signal.SIGKILL, said
    line = mark.read_text(encoding="utf-8").strip()
    assert line.startswith(moment), line
    return line


def versions(offices) -> dict[str, int]:
    return {code: version(offices, code) for code in ["ho", *offices.codes]}


def all_hold_the_head_offices(offices, what: str) -> None:
    """A Head Office with no fault runs until every branch holds its catalogue."""
    consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
    try:
        for code in offices.codes:
            wait_for(lambda c=code: holds_the_head_offices(offices, c), 90, f"{code} to hold the catalogue ({what})")
            wait_for(lambda c=code: heard_holding(offices, c) == version(offices, "ho"), 30,
                     f"the Head Office to hear that {code} holds its catalogue")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; versions held now {versions(offices)}") from None
    finally:
        said = stop(consumer)
    assert "Traceback" not in said, said


def catalogue_of(offices, code: str):
    with offices.engine(code).connect() as conn:
        held = read_catalogue(conn, head_office=code == "ho")
    return held.version, held.products, held.prices


def test_a_kill_9_of_the_head_office_at_each_moment_of_a_send_loses_nothing_repeats_nothing_and_parks_nothing(
        offices, tmp_path):
    ho = offices.engine("ho")
    add_many(ho, PART_ITEMS // 2 + 1)                   # more items than one message holds: a snapshot in two parts
    with running(*[OutboxRelay(b) for b in offices.branches]):
        # Each branch says it holds nothing; each is due a snapshot of two bodies.
        said = killed_at(offices, "between-bodies", tmp_path)
        assert said.endswith("/1"), f"killed after {said}, not after the first body of a snapshot in parts"
        assert all(version(offices, c) == 0 for c in offices.codes), "a branch moved on with half a snapshot"
        assert killed_at(offices, "published-unconfirmed", tmp_path).endswith("/1")
        assert "('bo1', 0, " in killed_at(offices, "confirmed-unrecorded", tmp_path)
        all_hold_the_head_offices(offices, "the snapshot")

        with ho.begin() as conn:                        # one delta of five versions for every branch
            set_price(conn, find_product(conn, "Pens").id, Decimal("2.60"), TODAY)
            set_price(conn, find_product(conn, "Paper").id, Decimal("14.00"), LATER)
            set_active(conn, find_product(conn, "Toner").id, False)
            add_product(conn, "Glue", Decimal("1.20"), TODAY)
        before = version(offices, "bo1")
        said = killed_at(offices, "between-bodies", tmp_path)  # one branch's delta confirmed, the others' not sent
        assert said.startswith(f"between-bodies catalogue/bo1/{version(offices, 'ho')}/"), said
        assert version(offices, "bo2") == version(offices, "bo3") == before
        killed_at(offices, "published-unconfirmed", tmp_path)
        killed_at(offices, "confirmed-unrecorded", tmp_path)
        all_hold_the_head_offices(offices, "the delta")

    for day in (TODAY, LATER, TODAY + dt.timedelta(days=400)):
        expected = show(offices, "ho", day)
        assert all(show(offices, code, day) == expected for code in offices.codes), day
    assert "Pens,2.60\n" in show(offices, "bo3", TODAY) and "Paper,14.00\n" in show(offices, "bo3", LATER)
    head_office = catalogue_of(offices, "ho")
    for code in offices.codes:                          # every product and price, with the version it came with
        assert catalogue_of(offices, code) == head_office, f"{code} holds another catalogue than the Head Office"
    with ho.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM sync_dead_letters")).scalar_one() == 0
