"""Where a drain's time goes: each stage of the pipeline timed alone, in one process.

    python -m bench.stages [--changes 40000] [--repeat 5]

The figures of ``python -m bench`` time whole programs; this splits a change's
journey into the stages the engine runs, on private databases (``bs_bn<tag>_*``,
dropped at the end), and prints the median CPU and wall time per change of each:

  branch  read + encode     Outbox.pending_batch in batch_rows batches, and protocol.encode_changes of each
  branch  mark sent         Outbox.mark_sent of those batches
  HO      decode + check    protocol.decode_changes of the messages
  HO      apply + commit    apply_changes of a group of them in one transaction

Wall above CPU is time spent waiting, mostly for the database server.  It is a
profile, not a benchmark of the product: nothing here crosses the broker.
"""
from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from sqlalchemy import text

from bench.ceilings import outbox_batches
from bench.data import load_backlog
from bench.offices import BenchOffices
from models.schema import SENT
from sync import protocol
from sync.apply import apply_changes
from sync.outbox import Outbox


def _timed(work) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(changes: int, repeat: int) -> dict[str, tuple[float, float]]:
    """Median (wall, cpu) seconds per change of each stage."""
    runs: dict[str, list[tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory() as workdir, BenchOffices(workdir, 1) as offices:
        offices.init()
        branch = offices.engine(offices.codes[0])
        load_backlog(branch, changes, "East")
        for _ in range(repeat):
            offices.reset()
            for name, seconds in _one_run(offices).items():
                runs.setdefault(name, []).append((seconds[0] / changes, seconds[1] / changes))
            with branch.connect() as conn:
                sent = conn.execute(text("SELECT COUNT(*) FROM sync_outbox WHERE state = :s"), {"s": SENT}).scalar()
            if sent != changes:
                raise RuntimeError(f"{sent} of {changes} changes were marked sent")
    return {name: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for name, r in runs.items()}


def _one_run(offices: BenchOffices) -> dict[str, tuple[float, float]]:
    code = offices.codes[0]
    outbox = Outbox(offices.engine(code))
    bodies, sent, batches = [], [], []

    def read_and_encode():
        for rows in outbox_batches(offices, code):  # the relay's reads, batch by batch
            body, seqs = protocol.encode_changes(code, outbox.origin(), rows, outbox.high_water(), 1)
            bodies.append(body)
            sent.append(seqs)

    def mark_sent():
        for seqs in sent:
            outbox.mark_sent(seqs)

    def decode():
        batches.extend(protocol.decode_changes(body, protocol.CONTENT_ENCODING, [code]) for body in bodies)

    stages = {
        "branch: read + encode": read_and_encode,
        "branch: mark sent": mark_sent,
        "HO: decode + check": decode,
        "HO: apply + commit": lambda: _apply(offices, batches),
    }
    return {name: _timed(work) for name, work in stages.items()}


def _apply(offices: BenchOffices, batches: list) -> None:
    with offices.engine("ho").begin() as conn:
        outcome = apply_changes(conn, batches)
    if outcome.refused or sum(len(r.seqs) for r in outcome.results.values()) != sum(len(b.changes) for b in batches):
        raise RuntimeError(f"the Head Office did not apply every change: {outcome.refused[:1]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=40_000, help="changes in the backlog (default 40,000)")
    parser.add_argument("--repeat", type=int, default=5, help="runs; medians are printed (default 5)")
    args = parser.parse_args(argv)
    medians = measure(args.changes, args.repeat)
    print(f"{args.changes:,} changes, median of {args.repeat} runs, per change:")
    print(f"  {'stage':<26}{'CPU':>10}{'wall':>10}")
    for name, (wall, cpu) in medians.items():
        print(f"  {name:<26}{cpu * 1e6:>8.1f}us{wall * 1e6:>8.1f}us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
