"""One module per ``python -m sync`` command: its help, its role, its arguments, and ``run``."""
