"""Benchmarks of Branch Sync against the real MariaDB and RabbitMQ (issue 5).

``python -m bench`` runs every figure, prints a table and writes
``docs/bench/results.json`` with PNG plots beside it (see docs/PERFORMANCE.md).

  fig_backlog    figures 1-3: backlog drain, the services' ceilings, the naive baseline
  fig_slowlink   figure 4: slow links through devtools.linkproxy, bytes per row
  fig_latency    figure 5: branch commit to Head Office commit
  fig_memory     figure 6: peak RSS of bo_app.py and ho_app.py
  fig_branches   figure 7: many branches, one and two consumers
  fig_window     figure 8: the Head Office window's event-loop lag (with tkprobe)

and what they share:

  sizes          how big each figure is at --size tiny|small|full
  offices        private office configs, databases and broker names, and their cleanup
  data           synthetic sales, loading a backlog, encoding messages
  processes      Head Office consumers and branch agents as child processes
  agents         the child process that runs many relays, started on a signal
  ceilings       the bare upsert and publish measurements
  naive          the one-row-per-message baseline (sender and receiver)
  measure        knowing when a drain is over; medians and percentiles
  report, plots  the JSON, the printed and Markdown tables, the PNGs
"""
