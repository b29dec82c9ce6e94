"""Private offices for one benchmark figure: config files, databases and broker names.

Every set gets a random tag, so its databases are ``bs_<tag>_*`` and its broker
objects ``bs_<tag>.*``; ``cleanup`` drops all of them, whatever happened.  The
configs keep the product's defaults (batch size, prefetch, poll interval), so a
figure measures what an office would really do.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import text

from devtools.offices import OfficeSet

DB_ROOT = os.environ.get("SYNC_BENCH_DB_ROOT", "mysql+pymysql://root:@127.0.0.1:3306")
AMQP_URL = os.environ.get("SYNC_BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2F")
REGIONS = ("East", "West", "North", "South", "Central")
log = logging.getLogger("bench")


def branch_code(index: int) -> str:
    """The code of the ``index``-th simulated branch (b01, b02, ...)."""
    return f"b{index + 1:02d}"


class BenchOffices(OfficeSet):
    """One Head Office and ``branches`` branches, private to one figure.

    ``BenchOffices.removed`` lists, for every set cleaned up in this process, the
    databases and queues it dropped, so a test can check that none is left.
    """

    removed: list[dict] = []

    def __init__(self, workdir: Path, branches: int, **overrides):
        codes = [branch_code(i) for i in range(branches)]
        # Every office logs in as guest here, so the broker cannot tell branches apart.
        super().__init__(Path(workdir), {c: (f"Branch {c}", REGIONS[i % len(REGIONS)]) for i, c in enumerate(codes)},
                         DB_ROOT, AMQP_URL, self.new_tag("bn"), **{"require_branch_login": False, **overrides})

    def engine(self, code: str, **kw):
        """A (cached) engine for the office ``code`` ("ho" or a branch code)."""
        return super().engine(code, pool_size=2, **kw)

    def reset(self) -> None:
        """Make every branch's backlog pending again and the Head Office empty.

        Run only while no agent or consumer is working; the broker queues are
        purged too, so the next drain starts from the state a fresh backlog has.
        """
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(self._reset_branch, self.codes))
        self._empty_head_office()

    def empty(self) -> None:
        """Remove every sale and change everywhere (TRUNCATE fires no capture trigger)."""
        for code in self.codes:
            with self.engine(code).begin() as conn:
                conn.execute(text("TRUNCATE TABLE sales"))
                conn.execute(text("TRUNCATE TABLE sync_outbox"))
        self._empty_head_office()

    def _empty_head_office(self) -> None:
        with self.engine("ho").begin() as conn:
            for table in ("sales", "sales_daily", "sync_tombstones", "sync_ledger"):
                conn.execute(text(f"TRUNCATE TABLE {table}"))
            conn.execute(text("UPDATE sync_branches SET last_seq = 0, changes_applied = 0, last_applied_at = NULL, "
                              "origin = NULL, alert = NULL, sales_held = 0"))
        queues, _exchanges = self.broker_objects()
        self.each_on_broker([q for q in queues if ".held." not in q], "queue_purge")

    def _reset_branch(self, code: str) -> None:
        with self.engine(code).begin() as conn:
            conn.execute(text("UPDATE sync_outbox SET state = 0, sent_at = NULL, applied_at = NULL, note = NULL"))

    def cleanup(self) -> None:
        """Drop every database and broker object this set created."""
        BenchOffices.removed.append(super().cleanup())

    def __enter__(self) -> BenchOffices:
        try:
            return self.init()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc) -> None:
        self.cleanup()
