"""Head Office program: the consolidated sales window with its consumer, or the consumer alone.

    python ho_app.py --config config/ho.toml              the window
    python ho_app.py --config config/ho.toml --headless   the consumer, until Ctrl-C

Installed, the same program is ``branch-sync-head-office``, whose configuration file is
``/etc/branch-sync/head-office.toml`` unless ``--config`` names another (see ``sync.locations``).
"""
from __future__ import annotations

import argparse
import logging
import sys

from sync.locations import HEAD_OFFICE_FILE, office_file
from sync.office import load_or_exit, prepare_or_exit, run_until_signalled, setup_logging
from sync.version import __version__


def main(argv: list[str] | None = None, default_config: str = "config/ho.toml") -> int:
    parser = argparse.ArgumentParser(description="Branch Sync: the head office.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", default=default_config, help=f"the head office's .toml file (default: {default_config})")
    parser.add_argument("--headless", action="store_true", help="run the consumer without a window")
    parser.add_argument("--verbose", action="store_true", help="log debugging detail")
    args = parser.parse_args(argv)
    setup_logging(args.verbose)
    cfg = load_or_exit(args.config, role="head_office")
    tell = None
    if not args.headless:  # started from an icon, nobody reads stderr: a refusal is shown too
        from gui.refusal import tell_in_a_window

        tell = tell_in_a_window(cfg.name)
    prepare_or_exit(cfg, tell)

    from config import HeadOfficeConfig
    from sync.head_office import HeadOfficeService

    assert isinstance(cfg, HeadOfficeConfig)  # load_or_exit checked the role
    if args.headless:
        service = HeadOfficeService(cfg)
        service.start()
        logging.getLogger(f"sync.{cfg.code}").info("consumer and alerts running headless; Ctrl-C stops them")
        return run_until_signalled(service)
    from gui.head_office_window import run_head_office_window

    return run_head_office_window(cfg)


def installed_main() -> int:
    """The ``branch-sync-head-office`` command: as ``python ho_app.py``, with the installed configuration's default."""
    return main(default_config=office_file(HEAD_OFFICE_FILE))


if __name__ == "__main__":
    sys.exit(main())
