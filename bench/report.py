"""The results file, the targets of issue 5 checked against it, and the printed table.

    python -m bench.report [docs/bench/results.json]   the same tables in Markdown, for docs/PERFORMANCE.md
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

FIGURE_ORDER = ("drain", "ceilings", "naive", "slow_link", "latency", "memory", "many_branches", "window_lag",
                "catalogue")
FLAT_RATIO = 1.10  # "flat in the backlog's size": at most 10% more at the larger backlog


def load(path: Path) -> dict:
    """An earlier results file, or an empty one."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def save(path: Path, results: dict) -> None:
    path.write_text(json.dumps(results, indent=1, sort_keys=False) + "\n", encoding="utf-8")


def _median(figures: dict, figure: str, key: str) -> float | None:
    try:
        return figures[figure]["metrics"][key]["median"]
    except KeyError:
        return None


def _largest(figures: dict, prefix: str) -> float | None:
    memory = figures.get("memory")
    if not memory:
        return None
    return memory["metrics"][f"{prefix}_{max(memory['sizes'])}"]["median"]


def targets(figures: dict) -> list[dict]:
    """Each target of issue 5 with the measured median and whether it is met (None: not measured)."""
    rows = [
        ("drain / bare upsert ceiling", ">=", 0.5, "ratio", _median(figures, "ceilings", "drain_vs_upsert")),
        ("drain / naive baseline", ">=", 30, "ratio", _median(figures, "naive", "drain_vs_naive")),
        ("wire bytes per row, compression on (1 Mbit/s link)", "<=", 60, "B/row", _median(figures, "slow_link", "1mbit_bytes_per_row")),
        ("drain through the 1 Mbit/s link (300 ms RTT in full)", ">=", 1500, "rows/s", _median(figures, "slow_link", "1mbit_rows_per_s")),
        ("upstream bandwidth used on the 1 Mbit/s link", ">=", 0.8, "ratio", _median(figures, "slow_link", "1mbit_utilisation")),
        ("online latency p99", "<=", 500, "ms", _median(figures, "latency", "p99_ms")),
        ("branch agent peak RSS at the largest backlog", "<=", 150, "MB", _largest(figures, "bo_rss")),
        ("Head Office consumer peak RSS at the largest backlog", "<=", 150, "MB", _largest(figures, "ho_rss")),
        ("branch agent RSS growth between backlog sizes", "<=", FLAT_RATIO, "ratio", _median(figures, "memory", "bo_growth")),
        ("Head Office RSS growth between backlog sizes", "<=", FLAT_RATIO, "ratio", _median(figures, "memory", "ho_growth")),
        ("Head Office window event-loop lag p99", "<=", 100, "ms", _median(figures, "window_lag", "p99_ms")),
    ]
    checked = []
    for name, op, bound, unit, value in rows:
        met = None if value is None or math.isnan(value) else (value >= bound if op == ">=" else value <= bound)
        checked.append({"target": name, "bound": f"{op} {bound:g}", "unit": unit, "measured": value, "met": met})
    if "many_branches" in figures:
        consistent = figures["many_branches"].get("consistent")
        checked.append({"target": "several consumers keep exactly one row per change, no dead letter", "bound": "== yes",
                        "unit": "", "measured": consistent, "met": consistent})
    return checked


def fmt(value, unit: str) -> str:
    """A number as the table shows it."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if unit == "ratio":
        if abs(value) < 0.1:
            return f"{value:.4f}"
        return f"{value:.2f}" if abs(value) < 10 else f"{value:,.0f}"
    if unit in ("B/row", "ms", "us/row", "s") and abs(value) < 100:
        return f"{value:.1f}"
    return f"{value:,.0f}"


def table(results: dict) -> str:
    """The figures and the targets as plain text: medians, with every run beside them."""
    figures = results.get("figures", {})
    meta = results.get("meta", {})
    lines = [f"Branch Sync benchmark, size {meta.get('size')}, {meta.get('rounds')} round(s), commit {meta.get('commit')}, "
             f"{meta.get('cpus')} CPUs, {meta.get('seconds')} s", ""]
    for key in FIGURE_ORDER:
        figure = figures.get(key)
        if not figure:
            continue
        lines.append(figure["title"])
        for m in figure["metrics"].values():
            runs = ", ".join(fmt(r, m["unit"]) for r in m["runs"])
            lines.append(f"  {m['label']:<58} {fmt(m['median'], m['unit']):>12} {m['unit']:<7} [{runs}]")
        lines.append("")
    lines.append("Targets of issue 5 (medians)")
    for t in results.get("targets", []):
        verdict = {True: "met", False: "MISSED", None: "not run"}[t["met"]]
        lines.append(f"  {t['target']:<58} {fmt(t['measured'], t['unit']):>12} {t['unit']:<7} {t['bound']:<9} {verdict}")
    return "\n".join(lines)


def markdown(results: dict) -> str:
    """The figures and the targets as Markdown tables (medians; every run in brackets)."""
    figures = results.get("figures", {})
    lines = ["| Figure | Measure | Median | Runs |", "| --- | --- | ---: | --- |"]
    for key in FIGURE_ORDER:
        figure = figures.get(key)
        if not figure:
            continue
        number = figure["title"].split(".", 1)[0]
        for m in figure["metrics"].values():
            runs = ", ".join(fmt(r, m["unit"]) for r in m["runs"])
            lines.append(f"| {number} | {m['label']} | {fmt(m['median'], m['unit'])} {m['unit']} | {runs} |")
    lines += ["", "| Target | Bound | Measured (median) | Verdict |", "| --- | --- | ---: | --- |"]
    for t in results.get("targets", []):
        verdict = {True: "met", False: "**missed**", None: "not run"}[t["met"]]
        lines.append(f"| {t['target']} | {t['bound']} {t['unit']} | {fmt(t['measured'], t['unit'])} | {verdict} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(load(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/bench/results.json"))))
