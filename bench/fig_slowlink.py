"""Figure 4: draining through a slow link, and the bytes each change costs on the wire.

The benchmark starts a ``LinkProxy`` between the branch agent and the broker
(the Head Office sits beside the broker) that paces each direction to the link's
bandwidth and adds its round trip (300 ms; 50 ms at the tiny size, to stay quick).  Bytes are counted both ways, from the
agent's first connect until the last receipt is recorded, so they include AMQP
framing, confirms, receipts and heartbeats.  The naive baseline runs through the
same proxy for a fixed time.
"""
from __future__ import annotations

import logging
from pathlib import Path

from bench.data import load_backlog
from bench.fig_backlog import drain
from bench.measure import metric
from bench.naive import measure_naive
from bench.offices import BenchOffices
from bench.processes import head_office
from bench.sizes import Size
from devtools.linkproxy import LinkProxy

log = logging.getLogger("bench")
LINKS = (("1mbit", 1_000_000, "1 Mbit/s"), ("256kbit", 256_000, "256 kbit/s"))


def _url(proxy: LinkProxy) -> str:
    return f"amqp://guest:guest@127.0.0.1:{proxy.port}/%2F"


def _measure_link(offices, ho, rate: int, rtt: float, code: str, rows: int, naive_seconds: float) -> dict:
    """One round on one link: the engine's drain and the naive baseline, each with its bytes."""
    with LinkProxy(("127.0.0.1", 5672), rate_bps=rate, rtt=rtt) as proxy:
        result = drain(offices, [ho], [code], rows, amqp_url=_url(proxy))
        up, down = proxy.bytes_up, proxy.bytes_down
        # The link's use once connected: what crossed it after the agent came online (logins,
        # declares and lanes opening are before), over the time from then to the last apply.
        up_connected = proxy.bytes_up_since(result.started_at + result.connect_seconds)
        offices.reset()
        proxy.reset_counts()
        naive = measure_naive(offices, "b01", naive_seconds, amqp_url=_url(proxy))
        naive_bytes = (proxy.bytes_up + proxy.bytes_down) / max(naive["rows"], 1)
        offices.reset()
    used = (up_connected * 8 / (result.seconds - result.connect_seconds)) / rate
    if used > 1.02:  # more than the link carries: the pacing is broken, not the engine fast
        raise RuntimeError(f"the link proxy carried {used:.2f} times its rate; this measurement is wrong")
    return {
        "rows_per_s": result.rows_per_s, "rows_per_s_connected": result.rows_per_s_connected,
        "connect_seconds": result.connect_seconds, "bytes_per_row": (up + down) / rows, "up_per_row": up / rows,
        "down_per_row": down / rows, "wire_utilisation": used,
        "naive_rows_per_s": naive["rows_per_s"], "naive_bytes_per_row": naive_bytes,
    }


def run(size: Size, workdir: Path) -> dict:
    """Figure 4, keyed ``slow_link``."""
    counts = {"1mbit": size.slow_rows, "256kbit": size.slow_rows_256k}
    runs: dict[str, dict[str, list[float]]] = {key: {} for key, _rate, _label in LINKS}
    with BenchOffices(workdir, 2) as offices:
        codes = dict(zip(counts, offices.codes, strict=True))
        for key, code in codes.items():
            load_backlog(offices.engine(code), counts[key], "East")
        ho = head_office(offices.paths["ho"])
        try:
            for round_no in range(1, size.rounds + 1):
                for key, rate, label in LINKS:
                    log.info("figure 4: round %d of %d, %s with %.0f ms RTT", round_no, size.rounds, label, size.slow_rtt * 1000)
                    result = _measure_link(offices, ho, rate, size.slow_rtt, codes[key], counts[key], size.slow_naive_seconds)
                    for name, value in result.items():
                        runs[key].setdefault(name, []).append(value)
                    log.info("  %.0f rows/s, %.1f bytes/row; naive %.1f rows/s, %.0f bytes/row", result["rows_per_s"],
                             result["bytes_per_row"], result["naive_rows_per_s"], result["naive_bytes_per_row"])
        finally:
            ho.stop()
    metrics = {}
    for key, _rate, link in LINKS:
        r, label = runs[key], f"{link}, {size.slow_rtt * 1000:.0f} ms RTT"
        metrics[f"{key}_rows_per_s"] = metric(f"{label}: drain of {counts[key]:,}, from start", "rows/s", r["rows_per_s"])
        metrics[f"{key}_rows_per_s_connected"] = metric(f"{label}: the same, once connected", "rows/s", r["rows_per_s_connected"])
        metrics[f"{key}_connect_s"] = metric(f"{label}: connect and declare topology", "s", r["connect_seconds"])
        metrics[f"{key}_bytes_per_row"] = metric(f"{label}: wire bytes per row, both ways", "B/row", r["bytes_per_row"])
        metrics[f"{key}_up_per_row"] = metric(f"{label}: of which up (branch to broker)", "B/row", r["up_per_row"])
        metrics[f"{key}_utilisation"] = metric(f"{label}: upstream bandwidth used once connected", "ratio", r["wire_utilisation"])
        metrics[f"{key}_naive_rows_per_s"] = metric(f"{label}: naive", "rows/s", r["naive_rows_per_s"])
        metrics[f"{key}_naive_bytes_per_row"] = metric(f"{label}: naive wire bytes per row", "B/row", r["naive_bytes_per_row"])
    return {"slow_link": {"title": f"4. Slow links through LinkProxy ({size.slow_rtt * 1000:.0f} ms round trip)",
                          "metrics": metrics}}
