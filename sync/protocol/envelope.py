"""What travels around a body: the AMQP properties and headers of every message.

They are built and read here and nowhere else.  Two facts in them are the
broker's, never the sender's: ``user_id`` (RabbitMQ refuses a publish whose
user_id is not its login) and the first ``x-death`` entry of a message the broker
dead-lettered.  Every other header is the sender's word and is never taken as
the Head Office's.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

import pika

from sync.protocol.catalogue import CATALOGUE, CATALOGUE_STATE, CATALOGUE_VERSION
from sync.protocol.control import RECEIPT, SYNC_REQUEST
from sync.protocol.messages import CHANGES, CHANGES_VERSION, CONTENT_ENCODING, CONTENT_TYPE, REPORT, VERSION, _is_int

APP_ID = "branch-sync"
VERSION_HEADER = "x-sync-version"
BRANCH_HEADER = "x-sync-branch"
ACCEPTS_HEADER = "x-sync-accepts"  # the newest version the sender reads (receipts are written in it)
# What a Head Office reads beyond its version, said on its receipts (a reader of an older release ignores
# the header): a branch sends day-close messages only to a Head Office that says "day-close".
FEATURES_HEADER = "x-sync-features"
DAY_CLOSE_FEATURE = "day-close"
# The catalogue version the Head Office holds, said on its receipts and catalogue messages (a branch of an older
# release ignores it, and a Head Office of the previous release never says it): ``--once`` waits for that version.
CATALOGUE_HEADER = "x-sync-catalogue"
SYNC_REQUEST_TTL_MS = "60000"  # a request nobody takes within a minute is stale
RECORD_LIMIT = 16_000  # characters of properties kept with a dead letter, as valid JSON


def changes_properties(branch: str, origin: str, seqs: list[int], user: str | None) -> pika.BasicProperties:
    """A branch's changes: persistent, signed with its login (RabbitMQ checks user_id)."""
    return _from_branch(CHANGES, CHANGES_VERSION, branch, f"{branch}/{origin}/{seqs[0]}-{seqs[-1]}", user)


def report_properties(branch: str, origin: str, at_ms: int, user: str | None, version: int = VERSION) -> pika.BasicProperties:
    return _from_branch(REPORT, version, branch, f"{branch}/{origin}/report/{at_ms}", user)


def day_properties(kind: str, branch: str, message_id: str, user: str | None) -> pika.BasicProperties:
    """A branch's day-close message (sync/protocol/days.py): persistent, signed with its login."""
    return _from_branch(kind, VERSION, branch, message_id, user)


def day_request_properties(kind: str) -> pika.BasicProperties:
    """The Head Office's day-close message to a branch: persistent (a branch offline reads it later)."""
    return pika.BasicProperties(content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING,
                                delivery_mode=pika.DeliveryMode.Persistent, type=kind, app_id=APP_ID,
                                headers={VERSION_HEADER: VERSION})


def _from_branch(kind: str, version: int, branch: str, message_id: str, user: str | None) -> pika.BasicProperties:
    return pika.BasicProperties(
        content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING, delivery_mode=pika.DeliveryMode.Persistent,
        type=kind, app_id=APP_ID, message_id=message_id, timestamp=int(time.time()), user_id=user,
        headers={VERSION_HEADER: version, BRANCH_HEADER: branch, ACCEPTS_HEADER: VERSION},
    )


def catalogue_state_properties(branch: str, origin: str, version: int, user: str | None) -> pika.BasicProperties:
    """What catalogue version a branch holds (sent with its other messages, to its own exchange)."""
    return _from_branch(CATALOGUE_STATE, CATALOGUE_VERSION, branch, f"{branch}/{origin}/catalogue/{version}", user)


def catalogue_properties(branch: str, version: int, part: int) -> pika.BasicProperties:
    """The Head Office's catalogue for a branch: persistent, on the branch's own queue."""
    return pika.BasicProperties(content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING,
                                delivery_mode=pika.DeliveryMode.Persistent, type=CATALOGUE, app_id=APP_ID,
                                message_id=f"catalogue/{branch}/{version}/{part}", timestamp=int(time.time()),
                                headers={VERSION_HEADER: CATALOGUE_VERSION, CATALOGUE_HEADER: version})


def receipt_properties(version: int, catalogue: int | None = None) -> pika.BasicProperties:
    """A receipt in ``version``, saying what the Head Office reads and the catalogue version it holds."""
    headers: dict[str, Any] = {VERSION_HEADER: version, FEATURES_HEADER: DAY_CLOSE_FEATURE}
    if catalogue is not None:
        headers[CATALOGUE_HEADER] = catalogue
    return pika.BasicProperties(content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING,
                                delivery_mode=pika.DeliveryMode.Persistent, type=RECEIPT, app_id=APP_ID,
                                headers=headers)


