"""``python -m bench``: run the figures of issue 5, print the table, write JSON and plots.

    python -m bench                         every figure at full size (about 30 minutes)
    python -m bench --size tiny             every figure, tiny (what the smoke test runs)
    python -m bench --only 4 --only memory  some figures; their results replace those
                                            already in the output's results.json
"""
from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import fig_backlog, fig_branches, fig_catalogue, fig_latency, fig_memory, fig_slowlink, fig_window, report
from bench.offices import BenchOffices
from bench.processes import ROOT
from bench.sizes import SIZES

# name -> (what runs it, the figure numbers it answers)
EXPERIMENTS = {
    "backlog": (fig_backlog.run, (1, 2, 3)),
    "slowlink": (fig_slowlink.run, (4,)),
    "latency": (fig_latency.run, (5,)),
    "memory": (fig_memory.run, (6,)),
    "branches": (fig_branches.run, (7,)),
    "window": (fig_window.run, (8,)),
    "catalogue": (fig_catalogue.run, (9,)),
}
ALIASES = {"drain": "backlog", "ceilings": "backlog", "naive": "backlog", "many": "branches", "gui": "window"}


def experiment_for(choice: str) -> str:
    """The experiment that answers a figure given by number or by name."""
    if choice.isdigit():
        for name, (_run, numbers) in EXPERIMENTS.items():
            if int(choice) in numbers:
                return name
    name = ALIASES.get(choice, choice)
    if name not in EXPERIMENTS:
        known = ", ".join([*EXPERIMENTS, *ALIASES])
        raise argparse.ArgumentTypeError(f"{choice!r} is not a figure; give 1-9 or one of {known}")
    return name


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0].strip("`: "))
    parser.add_argument("--size", choices=list(SIZES), default="full", help="how big each figure is (default full)")
    parser.add_argument("--only", action="append", type=experiment_for, metavar="FIGURE",
                        help="run only this figure (1-9 or a name); may be repeated")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "bench", help="where results.json and the plots go")
    parser.add_argument("--no-plots", action="store_true", help="write the JSON only")
    args = parser.parse_args(argv)
    # A polite kill unwinds like an error, so every figure drops its databases and queues.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("benchmark stopped by SIGTERM"))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s bench: %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    chosen = [name for name in EXPERIMENTS if not args.only or name in args.only]
    size = SIZES[args.size]
    args.out.mkdir(parents=True, exist_ok=True)
    results = report.load(args.out / "results.json") if args.only else {}
    figures = results.setdefault("figures", {})
    errors = results.setdefault("errors", {})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="bench-") as workdir:
        for name in chosen:
            run, _numbers = EXPERIMENTS[name]
            began, load_before = time.monotonic(), os.getloadavg()[0]
            errors.pop(name, None)
            try:
                produced = run(size, Path(workdir))
            except Exception as exc:  # noqa: BLE001 - one broken figure must not lose the others
                logging.getLogger("bench").exception("figure %s failed", name)
                errors[name] = f"{exc.__class__.__name__}: {exc}"[:4000]
                continue
            for figure in produced.values():
                figure["seconds"] = round(time.monotonic() - began, 1)
                # The machine is shared: the load average says how quiet it was meanwhile.
                figure["load_average"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
                figure["size"] = size.name
                figure["measured_at"] = dt.datetime.now().isoformat(timespec="seconds")
            figures.update(produced)
            report.save(args.out / "results.json", results)  # what is measured is kept, whatever comes next
    results["meta"] = {
        "size": size.name, "commit": _commit(), "python": platform.python_version(), "cpus": os.cpu_count(),
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1), "rounds": size.rounds,
    }
    results["cleaned_up"] = BenchOffices.removed
    results["targets"] = report.targets(figures)
    report.save(args.out / "results.json", results)
    print(report.table(results))
    if not args.no_plots:
        from bench import plots

        written = plots.draw(results, args.out)
        print("plots: " + ", ".join(p.name for p in written))
    print(f"results: {args.out / 'results.json'}")
    for name, error in errors.items():
        print(f"figure {name} failed: {error.splitlines()[0]}", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
