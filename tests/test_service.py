"""Run as a service: systemd stops the headless programs with SIGTERM.  Each stops
within a few seconds, exits 0, leaves nothing half-done (the outbox only ever holds
pending, sent or applied changes; the Head Office holds whole transactions and parks
nothing), and the next start carries on to exactly the branches' rows."""
from __future__ import annotations

import dataclasses
import signal
import subprocess

from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from tests.harness import (
    assert_converged,
    dead_letters,
    head_office_rows,
    insert_sales,
    outbox_states,
    output,
    running,
    spawn,
    stop,
    wait_for,
)

# systemd waits TimeoutStopSec (30 s in deploy/) before it kills; a clean stop takes far less.
STOP_WITHIN_SECONDS = 15


def terminate(process: subprocess.Popen) -> tuple[int, str]:
    """SIGTERM, as ``systemctl stop`` sends it; the exit code and what the program printed."""
    process.send_signal(signal.SIGTERM)
    try:
        code = process.wait(timeout=STOP_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        stop(process)
        raise AssertionError(f"still running {STOP_WITHIN_SECONDS}s after SIGTERM:\n{output(process)[-2000:]}") from None
    return code, output(process)


def test_sigterm_stops_the_headless_branch_agent_mid_drain_cleanly_and_the_next_start_converges(offices):
    bo = offices.engine("bo1")
    insert_sales(bo, 30_000)
    env = {"SYNC_BATCH_ROWS": "500"}
    with running(IntakeConsumer(offices.ho)):
        agent = spawn("bo_app.py", offices.paths["bo1"], "--headless", env=env)
        wait_for(lambda: outbox_states(bo).get(1, 0) + outbox_states(bo).get(2, 0) >= 1_000, 60, "the agent to be publishing")
        code, out = terminate(agent)
        assert code == 0, out
        assert "link stopped" in out and "Traceback" not in out, out
        states = outbox_states(bo)
        assert set(states) <= {0, 1, 2} and sum(states.values()) == 30_000
        assert states.get(0, 0) > 0, "the stop came too late to be mid-drain"
        agent = spawn("bo_app.py", offices.paths["bo1"], "--headless", env=env)
        try:
            assert_converged(offices, timeout=120)
        finally:
            stop(agent)
    assert len(head_office_rows(offices.engine("ho"))) == 30_000


def test_sigterm_stops_the_headless_head_office_consumer_mid_apply_cleanly_and_the_next_start_converges(offices):
    for b in offices.branches:
        insert_sales(offices.engine(b.code), 10_000)
    ho = offices.engine("ho")
    with running(*[OutboxRelay(dataclasses.replace(b, batch_rows=200)) for b in offices.branches]):
        consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
        wait_for(lambda: len(head_office_rows(ho)) >= 2_000, 60, "the consumer to be applying")
        code, out = terminate(consumer)
        assert code == 0, out
        assert "consumer stopped" in out and "Traceback" not in out, out
        assert len(head_office_rows(ho)) < 30_000, "the stop came too late to be mid-apply"
        assert dead_letters(ho) == [], "a stop must not park anything"
        consumer = spawn("ho_app.py", offices.paths["ho"], "--headless")
        try:
            assert_converged(offices, timeout=180)
        finally:
            stop(consumer)
    assert len(head_office_rows(ho)) == 30_000
    assert dead_letters(ho) == []
