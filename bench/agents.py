"""Run one ``OutboxRelay`` per branch config in this process, started on a signal.

    python -m bench.agents CONFIG.toml [CONFIG.toml ...]

Prints ``agents ready`` once every relay is built, starts them all when a line
``go`` arrives on standard input, and stops them on SIGTERM or end of input.
It is ``bo_app.py --headless`` for many branches at once, with a start gate so
that a benchmark can time the drain without timing Python's start-up.
"""
from __future__ import annotations

import logging
import signal
import sys
import threading
import time

from sync import events
from sync.office import load_or_exit, setup_logging
from sync.relay import OutboxRelay

_print_lock = threading.Lock()


def _report_online(event) -> None:
    """Say when each relay is connected, so that a benchmark can tell link set-up from transfer.

    Relay threads call this at once; one write per line under a lock keeps lines whole.
    """
    if isinstance(event, events.LinkStatus) and event.state == events.ONLINE:
        _say(f"online {event.office} {time.time():.6f}")


def _say(line: str) -> None:
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


def main(argv: list[str]) -> int:
    setup_logging()
    logging.getLogger("sync").setLevel(logging.WARNING)
    relays = [OutboxRelay(load_or_exit(path, role="branch"), on_event=_report_online) for path in argv]
    for relay in relays:
        relay.outbox.origin()  # read once now, not inside the timed drain
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    _say("agents ready")
    if sys.stdin.readline().strip() != "go":
        return 0
    for relay in relays:
        relay.start()
    _say("agents started")
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    stop.wait()
    for relay in relays:
        relay.stop(timeout=5)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
