"""Who sent a message, as the broker vouches for it, and whom it may speak for.

Two facts come from the broker, never from the sender: the queue the message was
taken from (a branch's own intake exchange accepts only that branch's login, see
``python -m sync provision``), and ``user_id`` (RabbitMQ refuses a publish whose
user_id is not its login).  A branch may only ever write its own rows: a message
that speaks for another branch is parked, and a parked message is only ever
applied again as the sender it really came from.
"""
from __future__ import annotations

from dataclasses import dataclass

from config import HeadOfficeConfig
from sync.broker import Names


@dataclass(frozen=True)
class Sender:
    """Where a message came from: its queue, that queue's branch, and the login that published it."""

    queue: str
    queue_branch: str | None  # the branch whose own intake or held queue it is; None for the shared ones
    publisher: str | None  # user_id, vouched for by the broker; None when the sender gave none

    @property
    def is_legacy(self) -> bool:
        """Taken from the shared intake of the first release (or its dead-letter queue)."""
        return self.queue_branch is None


def sender_of(names: Names, queue: str, publisher: str | None) -> Sender:
    return Sender(queue, names.branch_of_queue(queue), publisher)


def attributed_branch(sender: Sender, cfg: HeadOfficeConfig, claimed: str | None) -> str | None:
    """The branch a message is put down to, whatever its body says.

    Its own queue's branch; on the shared queue, its login's branch when branch logins
    are required, else (every office sharing one login, in development) the branch
    its body names, as there is nothing better to go by.
    """
    if sender.queue_branch is not None:
        return sender.queue_branch
    if cfg.require_branch_login:
        return sender.publisher if sender.publisher in cfg.branches else None
    return claimed if claimed in cfg.branches else None


def impostor(sender: Sender, cfg: HeadOfficeConfig, claimed: str) -> str | None:
    """Why a message may not speak for branch ``claimed``, or None when it may."""
    if sender.queue_branch is not None and sender.queue_branch != claimed:
        return (f"message speaks for branch {claimed} but came through branch {sender.queue_branch}'s own queue "
                f"(published by broker user {sender.publisher!r}); a branch may only send its own changes")
    if cfg.require_branch_login and sender.publisher != claimed:
        return (f"message speaks for branch {claimed} but was published by broker user {sender.publisher!r}; "
                "a branch may only send its own changes")
    return None
