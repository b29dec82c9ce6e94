"""PNG plots of a results file (matplotlib, drawn off-screen).  Each plot shows medians,
with a bar from the lowest to the highest run where there were several."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402 - the backend must be chosen first
from matplotlib.ticker import FuncFormatter, NullFormatter  # noqa: E402

ENGINE, NAIVE, CEILING = "#2b6cb0", "#c05621", "#718096"


def _spread(m: dict) -> tuple[float, float]:
    """Distances from the median to the lowest and highest run (for error bars)."""
    return m["median"] - min(m["runs"]), max(m["runs"]) - m["median"]


def _bars(ax, items: list[tuple[str, dict, str]], unit: str, log: bool = True) -> None:
    labels = [label for label, _m, _c in items]
    medians = [m["median"] for _l, m, _c in items]
    errors = list(zip(*[_spread(m) for _l, m, _c in items], strict=True))
    ax.barh(labels, medians, xerr=errors, color=[c for _l, _m, c in items], capsize=3)
    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    ax.set_xlabel(unit)
    ax.invert_yaxis()
    for y, (_label, m, _colour) in enumerate(items):
        value = m["median"]
        ax.annotate(f"{value:,.0f}" if value >= 10 else f"{value:.1f}", (max(m["runs"]), y), xytext=(6, -3),
                    textcoords="offset points", fontsize=8)
    ax.margins(x=0.15)


def _throughput(figures: dict, out: Path) -> Path | None:
    items = []
    if "naive" in figures:
        items.append(("naive baseline", figures["naive"]["metrics"]["naive"], NAIVE))
    if "drain" in figures:
        items.append(("drain, 1 branch", figures["drain"]["metrics"]["one_branch"], ENGINE))
        items.append(("drain, 3 branches", figures["drain"]["metrics"]["three_branches"], ENGINE))
    if "many_branches" in figures:
        m = figures["many_branches"]["metrics"]
        items.append(("many branches, 1 consumer", m["one_consumer"], ENGINE))
        items.append(("many branches, 2 consumers", m["two_consumers"], ENGINE))
    if "ceilings" in figures:
        m = figures["ceilings"]["metrics"]
        items.append(("ceiling: upsert (driver)", m["upsert_driver"], CEILING))
        items.append(("ceiling: upsert (SQLAlchemy)", m["upsert_engine"], CEILING))
        if "upsert_server" in m:
            items.append(("ceiling: upsert (server alone)", m["upsert_server"], CEILING))
        items.append(("ceiling: publish + confirm", m["publish"], CEILING))
    if not items:
        return None
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(items) + 1.2))
    _bars(ax, items, "rows per second (log scale)")
    ax.set_title("Backlog drain against the services' ceilings and the naive baseline")
    return _save(fig, out / "throughput.png")


def _slow_link(figures: dict, out: Path) -> Path | None:
    if "slow_link" not in figures:
        return None
    m = figures["slow_link"]["metrics"]
    fig, (rate_ax, bytes_ax) = plt.subplots(1, 2, figsize=(11, 3.2))
    _bars(rate_ax, [
        ("1 Mbit/s: engine", m["1mbit_rows_per_s"], ENGINE), ("1 Mbit/s: naive", m["1mbit_naive_rows_per_s"], NAIVE),
        ("256 kbit/s: engine", m["256kbit_rows_per_s"], ENGINE), ("256 kbit/s: naive", m["256kbit_naive_rows_per_s"], NAIVE),
    ], "rows per second (log scale)")
    rate_ax.set_title("Drain through a 300 ms RTT link")
    _bars(bytes_ax, [
        ("1 Mbit/s: engine", m["1mbit_bytes_per_row"], ENGINE), ("1 Mbit/s: naive", m["1mbit_naive_bytes_per_row"], NAIVE),
        ("256 kbit/s: engine", m["256kbit_bytes_per_row"], ENGINE),
        ("256 kbit/s: naive", m["256kbit_naive_bytes_per_row"], NAIVE),
    ], "bytes on the wire per row, both ways (log scale)")
    bytes_ax.set_title("Bytes per row")
    return _save(fig, out / "slow_link.png")


def _latency(figures: dict, out: Path) -> Path | None:
    latency = figures.get("latency")
    if not latency or not latency.get("histogram_ms"):
        return None
    buckets = {float(k): v for k, v in latency["histogram_ms"].items()}
    width = min((b - a for a, b in zip(sorted(buckets), sorted(buckets)[1:], strict=False)), default=20.0)
    fig, ax = plt.subplots(figsize=(8, 3.2))
    ax.bar(list(buckets), list(buckets.values()), width=width, align="edge", color=ENGINE)
    for key, style in (("p50_ms", "--"), ("p99_ms", ":")):
        value = latency["metrics"][key]["median"]
        ax.axvline(value, color="black", linestyle=style, label=f"{key[:3]} {value:.0f} ms")
    ax.axvline(500, color="red", label="target p99 500 ms")
    ax.set_xlabel("branch commit to Head Office commit (ms)")
    ax.set_ylabel("sales")
    ax.set_title(latency["title"])
    ax.legend()
    return _save(fig, out / "latency.png")


def _memory(figures: dict, out: Path) -> Path | None:
    memory = figures.get("memory")
    if not memory:
        return None
    sizes = memory["sizes"]
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for key, label, colour in (("bo_rss_mb", "branch agent (bo_app.py --headless)", ENGINE),
                               ("ho_rss_mb", "Head Office consumer (ho_app.py --headless)", NAIVE)):
        ax.plot(sizes, [memory["by_size"][str(s)][key] for s in sizes], marker="o", color=colour, label=label)
    ax.axhline(150, color="red", label="target 150 MB")
    ax.set_xscale("log")
    ax.set_xticks(sizes)
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
    ax.set_ylim(bottom=0)
    ax.set_xlabel("changes pending at the start (log scale)")
    ax.set_ylabel("peak RSS (MB)")
    ax.set_title("Peak memory against backlog size")
    ax.legend(fontsize=8)
    return _save(fig, out / "memory.png")


def _window(figures: dict, out: Path) -> Path | None:
    window = figures.get("window_lag")
    if not window:
        return None
    m = window["metrics"]
    fig, ax = plt.subplots(figsize=(7, 2.4))
    _bars(ax, [("p50", m["p50_ms"], ENGINE), ("p99", m["p99_ms"], ENGINE), ("max", m["max_ms"], ENGINE)], "ms", log=False)
    ax.axvline(100, color="red", label="target p99 100 ms")
    ax.set_title(f"{window['title']}\n({window.get('window', '')})", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, out / "window_lag.png")


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def draw(results: dict, out: Path) -> list[Path]:
    """Every plot the results allow, written into ``out``; returns their paths."""
    figures = results.get("figures", {})
    drawn = [plot(figures, out) for plot in (_throughput, _slow_link, _latency, _memory, _window)]
    return [p for p in drawn if p is not None]
