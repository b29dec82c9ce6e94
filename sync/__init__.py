"""The sync engine: capture at a branch, delivery through RabbitMQ, application at
the Head Office, receipts back.  No module here imports tkinter; a window listens
to the plain dataclasses in ``sync.events``.
"""
