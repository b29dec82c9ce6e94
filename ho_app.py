"""Head Office program: the consolidated sales window with its consumer, or the consumer alone.

    python ho_app.py --config config/ho.toml              the window
    python ho_app.py --config config/ho.toml --headless   the consumer, until Ctrl-C
"""
from __future__ import annotations

import argparse
import logging
import sys

from sync.office import load_or_exit, prepare_or_exit, run_until_signalled, setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Branch Sync: the head office.")
    parser.add_argument("--config", default="config/ho.toml", help="the head office's .toml file")
    parser.add_argument("--headless", action="store_true", help="run the consumer without a window")
    parser.add_argument("--verbose", action="store_true", help="log debugging detail")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    cfg = load_or_exit(args.config, role="head_office")
    prepare_or_exit(cfg)

    from sync.intake import IntakeConsumer

    if args.headless:
        consumer = IntakeConsumer(cfg)
        consumer.start()
        logging.getLogger(f"sync.{cfg.code}").info("consumer running headless; Ctrl-C stops it")
        return run_until_signalled(consumer)
    from gui.head_office_window import run_head_office_window

    return run_head_office_window(cfg)


if __name__ == "__main__":
    sys.exit(main())
