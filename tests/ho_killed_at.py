"""The Head Office's consumer (``ho_app.py --headless``) that kill -9s itself at one precise moment of sending
the catalogue down to the branches.  Test-only (tests/test_catalogue_kills.py): production code has no fault
hook; this process wraps, in itself only, the function that reaches the moment.

    python tests/ho_killed_at.py --config HO.toml --at MOMENT --mark FILE

MOMENT is one of:
  between-bodies         the broker confirmed the first catalogue body of a check; the next is not published
                         (the rest of a snapshot in parts, or the other branches' messages)
  published-unconfirmed  a catalogue body is published and the broker's confirm has reached the process,
                         which has not read it: for the Head Office the body is unconfirmed
  confirmed-unrecorded   the broker confirmed catalogue bodies; the Head Office has not recorded them sent
                         (``catalogue_feed.mark_sent`` is called with them)

Just before the kill, FILE gets one line: the moment and what it was about.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import pika  # noqa: E402
from pika.adapters.blocking_connection import BlockingChannel, _CallbackResult  # noqa: E402

from sync import catalogue_feed  # noqa: E402
from sync.protocol.catalogue import CATALOGUE  # noqa: E402


def die(mark: Path, line: str) -> None:
    """Say where, then SIGKILL this process (no handler, no cleanup: as a power cut or the OOM killer)."""
    with mark.open("w", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.kill(os.getpid(), signal.SIGKILL)


def _is_catalogue(properties: Any) -> bool:
    return properties is not None and properties.type == CATALOGUE


def between_bodies(mark: Path) -> None:
    publish = BlockingChannel.basic_publish

    def basic_publish(self: BlockingChannel, exchange: str, routing_key: str, body: bytes, properties: Any = None,
                      mandatory: bool = False) -> None:
        publish(self, exchange, routing_key, body, properties, mandatory)  # returns once the broker confirmed it
        if _is_catalogue(properties):
            die(mark, f"between-bodies {properties.message_id}")

    BlockingChannel.basic_publish = basic_publish  # type: ignore[method-assign]


def published_unconfirmed(mark: Path) -> None:
    publish, settle = BlockingChannel.basic_publish, _CallbackResult.set_value_once
    publishing: list[str] = []  # the catalogue body being published, while its confirm is awaited

    def basic_publish(self: BlockingChannel, exchange: str, routing_key: str, body: bytes, properties: Any = None,
                      mandatory: bool = False) -> None:
        if _is_catalogue(properties):
            publishing.append(properties.message_id)
        try:
            publish(self, exchange, routing_key, body, properties, mandatory)
        finally:
            publishing.clear()

    def set_value_once(self: _CallbackResult, *args: Any, **kwargs: Any) -> None:
        # The channel hands the broker's Basic.Ack frame here; basic_publish returns only after this.
        if publishing and args and isinstance(getattr(args[0], "method", None), pika.spec.Basic.Ack):
            die(mark, f"published-unconfirmed {publishing[0]}")
        settle(self, *args, **kwargs)

    BlockingChannel.basic_publish = basic_publish  # type: ignore[method-assign]
    _CallbackResult.set_value_once = set_value_once  # type: ignore[method-assign]


def confirmed_unrecorded(mark: Path) -> None:
    record = catalogue_feed.mark_sent

    def mark_sent(conn: Any, sent: list[tuple[str, int, int]]) -> None:
        if sent:
            die(mark, f"confirmed-unrecorded {sorted(sent)}")
        record(conn, sent)

    catalogue_feed.mark_sent = mark_sent


MOMENTS: dict[str, Callable[[Path], None]] = {
    "between-bodies": between_bodies, "published-unconfirmed": published_unconfirmed,
    "confirmed-unrecorded": confirmed_unrecorded,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--at", choices=sorted(MOMENTS), required=True)
    parser.add_argument("--mark", type=Path, required=True)
    args = parser.parse_args()
    MOMENTS[args.at](args.mark)  # before the consumer connects: its channels take the wrapped methods
    import ho_app

    return ho_app.main(["--config", args.config, "--headless"])


if __name__ == "__main__":
    sys.exit(main())
