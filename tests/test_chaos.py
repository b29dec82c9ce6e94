"""Convergence under faults nobody chose: a hypothesis state machine drives three
branches and the Head Office through random inserts, updates and deletes while it
cuts links, kills agents and the consumer with SIGKILL, restarts RabbitMQ, and
injects duplicated and out-of-order messages.  Once the faults stop, the Head
Office must equal the union of the branches, row for row and cent for cent, and
every branch change must be marked applied.

`make test` runs a few short examples; `make soak` (SYNC_SOAK=1) runs many long ones.
"""
from __future__ import annotations

import collections
import json
import os
import random
import subprocess
import tempfile
import time
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, precondition, rule
from sqlalchemy import text

from devtools.linkproxy import LinkProxy
from models.shape import SALE_SHAPE
from sync import protocol
from tests.harness import (
    AMQP_URL,
    BROKER,
    RABBITMQCTL,
    Offices,
    assert_converged,
    change_qty,
    delete_sale,
    insert_sales,
    kill9,
    publish_raw,
    spawn,
    stop,
    via_port,
)

SOAK = bool(os.environ.get("SYNC_SOAK"))
TALLY = os.environ.get("SYNC_CHAOS_TALLY")  # a file to add this run's counts of steps and faults to
COUNTS: collections.Counter = collections.Counter()
BRANCH = st.sampled_from(["bo1", "bo2", "bo3"])


