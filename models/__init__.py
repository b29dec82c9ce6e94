"""Data shapes shared by every office: money, the sale record and the database schemas.

Nothing in this package talks to the network or imports tkinter.
"""
