"""The office windows.  They sit on the sync engine and never reach into it.

Engine threads hand plain dataclasses (``sync.events``) to a ``queue.Queue``
that the window drains with ``after``; database calls that may block run in a
worker thread (``gui.background.run_in_thread``).  The Tk thread itself never
waits on the network.

    gui.branch_window.run_branch_window(cfg)            the clerk's window
    gui.head_office_window.run_head_office_window(cfg)  the manager's window
"""
