"""How big each figure is, per ``--size``.  ``full`` is what issue 5 asks for."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Size:
    """Every knob of one benchmark size; rows are outbox changes."""

    name: str
    rounds: int                    # repeats of each timed measurement (medians are quoted)
    backlog_rows: int              # figure 1-2: changes pending at each branch
    naive_seconds: float           # figure 3: how long the naive baseline runs per round
    slow_rows: int                 # figure 4: changes drained through the 1 Mbit/s link
    slow_rows_256k: int            # figure 4: changes drained through the 256 kbit/s link
    slow_naive_seconds: float      # figure 4: how long the naive baseline runs per link
    slow_rtt: float                # figure 4: the links' round trip, seconds (tiny: short, to stay quick)
    latency_seconds: float         # figure 5: how long the branches keep selling
    sales_per_second: float        # figure 5: per branch
    memory_rows: tuple[int, ...]   # figure 6: backlog sizes whose peak RSS is compared
    many_branches: int             # figure 7
    many_rows: int                 # figure 7: changes per branch
    window_seconds: float          # figure 8: how long the Head Office is loaded
    window_rows_per_second: int    # figure 8


SIZES = {
    "tiny": Size(
        name="tiny", rounds=1, backlog_rows=1_000, naive_seconds=1.0, slow_rows=300, slow_rows_256k=200,
        slow_naive_seconds=0.7, slow_rtt=0.05, latency_seconds=2.0, sales_per_second=20, memory_rows=(1_000, 2_000),
        many_branches=3, many_rows=200, window_seconds=2.0, window_rows_per_second=2_000,
    ),
    "small": Size(
        name="small", rounds=2, backlog_rows=20_000, naive_seconds=5.0, slow_rows=5_000, slow_rows_256k=2_000,
        slow_naive_seconds=6.0, slow_rtt=0.3, latency_seconds=10.0, sales_per_second=50, memory_rows=(20_000, 100_000),
        many_branches=10, many_rows=1_000, window_seconds=8.0, window_rows_per_second=10_000,
    ),
    "full": Size(
        name="full", rounds=3, backlog_rows=100_000, naive_seconds=10.0, slow_rows=30_000, slow_rows_256k=10_000,
        slow_naive_seconds=12.0, slow_rtt=0.3, latency_seconds=30.0, sales_per_second=50, memory_rows=(250_000, 1_000_000),
        many_branches=50, many_rows=2_000, window_seconds=20.0, window_rows_per_second=10_000,
    ),
}
