"""The states the engine's threads report, as enums (their values are what logs print)."""
from __future__ import annotations

import enum


class LinkState(enum.StrEnum):
    """A branch agent's link to the broker."""

    ONLINE = "online"
    OFFLINE = "offline"
    CONNECTING = "connecting"
    OUTSIDE_WINDOW = "outside window"
    STOPPED = "stopped"


class ConsumerState(enum.StrEnum):
    """The Head Office consumer."""

    ONLINE = "online"
    OFFLINE = "offline"
    WAITING_FOR_DATABASE = "waiting for database"
    STOPPED = "stopped"
