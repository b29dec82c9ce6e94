"""MariaDB's CPU from the Head Office window at 5,000,000 sales: idle, and while 50 branches each send a sale a second.

    python -m bench.ho_window_cpu [--rows 5000000] [--branches 50] [--seconds 60] [--rounds 3]

A private Head Office (``bench.offices.BenchOffices``: config files naming ``--branches``
branches, database ``bs_bn<tag>_ho`` and broker names ``bs_bn<tag>.*``) is given
``--rows`` sales the way ``bench.ho_scale`` builds its database (INSERT ... SELECT,
then the daily sums).  Only the Head Office database is created: the branches are
played by this process.  Each round then measures the CPU time the MariaDB server
process (``mariadbd``/``mysqld``, utime + stime from ``/proc/<pid>/stat``) uses per
second of wall time, as a share of one core, over ``--seconds`` each:

  baseline idle   nothing of this benchmark running
  window idle     the real Head Office program (``ho_app.py``: the window with its
                  HeadOfficeService, i.e. consumer and alert monitor) on a private Xvfb
                  display, measured from SETTLE_S after it has shown its first figures
                  (rows, totals, chart, branch panel) and its consumer is online
  trading         the same window while every branch sends one sale a second (today's
                  date, a new sale number), published as that branch's changes message
                  with the product's encoding (``bench.data.encode``) onto the branch's
                  exchange, continuing the branch's registered origin and seqs

The window's share is the difference from the baseline.  Also recorded: the window
process's own CPU, the changes the Head Office applied (during the interval, and until
the last one), the load average at the end of every interval, and any test run
(``.ci/run``, pytest) seen meanwhile, which would pollute the figures.

Everything created (database, queues, exchanges, config files) is removed at the end,
also on error.  Prints a table, writes JSON to ``--out`` (default
docs/bench/ho_window_cpu.json) and a plot beside it (``.png``).

    python -m bench.ho_window_cpu --window HO_CONFIG.toml

is the window's process (not for direct use): ``ho_app.py`` with a window that prints
``figures shown`` once its first figures are on screen and its consumer is online.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from sqlalchemy import text

from bench import fig_window, ho_scale
from bench.data import OutboxRow, encode, new_origin, sale
from bench.measure import applied_so_far, metric, wait_applied
from bench.offices import REGIONS, BenchOffices
from bench.processes import CLOCK_TICKS, ROOT, Child
from models.schema import make_engine
from sync.office import init_database

SETTLE_S = 5          # after the first figures, before "idle" is measured
DRAIN_TIMEOUT_S = 120
OUT = ROOT / "docs" / "bench" / "ho_window_cpu.json"
IDLE_TARGET, TRADING_TARGET = 2.0, 20.0   # % of one core the window may add to MariaDB's CPU (issue 12)
PHASES = ("baseline idle", "window idle", "window, branches trading")


# ------------------------------------------------------------------ the window's process
def window_process(config: str) -> int:
    """``ho_app.py --config CONFIG`` with a window that says when its first figures are shown."""
    import ho_app
    from gui import head_office_window
    from sync.states import ConsumerState

    started = time.monotonic()

    class ReportingWindow(head_office_window.HeadOfficeWindow):
        """The product's window, watched: prints ``figures shown`` once, then is left alone."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.after(50, self._watch)

        def _shown(self) -> bool:
            online = getattr(self.consumer, "consumer", None)
            return (self.sales.page is not None and self.sales.totals is not None and not self.sales.updating
                    and not self.sales.page_pending and not self._summaries_pending()
                    and online is not None and online.state == ConsumerState.ONLINE)

        def _watch(self) -> None:
            if self._shown():
                print(f"figures shown after {time.monotonic() - started:.3f} s", flush=True)
            else:
                self.after(50, self._watch)

    head_office_window.HeadOfficeWindow = ReportingWindow  # run_head_office_window builds this one
    return ho_app.main(["--config", config])


