"""Branch Office program: the sales window with its sync agent, or the agent alone.

    python bo_app.py --config config/bo1.toml              the window
    python bo_app.py --config config/bo1.toml --headless   the agent, until Ctrl-C
    python bo_app.py --config config/bo1.toml --once       send what is pending, then exit
"""
from __future__ import annotations

import argparse
import logging
import sys

from sync.office import init_or_exit, load_or_exit, run_until_signalled, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Branch Sync: a branch office.")
    parser.add_argument("--config", default="config/bo1.toml", help="the branch's .toml file")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true", help="run the sync agent without a window")
    mode.add_argument("--once", action="store_true", help="send everything pending, wait for the confirms, exit")
    parser.add_argument("--verbose", action="store_true", help="log debugging detail")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    cfg = load_or_exit(args.config, role="branch")
    init_or_exit(cfg)

    from sync.relay import OutboxRelay

    if args.once:
        import pika
        from sqlalchemy.exc import DBAPIError

        from models.schema import describe_db
        from sync.broker import LinkDown
        from sync.relay import explain

        relay = OutboxRelay(cfg)
        try:
            result = relay.run_once()
        except LinkDown as exc:
            print(f"{cfg.code}: {exc}; nothing was sent, try again later.", file=sys.stderr)
            return 3
        except (pika.exceptions.AMQPError, OSError) as exc:
            # Changes confirmed before this stay marked sent; the rest go next time.
            print(f"{cfg.code}: {explain(exc)}; try again later.", file=sys.stderr)
            return 3
        except DBAPIError as exc:
            print(f"{cfg.code}: the branch database is not answering ({describe_db(exc)}).", file=sys.stderr)
            return 4
        counts = relay.outbox.counts()
        print(f"{cfg.code}: sent {result.sent} change(s); pending {counts.pending}, sent {counts.sent}, applied {counts.applied}.")
        return 0
    if args.headless:
        relay = OutboxRelay(cfg)
        relay.start()
        logging.getLogger(f"sync.{cfg.code}").info("agent running headless; Ctrl-C stops it")
        return run_until_signalled(relay)
    from gui.branch_window import run_branch_window

    return run_branch_window(cfg)


if __name__ == "__main__":
    sys.exit(main())
