"""A Head Office message of a version the branch cannot read is parked at the branch, never lost.

The branch keeps it (with the sentence ``messages.py`` raises as ``Unsupported``),
acks it only once it is committed, keeps syncing its sales meanwhile, and applies it
through the same handlers as a live one once code that reads it runs: when the agent
starts, or when a person asks for a retry (``python -m sync parked --retry``).  The
upgrade is simulated as tests/test_upgrades.py does at the Head Office: the registry
of readable versions is given the newer one.
"""
from __future__ import annotations

import subprocess
import sys
from decimal import Decimal

import pika
import pytest
from sqlalchemy import text

from sync import events, protocol
from sync.__main__ import main as sync_main
from sync.broker import Names
from sync.protocol.messages import _KEYS, pack
from sync.relay import OutboxRelay
from sync.states import LinkState
from tests.harness import (
    ROOT,
    Offices,
    branch_rows,
    declare_head_office_topology,
    head_office_rows,
    insert_sales,
    running,
    wait_for,
)

NEWER = protocol.VERSION + 1
NOT_READ = f"message version {NEWER} is not supported here (this office reads versions 1 to {protocol.VERSION})"
MARKERS = 9001  # a product id the Head Office's own catalogue does not use


def newer_catalogue(branch: str) -> bytes:
    """A catalogue delta as a newer Head Office would write it: one new product and its price."""
    return pack({"v": NEWER, "type": protocol.CATALOGUE, "branch": branch, "full": False, "base": 5000,
                 "version": 5000, "products": [MARKERS, "Markers", True, 5000],
                 "prices": [MARKERS, "2000-01-01", "1.25", 5000]})


def to_branch(offices: Offices, code: str, body: bytes) -> None:
    """Put a message on the branch's own queue, as the Head Office does (guest may publish anywhere)."""
    declare_head_office_topology(offices)  # the queue exists even before the branch first connects
    connection = pika.BlockingConnection(pika.URLParameters(offices.amqp_url))
    try:
        channel = connection.channel()
        channel.confirm_delivery()
        channel.basic_publish(Names(offices.prefix).receipts_exchange, code, body,
                              protocol.catalogue_properties(code, 5000, 1), mandatory=True)
    finally:
        connection.close()


def parked(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT version, kind, reason FROM sync_parked ORDER BY id"))]


def markers(engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT p.name, c.cost FROM catalogue_products p JOIN catalogue_prices c ON c.product_id = p.id "
            "WHERE p.id = :id"), {"id": MARKERS})]