# ------------------------------------------------------------------ measuring
def server_pid() -> int:
    """The MariaDB server's process id (``mariadbd``, or ``mysqld`` on older servers)."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    return int(entry.name)
            except OSError:
                continue
    raise RuntimeError("no mariadbd or mysqld process is visible in /proc")


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def others_running() -> list[str]:
    """Test runs on this machine that share the database server (they pollute the figures)."""
    seen = []
    for pattern in ("bash .ci/run", "pytest"):
        found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True).stdout.split()
        seen += [f"{pattern} ({pid})" for pid in found if int(pid) != os.getpid()]
    return seen


def interval(server: int, seconds: float, window: Child | None = None, work=None) -> dict[str, Any]:
    """MariaDB's CPU (% of one core) over ``seconds`` of sleep, or over ``work()``; with the window's own CPU."""
    before_others = others_running()
    wall, cpu = time.monotonic(), process_cpu_seconds(server)
    own = window.cpu_seconds() if window else 0.0
    if work is None:
        time.sleep(seconds)
    else:
        work()
    cpu, own = process_cpu_seconds(server) - cpu, (window.cpu_seconds() - own) if window else None
    wall = time.monotonic() - wall
    return {"mariadb_cpu_pct": 100 * cpu / wall, "window_process_cpu_pct": 100 * own / wall if window else None,
            "seconds": wall, "load_average": os.getloadavg(), "others_running": sorted(set(before_others + others_running()))}


def trading_messages(offices: BenchOffices, seconds: int) -> tuple[list[tuple[str, bytes]], int]:
    """One changes message per branch per second, round-robin, each with one new sale of today.

    Each branch keeps the origin the Head Office registered for it (a new one the first
    time) and continues from its ``last_seq``; the sale number is the seq, past every
    sale the load gave it.
    """
    with offices.engine("ho").connect() as conn:
        held = {code: (origin, int(seq)) for code, origin, seq in
                conn.execute(text("SELECT code, origin, last_seq FROM sync_branches"))}
    today = dt.date.today()
    bodies = []
    for _second in range(seconds):
        for index, code in enumerate(offices.codes):
            origin, last = held[code]
            origin = origin or new_origin()
            seq = last + 1
            held[code] = (origin, seq)
            row = OutboxRow(seq, seq, "u", **{**sale(seq, REGIONS[index % len(REGIONS)]), "sale_date": today})
            bodies.append((code, encode(code, origin, [row])))
    return bodies, len(bodies)


def publisher(offices: BenchOffices, bodies: list[tuple[str, bytes]], started: dict[str, float]):
    """Work that publishes ``bodies`` on schedule, one message per branch per second (``fig_window``'s publisher, at
    this pace), and records in ``started["at"]`` when it began."""
    def publish() -> None:
        with mock.patch.object(fig_window, "MESSAGES_PER_SECOND", len(offices.codes)):
            started["at"] = fig_window._publish_steadily(offices.prefix, bodies)

    return publish


def one_round(offices: BenchOffices, server: int, display: str, seconds: int, round_no: int) -> dict[str, Any]:
    result: dict[str, Any] = {}
    print(f"round {round_no}: baseline, idle without the window, {seconds} s", flush=True)
    result["baseline idle"] = interval(server, seconds)
    launched = time.monotonic()
    window = Child(["-m", "bench.ho_window_cpu", "--window", str(offices.paths["ho"])], "Head Office window",
                   env={"DISPLAY": display})
    try:
        window.wait_for_line("figures shown", timeout=300)
        result["launch_to_figures_s"] = time.monotonic() - launched
        time.sleep(SETTLE_S)
        print(f"round {round_no}: window idle, {seconds} s (first figures after {result['launch_to_figures_s']:.1f} s)",
              flush=True)
        result["window idle"] = interval(server, seconds, window)
        bodies, sent = trading_messages(offices, seconds)
        before, _last = applied_so_far(offices.engine("ho"))
        started: dict[str, float] = {}
        print(f"round {round_no}: window while {len(offices.codes)} branches send a sale a second, {seconds} s", flush=True)
        phase = interval(server, seconds, window, publisher(offices, bodies, started))
        during = applied_so_far(offices.engine("ho"))[0] - before
        last = wait_applied(offices.engine("ho"), before + sent, DRAIN_TIMEOUT_S, [window])
        phase.update({"sent": sent, "applied_during": during, "applied_rows_per_s_during": during / phase["seconds"],
                      "applied_rows_per_s": sent / max(last - started["at"], 1e-9),
                      "last_applied_after_s": last - started["at"]})
        result["window, branches trading"] = phase
        if not window.alive():
            raise RuntimeError(f"the window ended during the round:\n{window.tail()}")
    finally:
        window.stop()
    problems = [line for line in window.lines if "Traceback" in line or "Exception in Tkinter callback" in line]
    if problems:
        raise RuntimeError(f"the window reported errors:\n{window.tail(40)}")
    return result


# ------------------------------------------------------------------ reporting
def summarise(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    cpu = {p: metric(f"MariaDB CPU, {p}", "% of one core", [r[p]["mariadb_cpu_pct"] for r in rounds]) for p in PHASES}
    share = {p: metric(f"MariaDB CPU from the window, {p}", "% of one core",
                       [r[p]["mariadb_cpu_pct"] - r["baseline idle"]["mariadb_cpu_pct"] for r in rounds])
             for p in PHASES[1:]}
    trade = [r["window, branches trading"] for r in rounds]
    return {
        "mariadb_cpu_pct": cpu,
        "window_share_pct": share,
        "window_process_cpu_pct": {p: metric(f"the window's process, {p}", "% of one core",
                                             [r[p]["window_process_cpu_pct"] for r in rounds]) for p in PHASES[1:]},
        "launch_to_figures_s": metric("launch to first figures", "s", [r["launch_to_figures_s"] for r in rounds]),
        "applied_rows_per_s": metric("changes applied per second, until the last", "rows/s",
                                     [t["applied_rows_per_s"] for t in trade]),
        "applied_rows_per_s_during": metric("changes applied per second within the interval", "rows/s",
                                            [t["applied_rows_per_s_during"] for t in trade]),
        "sent_rows_per_s": metric("changes sent per second", "rows/s", [t["sent"] / t["seconds"] for t in trade]),
        "load_average_1min": metric("load average (1 min) at the end of each interval", "",
                                    [r[p]["load_average"][0] for r in rounds for p in PHASES]),
        "targets": {
            f"window idle under {IDLE_TARGET:g} % of a core": share["window idle"]["median"] < IDLE_TARGET,
            f"window while trading under {TRADING_TARGET:g} % of a core": share["window, branches trading"]["median"] < TRADING_TARGET,
        },
        "polluted_by": sorted({o for r in rounds for p in PHASES for o in r[p]["others_running"]}),
        "polluted_intervals": [[p for p in PHASES if r[p]["others_running"]] for r in rounds],
    }


def table(summary: dict[str, Any]) -> str:
    lines = [f"{'MariaDB CPU, % of one core':<40} {'median':>8} {'from window':>12}  runs"]
    for phase in PHASES:
        m = summary["mariadb_cpu_pct"][phase]
        diff = summary["window_share_pct"].get(phase)
        lines.append(f"{phase:<40} {m['median']:>8.2f} {diff['median'] if diff else 0:>12.2f}  "
                     f"{[round(x, 2) for x in m['runs']]}")
    for key in ("applied_rows_per_s", "sent_rows_per_s", "launch_to_figures_s", "load_average_1min"):
        m = summary[key]
        lines.append(f"{m['label']:<53} {m['median']:>8.2f}  {[round(x, 2) for x in m['runs']]}")
    lines += [f"{what}: {'met' if ok else 'MISSED'}" for what, ok in summary["targets"].items()]
    if summary["polluted_by"]:
        lines.append("polluted: test runs shared the database server: " + ", ".join(summary["polluted_by"]))
        lines += [f"  round {k}: {', '.join(p) or 'clean'}" for k, p in enumerate(summary["polluted_intervals"], 1)]
    return "\n".join(lines)


def plot(results: dict[str, Any], out: Path) -> Path:
    from bench.plots import _save, plt

    summary = results["summary"]
    items = [summary["mariadb_cpu_pct"][p] for p in PHASES]
    labels = ["baseline idle\n(no window)", "window idle", f"window, {results['branches']} branches\neach 1 sale/s"]
    medians = [m["median"] for m in items]
    spread = [[m["median"] - min(m["runs"]) for m in items], [max(m["runs"]) - m["median"] for m in items]]
    fig, ax = plt.subplots(figsize=(7.5, 4.6))
    ax.bar(labels, medians, yerr=spread, capsize=4, color=["#718096", "#2b6cb0", "#2b6cb0"])
    base = medians[0]
    for target, style, what in ((IDLE_TARGET, "--", "idle"), (TRADING_TARGET, ":", "while trading")):
        ax.axhline(base + target, color="#c05621", linestyle=style, linewidth=1.2)
        ax.annotate(f"target {what}: baseline + {target:g} %", (0.02, base + target), xycoords=("axes fraction", "data"),
                    xytext=(0, 3), textcoords="offset points", fontsize=8, color="#c05621")
    for x, value in enumerate(medians):
        ax.annotate(f"{value:.1f} %", (x, value), xytext=(6, 3), textcoords="offset points", fontsize=9)
    ax.set_ylabel("MariaDB server CPU, % of one core")
    ax.set_ylim(0, max([base + TRADING_TARGET, *[max(m["runs"]) for m in items]]) * 1.2)
    ax.set_title(f"MariaDB CPU from the Head Office window at {results['rows']:,} sales\n"
                 f"median of {results['rounds']} round{'s' if results['rounds'] > 1 else ''} of {results['seconds']} s",
                 fontsize=10)
    return _save(fig, out)


# ------------------------------------------------------------------ the run
def build(offices: BenchOffices, rows: int, branches: int) -> float:
    """The Head Office database of the config, with ``rows`` sales as ``bench.ho_scale`` loads them."""
    init_database(offices.ho)  # the product's own: schema, and the configured branches registered
    engine = make_engine(offices.ho.db_url, connect_args={"read_timeout": 3600, "write_timeout": 3600})
    try:
        return ho_scale.load(engine, rows, branches)
    finally:
        engine.dispose()


def commit() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--window"]:
        return window_process(argv[1])
    parser = argparse.ArgumentParser(prog="python -m bench.ho_window_cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--branches", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    server = server_pid()
    results: dict[str, Any] = {"rows": args.rows, "branches": args.branches, "seconds": args.seconds, "rounds": args.rounds,
                               "commit": commit(), "cores": os.cpu_count(), "server_pid": server,
                               "at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    with tempfile.TemporaryDirectory(prefix="ho_window_cpu-") as workdir:
        offices = BenchOffices(Path(workdir), args.branches)
        print(f"Head Office database {offices.prefix}_ho, broker names {offices.prefix}.*", flush=True)
        try:
            results["load_s"] = build(offices, args.rows, args.branches)
            with offices.engine("ho").connect() as conn:
                results["sales_held"] = conn.execute(text("SELECT COUNT(*) FROM sales")).scalar_one()
            print(f"{results['sales_held']:,} sales of {args.branches} branches loaded in {results['load_s']:.0f} s", flush=True)
            with fig_window.virtual_display() as display:
                results["runs"] = [one_round(offices, server, display, args.seconds, k + 1) for k in range(args.rounds)]
        finally:
            offices.cleanup()
    results["summary"] = summarise(results["runs"])
    print(table(results["summary"]), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} and {plot(results, args.out.with_suffix('.png'))}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