class OfficesUnderFire(RuleBasedStateMachine):
    """Three branches and a Head Office, each agent a real process behind its own link."""

    def __init__(self):
        super().__init__()
        self.tmp = tempfile.TemporaryDirectory(prefix="chaos-")
        self.offices = Offices(Path(self.tmp.name), batch_rows=200).init()
        self.links = {b.code: LinkProxy(BROKER).start() for b in self.offices.branches}
        self.agents: dict[str, subprocess.Popen] = {}
        self.consumer = None
        self.broker_restarts = 0
        self.log: list[str] = []

    # ------------------------------------------------------------ processes
    def _start_agent(self, code: str) -> None:
        url = via_port(AMQP_URL, self.links[code].port)
        self.agents[code] = spawn("bo_app.py", self.offices.paths[code], "--headless", env={"SYNC_AMQP_URL": url})

    def _start_consumer(self) -> None:
        self.consumer = spawn("ho_app.py", self.offices.paths["ho"], "--headless")

    @initialize(sales=st.integers(0, 300))
    def start_everything(self, sales):
        COUNTS["start_everything"] += 1
        for code in self.links:  # a backlog waiting when the agents start
            insert_sales(self.offices.engine(code), sales, start=random.randrange(10_000))
        self._start_consumer()
        for code in self.links:
            self._start_agent(code)

    # ------------------------------------------------------------ what clerks do
    @rule(code=BRANCH, count=st.integers(1, 40))
    def insert(self, code, count):
        COUNTS["insert"] += 1
        insert_sales(self.offices.engine(code), count, start=random.randrange(10_000))

    @rule(code=BRANCH, qty=st.integers(1, 500), data=st.data())
    def update(self, code, qty, data):
        COUNTS["update"] += 1
        ids = self._ids(code)
        if ids:
            change_qty(self.offices.engine(code), data.draw(st.sampled_from(ids)), qty=qty)

    @rule(code=BRANCH, data=st.data())
    def delete(self, code, data):
        COUNTS["delete"] += 1
        ids = self._ids(code)
        if ids:
            delete_sale(self.offices.engine(code), data.draw(st.sampled_from(ids)))

    @rule(code=BRANCH)
    def insert_then_delete_before_it_is_sent(self, code):
        COUNTS["insert_then_delete_before_it_is_sent"] += 1
        (sale_id,) = insert_sales(self.offices.engine(code), 1, start=random.randrange(10_000))
        delete_sale(self.offices.engine(code), sale_id)

    def _ids(self, code) -> list[int]:
        with self.offices.engine(code).connect() as conn:
            return list(conn.execute(text("SELECT id FROM sales ORDER BY id DESC LIMIT 50")).scalars())

    # ------------------------------------------------------------ faults
    @rule(code=BRANCH)
    def cut_link(self, code):
        COUNTS["cut_link"] += 1
        self.links[code].cut()

    @rule(code=BRANCH)
    def restore_link(self, code):
        COUNTS["restore_link"] += 1
        self.links[code].restore()

    @rule(code=BRANCH)
    def kill_9_branch_agent(self, code):
        COUNTS["kill_9_branch_agent"] += 1
        kill9(self.agents[code])
        self._start_agent(code)

    @rule()
    def kill_9_head_office_consumer(self):
        COUNTS["kill_9_head_office_consumer"] += 1
        kill9(self.consumer)
        self._start_consumer()

    @precondition(lambda self: self.broker_restarts < (3 if SOAK else 1))
    @rule()
    def restart_rabbitmq(self):
        COUNTS["restart_rabbitmq"] += 1
        self.broker_restarts += 1
        subprocess.run([*RABBITMQCTL, "stop_app"], check=True, capture_output=True, timeout=120)
        subprocess.run([*RABBITMQCTL, "start_app"], check=True, capture_output=True, timeout=120)
        subprocess.run([*RABBITMQCTL, "await_startup"], check=True, capture_output=True, timeout=120)

    @rule(code=BRANCH, copies=st.integers(2, 3), size=st.integers(1, 30))
    def deliver_old_changes_again_and_out_of_order(self, code, copies, size):
        """Re-send changes the branch already made, as an old message would arrive late, several times."""
        COUNTS["deliver_old_changes_again_and_out_of_order"] += 1
        with self.offices.engine(code).connect() as conn:
            rows = conn.execute(text(
                "SELECT seq, sale_id, op, sale_date, region, product, qty, cost, amt, tax, total, captured_at "
                "FROM sync_outbox ORDER BY RAND() LIMIT :n"), {"n": size}).all()
            origin = conn.execute(text("SELECT value FROM sync_state WHERE name = 'origin'")).scalar_one()
        if not rows:
            return
        rows = sorted(rows, key=lambda r: r.seq)
        built_at = int(min(r.captured_at for r in rows).timestamp() * 1000) - 1  # as old as its oldest change
        wire = [(*r[:3], *(SALE_SHAPE.to_wire(r[3:11]) if r.op == "u" else r[3:11])) for r in rows]
        body, _ = protocol.encode_changes(code, origin, wire, max(r.seq for r in rows), built_at)
        for _ in range(copies):
            publish_raw(self.offices, body, user_id="guest")

    @rule(seconds=st.floats(0.05, 1.5))
    def let_time_pass(self, seconds):
        COUNTS["let_time_pass"] += 1
        time.sleep(seconds)

    # ------------------------------------------------------------ the verdict
    def teardown(self):
        COUNTS["examples"] += 1
        try:
            for link in self.links.values():
                link.restore()
            for code, agent in self.agents.items():
                if agent.poll() is not None:
                    self._start_agent(code)
            assert_converged(self.offices, timeout=180)
            COUNTS["converged"] += 1
        finally:
            for process in [*self.agents.values(), self.consumer]:
                if process is not None:
                    stop(process)
            for link in self.links.values():
                link.close()
            self.offices.cleanup()
            self.tmp.cleanup()
            if TALLY:
                Path(TALLY).write_text(json.dumps(COUNTS, indent=1, sort_keys=True))


OfficesUnderFire.TestCase.settings = settings(
    max_examples=int(os.environ.get("SYNC_SOAK_EXAMPLES", 40)) if SOAK else 8,
    stateful_step_count=40 if SOAK else 15,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=not SOAK,  # CI runs the same scenarios every time; soak explores new ones
)
test_offices_converge_under_random_faults = OfficesUnderFire.TestCase
