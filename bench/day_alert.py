"""What judging the "day different" alert costs the Head Office, at a year of fifty branches.

    python -m bench.day_alert [--rows 5000000] [--branches 50] [--repeat 5]

Builds a private Head Office database with ``bench.ho_scale``'s loader (``--rows``
sales of ``--branches`` branches over two years, so 62 days hold what they would at
that pace), and times the ``day_different`` condition (sync/alert_conditions.py)
the alert monitor runs, both ways: a sweep (the control totals, sums and digest, of
every branch's last ``DAY_ALERT_DAYS`` days from the live rows, every
``day_sweep_seconds``) and a check between sweeps (the last ``DAY_ALERT_RECENT``
days, nothing reported since; every ``alert_check_seconds``).  No branch has reported
totals here: reading those is one indexed range per branch, small beside hashing.
Prints the median of ``--repeat`` runs (the first in brackets), the rows those days
hold, and the share of one core each costs at the default cadence.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time

from sqlalchemy import text

from bench.ho_scale import code, load, scratch_head_office
from config import HeadOfficeConfig
from sync.alert_conditions import DAY_ALERT_DAYS, Facts, day_different


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.day_alert", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    branches = {code(i): f"Branch {code(i)}" for i in range(args.branches)}
    with scratch_head_office("bd", branches) as engine:
        load(engine, args.rows, args.branches)
        now = dt.datetime.now()
        first = now.date() - dt.timedelta(days=DAY_ALERT_DAYS)
        cfg = HeadOfficeConfig(role="head_office", code="ho", name="Head Office", db_url=str(engine.url),
                               amqp_urls=("amqp://nowhere/",), branches=branches)
        with engine.begin() as conn:
            held = conn.execute(text("SELECT COUNT(*) FROM sales WHERE sale_date >= :f"), {"f": first}).scalar_one()
        print(f"{held:,} sales in the last {DAY_ALERT_DAYS} days of {args.branches} branches", flush=True)
        for thorough in (True, False):  # a sweep of all the days; a check between (nothing reported since)
            runs = []
            for _ in range(args.repeat):
                with engine.connect() as conn:
                    facts = Facts(conn, cfg, now, now, None, frozenset({"sync_day_totals"}), thorough=thorough,
                                  since=now - dt.timedelta(seconds=30))
                    started = time.perf_counter()
                    found = list(day_different(facts) or [])
                    runs.append(time.perf_counter() - started)
            median = statistics.median(runs)
            every = cfg.day_sweep_seconds if thorough else cfg.alert_check_seconds
            print(f"  {'sweep of all days' if thorough else 'check between sweeps':<22} {median:6.3f} s median "
                  f"(first {runs[0]:.3f} s), {len(found)} finding(s); every {every:.0f} s: "
                  f"{100 * median / every:.2f} % of one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