def sync_request_properties() -> pika.BasicProperties:
    return pika.BasicProperties(content_type=CONTENT_TYPE, content_encoding=CONTENT_ENCODING, type=SYNC_REQUEST,
                                app_id=APP_ID, expiration=SYNC_REQUEST_TTL_MS, headers={VERSION_HEADER: 1})


@dataclass(frozen=True)
class Envelope:
    """The facts of a delivery's properties a reader uses, of the right types whatever was sent."""

    content_encoding: str | None
    message_id: str | None
    publisher: str | None  # user_id: vouched for by the broker
    accepts: int  # the newest protocol version the sender reads
    death: BrokerDeath | None  # set when the broker itself dead-lettered the message
    features: tuple[str, ...] = ()  # what the sender says it reads beyond its version (FEATURES_HEADER)
    catalogue: int | None = None  # the catalogue version the Head Office says it holds (CATALOGUE_HEADER)


@dataclass(frozen=True)
class BrokerDeath:
    """Why the broker dead-lettered a message: from the newest x-death entry, which it wrote."""

    queue: str
    reason: str
    count: int

    def sentence(self) -> str:
        words = {"expired": "its time to live ran out", "delivery_limit": "it failed too many deliveries",
                 "rejected": "a reader refused it", "maxlen": "its queue was full"}.get(self.reason, self.reason)
        return f"the broker dead-lettered it from queue {self.queue} ({self.reason}: {words}, {self.count} time(s))"


def read_envelope(properties: pika.BasicProperties) -> Envelope:
    headers = properties.headers if isinstance(properties.headers, dict) else {}
    accepts, catalogue = headers.get(ACCEPTS_HEADER), headers.get(CATALOGUE_HEADER)
    return Envelope(
        content_encoding=_text_or_none(properties.content_encoding),
        message_id=_text_or_none(properties.message_id),
        publisher=_text_or_none(properties.user_id),
        accepts=accepts if _is_int(accepts, 1, 1000) else 1,
        death=_death(headers.get("x-death")),
        features=_features(headers.get(FEATURES_HEADER)),
        catalogue=catalogue if _is_int(catalogue, 0) else None,
    )


def _features(value: Any) -> tuple[str, ...]:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return tuple(f.strip() for f in text[:200].split(",") if f.strip()) if isinstance(text, str) else ()


def _death(deaths: Any) -> BrokerDeath | None:
    if not isinstance(deaths, list) or not deaths or not isinstance(deaths[0], dict):
        return None
    first = deaths[0]  # RabbitMQ puts the newest dead-lettering first; a sender's fakes come after it
    count = first.get("count")
    return BrokerDeath(_text(first.get("queue")), _text(first.get("reason")), count if isinstance(count, int) else 1)


def record_of(properties: pika.BasicProperties) -> str:
    """The properties as JSON for the record: always valid JSON, at most RECORD_LIMIT characters."""
    record = {name: _plain(getattr(properties, name, None)) for name in (
        "content_type", "content_encoding", "type", "message_id", "user_id", "app_id", "expiration", "timestamp")}
    record["headers"] = _plain(properties.headers or {})
    text = json.dumps(record, ensure_ascii=False)
    if len(text) > RECORD_LIMIT:
        record["headers"] = f"({len(json.dumps(record['headers']))} characters of headers, not kept)"
        text = json.dumps(record, ensure_ascii=False)
    return text


def headers_record(properties: pika.BasicProperties) -> str:
    """A delivery's headers as JSON, kept with a message parked at a branch: at most RECORD_LIMIT characters."""
    text = json.dumps(_plain(properties.headers or {}), ensure_ascii=False)
    return text if len(text) <= RECORD_LIMIT else "{}"


def kept_properties(content_encoding: str | None, headers: str) -> pika.BasicProperties:
    """The properties a kept message is read again with (``headers_record``'s JSON; anything else is no headers)."""
    try:
        kept = json.loads(headers)
    except ValueError:
        kept = {}
    return pika.BasicProperties(content_encoding=content_encoding, headers=kept if isinstance(kept, dict) else {})


def _plain(value: Any, depth: int = 0) -> Any:
    if depth > 8:
        return "…"
    if isinstance(value, dict):
        return {_text(k)[:200]: _plain(v, depth + 1) for k, v in list(value.items())[:100]}
    if isinstance(value, (list, tuple)):
        return [_plain(v, depth + 1) for v in value[:100]]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return _text(value)[:2000]


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _text_or_none(value: Any) -> str | None:
    return None if value is None else _text(value)[:255]