def dead_letters_at(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM sync_dead_letters")).scalar_one())


def catalogue_held(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT value FROM sync_state WHERE name = 'catalogue_version'")).scalar_one())


def upgrade_the_code(monkeypatch) -> None:
    """What a release that reads catalogues of the newer version would register."""
    monkeypatch.setitem(_KEYS, (protocol.CATALOGUE, NEWER), _KEYS[(protocol.CATALOGUE, protocol.CATALOGUE_VERSION)])


def sync_command(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "sync", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


def applied_catalogues(said: list) -> list[events.CatalogueReceived]:
    return [e for e in said if isinstance(e, events.CatalogueReceived) and e.items]


def test_a_head_office_message_of_a_newer_version_is_parked_at_the_branch_and_applied_once_when_it_is_upgraded(
        make_offices, monkeypatch, capsys):
    from sync.intake import IntakeConsumer

    offices = make_offices(branches=1)
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    said: list = []
    consumer = IntakeConsumer(offices.ho)
    with running(consumer):
        with running(OutboxRelay(offices.branch("bo1"), on_event=said.append)):
            with ho.connect() as conn:
                ho_version = int(conn.execute(text("SELECT version FROM catalogue_counter")).scalar_one())
            wait_for(lambda: catalogue_held(bo1) == ho_version, 60, "the Head Office's own catalogue to reach bo1")
            to_branch(offices, "bo1", newer_catalogue("bo1"))
            wait_for(lambda: parked(bo1), 30, "the newer message to be parked at the branch")
            assert parked(bo1) == [(NEWER, protocol.CATALOGUE, NOT_READ)]
            assert markers(bo1) == []
            insert_sales(bo1, 3)  # the branch keeps syncing meanwhile
            wait_for(lambda: head_office_rows(ho) == branch_rows(bo1, "bo1") and len(head_office_rows(ho)) == 3, 60,
                     "bo1's sales to reach the Head Office while the message waits")
        assert dead_letters_at(ho) == 0  # the branch kept it: nothing dead-lettered, nothing rejected
        assert parked(bo1) == [(NEWER, protocol.CATALOGUE, NOT_READ)] and markers(bo1) == []

        upgrade_the_code(monkeypatch)  # the branch's program is upgraded, `migrate` is run, and its agent starts again
        capsys.readouterr()
        assert sync_main(["migrate", "--config", str(offices.paths["bo1"])]) == 0
        assert ("bo1: 1 message(s) from the Head Office kept for their version are read by this release; the agent "
                "applies them when it starts.") in capsys.readouterr().out
        assert parked(bo1) == [(NEWER, protocol.CATALOGUE, NOT_READ)]  # the agent applies it, not migrate
        said.clear()
        with running(OutboxRelay(offices.branch("bo1"), on_event=said.append)):
            wait_for(lambda: not parked(bo1) and markers(bo1), 30, "the parked message to be applied at start")
            wait_for(lambda: applied_catalogues(said), 30, "the window to be told")
        assert markers(bo1) == [("Markers", Decimal("1.25"))]
        assert [e.items for e in applied_catalogues(said)] == [2]  # the product and its price, once
        said.clear()
        with running(OutboxRelay(offices.branch("bo1"), on_event=said.append)) as (relay,):
            wait_for(lambda: relay.state is LinkState.ONLINE, 30, "the agent to connect again")
            insert_sales(bo1, 1, start=10)
            relay.notify()
            wait_for(lambda: head_office_rows(ho) == branch_rows(bo1, "bo1"), 60, "one more sale to arrive")
        assert applied_catalogues(said) == [] and parked(bo1) == []
    assert dead_letters_at(ho) == 0


def test_status_says_what_waits_and_a_retry_applies_it_through_the_running_agent(make_offices, monkeypatch, capsys):
    offices = make_offices(branches=1)
    bo1, path = offices.engine("bo1"), str(offices.paths["bo1"])
    relay = OutboxRelay(offices.branch("bo1"))
    with running(relay):
        to_branch(offices, "bo1", newer_catalogue("bo1"))
        wait_for(lambda: parked(bo1), 30, "the newer message to be parked at the branch")

        status = sync_command("status", "--config", path)
        assert status.returncode == 1, status.stdout + status.stderr  # something needs a person
        assert (f"1 message from the Head Office waits for this branch to be upgraded (it is of version {NEWER}; "
                f"this office reads versions 1 to {protocol.VERSION})") in status.stdout
        listed = sync_command("parked", "--config", path)
        assert listed.returncode == 0, listed.stderr
        assert f"version {NEWER}" in listed.stdout and "catalogue" in listed.stdout and NOT_READ in listed.stdout

        upgrade_the_code(monkeypatch)  # the running agent, and the command, now read it (as after an upgrade)
        capsys.readouterr()
        assert sync_main(["parked", "--config", path, "--retry"]) == 0
        assert "bo1: asked the agent to apply the 1 of 1 waiting message(s) this release reads" in capsys.readouterr().out
        wait_for(lambda: not parked(bo1) and markers(bo1), 30, "the retried message to be applied")
    status = sync_command("status", "--config", path)
    assert "from the Head Office waits" not in status.stdout and "parked" not in status.stdout

    # One that this release does not read either, which a person decides is never to be applied.
    with bo1.begin() as conn:
        conn.execute(text("INSERT INTO sync_parked (version, kind, reason, headers, body) "
                          "VALUES (99, 'catalogue', 'message version 99 is not supported here', '{}', 'x')"))
        parked_id = conn.execute(text("SELECT MAX(id) FROM sync_parked")).scalar_one()
    discarded = sync_command("parked", "--config", path, "--discard", str(parked_id))
    assert discarded.returncode == 0 and f"message #{parked_id} from the Head Office was removed" in discarded.stdout
    assert parked(bo1) == []
    again = sync_command("parked", "--config", path, "--discard", str(parked_id))
    assert again.returncode == 2 and f"No message #{parked_id} waits here" in again.stderr


def test_a_malformed_head_office_message_is_still_refused_to_the_head_offices_dead_letters(make_offices):
    from sync.intake import IntakeConsumer

    offices = make_offices(branches=1)
    bo1, ho = offices.engine("bo1"), offices.engine("ho")
    with running(IntakeConsumer(offices.ho), OutboxRelay(offices.branch("bo1"))):
        to_branch(offices, "bo1", pack({"v": protocol.CATALOGUE_VERSION, "type": protocol.CATALOGUE, "branch": "bo1"}))
        wait_for(lambda: dead_letters_at(ho) == 1, 30, "the malformed message to be dead-lettered at the Head Office")
    assert parked(bo1) == []


@pytest.fixture(autouse=True)
def _no_stray_registration():
    """The registry of readable versions is as the code declares it after each test."""
    before = dict(_KEYS)
    yield
    assert dict(_KEYS) == before
