"""Every table of every office, in one file; the sale's columns come from ``models.shape``.

Branch Office (BO) database:
  sales         the branch's sales, written by the window, scripts or plain SQL
  sync_outbox   one row per committed change to ``sales``, written by triggers in
                the same transaction (models/capture.py); ``seq`` orders changes,
                ``state`` tracks delivery
  sync_state    small facts: this database's origin id, the last sync, what the
                Head Office last said of it, the catalogue version it holds
  sync_day_totals  the control totals of each day as last sent to the Head Office,
                and the state the Head Office last answered for that day
  catalogue_products, catalogue_prices
                the catalogue as received from the Head Office (its ids and versions)

Head Office (HO) database:
  sales                     exactly the live rows of every branch, keyed by (branch, branch_sale_id)
  sales_daily               count and sums of ``sales`` per (branch, day, region, product), kept by the
                            apply in the transaction that changes the sales (models/daily.py); the
                            window's totals, chart and subtotals read it, not ``sales``
  sales_by_branch           the same sums per branch, kept alike: what the unfiltered window shows
  sync_tombstones           the last delete seen per branch row, so old changes cannot resurrect it
  sync_ledger               a digest of every change received, per branch and seq: a second
                            history of a branch database (restored, copied) shows as a seq
                            that comes back with other contents
  sync_branches             one row per branch: progress, origin, alert, its last report, and
                            the lock that serialises applies of one branch across consumers
  sync_dead_letters         messages the Head Office could not apply, with the reason and the
                            broker-vouched sender, in fields only the Head Office writes
  sync_dead_letter_attempts every attempt at a dead letter (parked, retried, discarded)
  sync_archive              rows set aside when an operator adopted a branch's new history
  sync_day_totals           each branch-day's control totals as the branch last reported them
  sync_day_sales            a branch's per-sale hashes of a day, when the Head Office asked for them
  sync_day_requests         what the Head Office asks a branch about a day (resend it, its per-sale hashes)
  sync_alerts               every alert raised (sync/alerts.py), open while its condition lasts,
                            then cleared: the active ones and their history
  sync_alert_notices        each raise and clear owed to the webhook or e-mail, kept until sent
  catalogue_products        the products the Head Office governs: name (unique as a person reads it),
                            whether on sale, the catalogue version of its last change
  catalogue_prices          each product's effective-dated costs, history kept, each with its version
  catalogue_counter         one row: the catalogue's version, bumped by every change

Schema changes are Alembic migrations (models/migrations/); ``init-db`` creates the
newest schema and records its revision.
"""
from __future__ import annotations

import enum
import re
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    text,
)
from sqlalchemy.dialects.mysql import DATETIME, LONGBLOB, MEDIUMTEXT
from sqlalchemy.engine import URL, Engine, make_url

from models.shape import SALE_SHAPE, RowShape, text_checks_sql

TABLE_OPTS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = text("CURRENT_TIMESTAMP(6)")
TS = DATETIME(fsp=6)
LONG_BYTES = LargeBinary().with_variant(LONGBLOB(), "mysql")
LONG_TEXT = Text().with_variant(MEDIUMTEXT(), "mysql")
MONEY_SUM = Numeric(20, 2, asdecimal=True)  # a day's sum of amounts
DIGEST = Numeric(20, 0, asdecimal=True)  # a day's digest or a sale's hash: 0 <= digest < 2**64, read as Decimal


class OutboxState(enum.IntEnum):
    """Where a captured change is; it only moves forward: pending -> sent -> applied (or rejected)."""

    PENDING = 0
    SENT = 1
    APPLIED = 2
    REJECTED = 3


PENDING, SENT, APPLIED, REJECTED = OutboxState
STATE_NAMES = {s.value: s.name.lower() for s in OutboxState}


class LetterState(enum.StrEnum):
    """A dead letter's state; the attempts table keeps how it got there."""

    PARKED = "parked"
    QUEUED = "queued"          # a person asked for a retry; the consumer takes it from here
    RETRIED = "retried"        # applied after a person asked
    DISCARDED = "discarded"    # a person decided it is not to be applied
    SUPERSEDED = "superseded"  # its branch adopted a newer history


# The outcome of an attempt that parked a message for its version: a newer office wrote
# it, and the release that reads it applies it (``migrate`` queues such letters again).
UNREAD_VERSION = "version not read"


# ---------------------------------------------------------------- branch office
def branch_tables(metadata: MetaData, shape: RowShape = SALE_SHAPE) -> tuple[Table, Table, Table]:
    """sales, sync_outbox and sync_state of a branch, for ``shape``."""
    sales = Table(
        "sales", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        *shape.columns(),
        # The branch database itself refuses what the Head Office would refuse, whoever writes it.
        CheckConstraint("qty >= 1", name="sales_qty_positive"),
        CheckConstraint("cost >= 0", name="sales_cost_not_negative"),
        CheckConstraint("amt = qty * cost", name="sales_amt_is_qty_times_cost"),
        CheckConstraint("tax >= 0 AND tax <= amt", name="sales_tax_in_range"),
        CheckConstraint("total = amt + tax", name="sales_total_is_amt_plus_tax"),
        CheckConstraint("sale_date >= '1000-01-01'", name="sales_date_is_a_real_day"),
        *(CheckConstraint(sql, name=name) for name, sql in text_checks_sql(shape)),
        **TABLE_OPTS,
    )
    outbox = Table(
        "sync_outbox", metadata,
        Column("seq", BigInteger, primary_key=True, autoincrement=True),
        Column("sale_id", BigInteger, nullable=False),
        # 'u' upsert, 'd' delete, 'x' a sale removed without capture that the Head Office keeps
        Column("op", String(1), nullable=False),
        *shape.columns(nullable=True),
        Column("state", SmallInteger, nullable=False, server_default=text("0")),
        Column("captured_at", TS, nullable=False, server_default=NOW6),
        Column("sent_at", TS, nullable=True),
        Column("applied_at", TS, nullable=True),
        Column("note", String(255), nullable=True),
        Index("sync_outbox_state_seq", "state", "seq"),
        Index("sync_outbox_sale_seq", "sale_id", "seq"),
        **TABLE_OPTS,
    )
    state = Table(
        "sync_state", metadata,
        Column("name", String(64), primary_key=True),
        Column("value", String(1000), nullable=False),
        **TABLE_OPTS,
    )
    return sales, outbox, state


def day_totals_columns() -> list[Column[Any]]:
    """The control totals of a day (models/day_totals.py), as both ends keep them."""
    return [Column("sale_count", BigInteger, nullable=False), Column("qty", BigInteger, nullable=False),
            Column("amt", MONEY_SUM, nullable=False), Column("tax", MONEY_SUM, nullable=False),
            Column("total", MONEY_SUM, nullable=False), Column("digest", DIGEST, nullable=False)]


def branch_day_table(metadata: MetaData) -> Table:
    """sync_day_totals of a branch: what it last sent of each day, and what the Head Office answered."""
    return Table(
        "sync_day_totals", metadata,
        Column("sale_date", Date, primary_key=True),
        *day_totals_columns(),
        Column("in_flight", Boolean, nullable=False),  # sent while changes of the day were pending or unreceipted
        Column("sent_at", TS, nullable=False),
        Column("ho_state", String(16), nullable=True),  # the Head Office's last answer: certified, different, ...
        Column("ho_state_at", TS, nullable=True),
        **TABLE_OPTS,
    )


def branch_parked_table(metadata: MetaData) -> Table:
    """sync_parked of a branch: messages from the Head Office of a version it does not read, kept until it does.

    What decoding them again needs is kept (the content encoding, the headers as JSON,
    the body, at most the protocol's ``MAX_WIRE_BYTES``); ``models/parked.py`` writes it.
    """
    return Table(
        "sync_parked", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("received_at", TS, nullable=False, server_default=NOW6),
        Column("version", Integer, nullable=False),  # the message's protocol version
        Column("kind", String(40), nullable=True),  # its type, if it could be read
        Column("reason", String(1000), nullable=False),  # the sentence: "message version N is not supported here ..."
        Column("content_encoding", String(64), nullable=True),
        Column("headers", Text, nullable=False),  # JSON
        Column("body", LONG_BYTES, nullable=False),
        **TABLE_OPTS,
    )


bo_metadata = MetaData()
bo_sales, bo_outbox, bo_state = branch_tables(bo_metadata)
bo_day_totals = branch_day_table(bo_metadata)
bo_parked = branch_parked_table(bo_metadata)


# ---------------------------------------------------------------- the catalogue (both roles)
def catalogue_tables(metadata: MetaData, head_office: bool) -> tuple[Table, Table]:
    """catalogue_products and catalogue_prices; the Head Office numbers products, a branch keeps its ids."""
    products = Table(
        "catalogue_products", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=head_office),
        Column("name", String(100), nullable=False),
        Column("name_key", String(100), nullable=False),  # models.names.name_key: one product however spelled
        Column("active", Boolean, nullable=False),
        Column("version", BigInteger, nullable=False),  # the catalogue version of its last change
        Index("catalogue_products_name_key", "name_key", unique=head_office),
        Index("catalogue_products_version", "version"),
        **TABLE_OPTS,
    )
    prices = Table(
        "catalogue_prices", metadata,
        Column("product_id", BigInteger, primary_key=True, autoincrement=False),
        Column("effective_from", Date, primary_key=True),
        Column("cost", Numeric(10, 2, asdecimal=True), nullable=False),
        Column("version", BigInteger, nullable=False),
        CheckConstraint("cost >= 0", name="catalogue_prices_cost_not_negative"),
        Index("catalogue_prices_version", "version"),
        **TABLE_OPTS,
    )
    return products, prices


bo_catalogue_products, bo_catalogue_prices = catalogue_tables(bo_metadata, head_office=False)


# ---------------------------------------------------------------- head office
def head_office_tables(metadata: MetaData, shape: RowShape = SALE_SHAPE) -> dict[str, Table]:
    """Every Head Office table, for ``shape``, by name."""
    sales = Table(
        "sales", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("branch", String(16), nullable=False),
        Column("branch_sale_id", BigInteger, nullable=False),
        *shape.columns(),
        Column("version", BigInteger, nullable=False),  # the branch outbox seq of this state
        Column("applied_at", TS, nullable=False, server_default=NOW6),
        Index("sales_branch_row", "branch", "branch_sale_id", unique=True),
        Index("sales_date", "sale_date"),
        Index("sales_branch_date", "branch", "sale_date"),  # a branch's month, newest first: a range, no sort
        Index("sales_region", "region"),
        Index("sales_product", "product"),
        **TABLE_OPTS,
    )
    tombstones = Table(
        "sync_tombstones", metadata,
        Column("branch", String(16), primary_key=True),
        Column("branch_sale_id", BigInteger, primary_key=True, autoincrement=False),
        Column("version", BigInteger, nullable=False),
        Column("deleted_at", TS, nullable=False, server_default=NOW6),
        **TABLE_OPTS,
    )
    ledger = Table(
        "sync_ledger", metadata,
        Column("branch", String(16), primary_key=True),
        Column("seq", BigInteger, primary_key=True, autoincrement=False),
        Column("digest", BigInteger, nullable=False),  # 64 bits of blake2b over the change as decoded
        **TABLE_OPTS,
    )
    branches = Table(
        "sync_branches", metadata,
        Column("code", String(16), primary_key=True),
        Column("name", String(128), nullable=False, server_default=""),
        Column("origin", String(36), nullable=True),
        Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
        Column("changes_applied", BigInteger, nullable=False, server_default=text("0")),
        Column("last_applied_at", TS, nullable=True),
        # The highest seq the branch has reported and when it built that message (its clock, ms): shown only.
        Column("high_water", BigInteger, nullable=False, server_default=text("0")),
        Column("high_water_at_ms", BigInteger, nullable=False, server_default=text("0")),
        Column("alert", String(1000), nullable=True),
        # What the branch last reported of itself.
        Column("reported_at", TS, nullable=True),
        Column("capture_ok", Boolean, nullable=True),
        Column("capture_problem", String(1000), nullable=True),
        Column("pending_reported", BigInteger, nullable=True),
        # The branch has reported the totals of every day its changes up to this seq touched.
        Column("totals_through", BigInteger, nullable=False, server_default=text("0")),
        # Its pace sending (changes per minute it measured) and the seconds of its next sync
        # window (NULL: always connected), for the backlog alert (reports of version 3).
        Column("drain_per_minute", BigInteger, nullable=True),
        Column("window_seconds", Integer, nullable=True),
        # The branch's rows in ``sales``, kept by the apply (and adopt) in the same transaction.
        Column("sales_held", BigInteger, nullable=False, server_default=text("0")),
        # The catalogue: the version the branch last said it holds and when; what was last sent to it
        # (the version it held then, and up to which version) and when the broker confirmed that.
        Column("catalogue_held", BigInteger, nullable=True),
        Column("catalogue_heard_at", TS, nullable=True),
        Column("catalogue_sent_base", BigInteger, nullable=True),
        Column("catalogue_sent_version", BigInteger, nullable=True),
        Column("catalogue_sent_at", TS, nullable=True),
        **TABLE_OPTS,
    )
    dead_letters = Table(
        "sync_dead_letters", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("received_at", TS, nullable=False, server_default=NOW6),
        # sha256 of where it came from and its body: a message parked twice is on record once
        Column("fingerprint", String(64), nullable=False),
        # Written by the Head Office alone, from what the broker vouches for:
        Column("branch", String(64), nullable=True),          # the branch it is attributed to
        Column("publisher", String(255), nullable=True),      # the broker login that published it
        Column("queue", String(255), nullable=True),          # the queue it was taken from
        Column("claimed_branch", String(64), nullable=True),  # the branch its body names, if it could be read
        Column("reason", Text, nullable=False),
        Column("message_id", String(255), nullable=True),
        Column("properties", Text, nullable=False),  # JSON of the AMQP properties and headers, always whole
        Column("body", LONG_BYTES, nullable=False),
        Column("body_bytes", BigInteger, nullable=False, server_default=text("0")),
        Column("state", String(16), nullable=False, server_default=LetterState.PARKED.value),
        Column("attempts", Integer, nullable=False, server_default=text("1")),
        Column("resolved_at", TS, nullable=True),
        Index("sync_dead_letters_state", "state", "id"),
        Index("sync_dead_letters_fingerprint", "fingerprint", unique=True),
        Index("sync_dead_letters_branch_state", "branch", "state"),
        **TABLE_OPTS,
    )
    attempts = Table(
        "sync_dead_letter_attempts", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("dead_letter_id", BigInteger, nullable=False),
        Column("at", TS, nullable=False, server_default=NOW6),
        Column("outcome", String(32), nullable=False),
        Column("reason", LONG_TEXT, nullable=True),
        Index("sync_dead_letter_attempts_letter", "dead_letter_id", "id"),
        **TABLE_OPTS,
    )
    archive = Table(
        "sync_archive", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("archived_at", TS, nullable=False, server_default=NOW6),
        Column("branch", String(16), nullable=False),
        Column("origin", String(36), nullable=True),
        Column("branch_sale_id", BigInteger, nullable=False),
        *shape.columns(),
        Column("version", BigInteger, nullable=False),
        Column("reason", String(255), nullable=False),
        Index("sync_archive_branch", "branch", "branch_sale_id"),
        **TABLE_OPTS,
    )
    day_totals = Table(
        "sync_day_totals", metadata,
        Column("branch", String(16), primary_key=True),
        Column("sale_date", Date, primary_key=True),
        *day_totals_columns(),
        Column("in_flight", Boolean, nullable=False),  # the branch still had changes of the day pending or unreceipted
        Column("branch_at_ms", BigInteger, nullable=False),  # the branch's clock when it computed them (shown only)
        Column("reported_at", TS, nullable=False),
        Column("sales_at", TS, nullable=True),  # when the branch last sent its per-sale hashes of the day
        **TABLE_OPTS,
    )
    day_sales = Table(
        "sync_day_sales", metadata,
        Column("branch", String(16), primary_key=True),
        Column("sale_date", Date, primary_key=True),
        Column("sale_id", BigInteger, primary_key=True, autoincrement=False),
        Column("digest", DIGEST, nullable=False),
        **TABLE_OPTS,
    )
    day_requests = Table(
        "sync_day_requests", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("branch", String(16), nullable=False),
        Column("sale_date", Date, nullable=False),
        Column("kind", String(16), nullable=False),  # resend | sales
        Column("requested_at", TS, nullable=False, server_default=NOW6),
        Column("sent_at", TS, nullable=True),
        Index("sync_day_requests_sent", "sent_at", "id"),
        **TABLE_OPTS,
    )
    alerts = Table(
        "sync_alerts", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("kind", String(32), nullable=False),
        Column("branch", String(16), nullable=False, server_default=""),  # '' for the Head Office itself
        Column("sentence", String(1000), nullable=False),
        Column("raised_at", TS, nullable=False, server_default=NOW6),
        Column("cleared_at", TS, nullable=True),
        # "kind/branch" while the alert lasts, NULL once cleared: one active alert per condition,
        # whichever process raised it.
        Column("open_key", String(64), nullable=True),
        Index("sync_alerts_open", "open_key", unique=True),
        Index("sync_alerts_branch", "branch", "id"),
        **TABLE_OPTS,
    )
    notices = Table(
        "sync_alert_notices", metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("channel", String(16), nullable=False),  # 'webhook' or 'mail'
        Column("kind", String(32), nullable=False),
        Column("branch", String(16), nullable=False, server_default=""),
        Column("state", String(8), nullable=False),  # 'raised' or 'cleared'
        Column("sentence", String(1000), nullable=False),
        Column("at", TS, nullable=False),
        Column("sent_at", TS, nullable=True),  # NULL while owed
        Index("sync_alert_notices_owed", "channel", "sent_at", "id"),
        **TABLE_OPTS,
    )
    counter = Table(
        "catalogue_counter", metadata,
        Column("id", SmallInteger, primary_key=True, autoincrement=False),
        Column("version", BigInteger, nullable=False),
        **TABLE_OPTS,
    )
    products, prices = catalogue_tables(metadata, head_office=True)
    daily, by_branch = daily_table(metadata), by_branch_table(metadata)
    return {t.name: t for t in (sales, tombstones, ledger, branches, dead_letters, attempts, archive, day_totals,
                                day_sales, day_requests, alerts, notices,
                                daily, by_branch, counter, products, prices)}


# Money sums keep the sales' scale (cents) with room for a branch's years of sales in one group.
SUM_MONEY = Numeric(20, 2, asdecimal=True)


def daily_table(metadata: MetaData) -> Table:
    """sales_daily: the count and sums of the sales of one branch, day, region and product.

    A group whose sales were all deleted stays, at zero (``sales = 0``): readers skip it.
    """
    return Table(
        "sales_daily", metadata,
        Column("branch", String(16), primary_key=True),
        Column("sale_date", Date, primary_key=True),
        Column("region", String(64), primary_key=True),
        Column("product", String(64), primary_key=True),
        Column("sales", BigInteger, nullable=False),
        Column("qty", BigInteger, nullable=False),
        Column("amt", SUM_MONEY, nullable=False),
        Column("tax", SUM_MONEY, nullable=False),
        Column("total", SUM_MONEY, nullable=False),
        Index("sales_daily_date", "sale_date"),
        **TABLE_OPTS,
    )


def by_branch_table(metadata: MetaData) -> Table:
    """sales_by_branch: the count and sums of all of one branch's sales (what the unfiltered window shows)."""
    return Table(
        "sales_by_branch", metadata,
        Column("branch", String(16), primary_key=True),
        Column("sales", BigInteger, nullable=False),
        Column("qty", BigInteger, nullable=False),
        Column("amt", SUM_MONEY, nullable=False),
        Column("tax", SUM_MONEY, nullable=False),
        Column("total", SUM_MONEY, nullable=False),
        **TABLE_OPTS,
    )


ho_metadata = MetaData()
_ho = head_office_tables(ho_metadata)
ho_sales, ho_tombstones, ho_ledger, ho_branches = (_ho[n] for n in ("sales", "sync_tombstones", "sync_ledger",
                                                                     "sync_branches"))
ho_dead_letters, ho_dead_letter_attempts, ho_archive = (_ho[n] for n in ("sync_dead_letters",
                                                                          "sync_dead_letter_attempts", "sync_archive"))
ho_day_totals, ho_day_sales, ho_day_requests = (_ho[n] for n in ("sync_day_totals", "sync_day_sales",
                                                                 "sync_day_requests"))
ho_alerts, ho_alert_notices = _ho["sync_alerts"], _ho["sync_alert_notices"]
ho_daily, ho_by_branch = _ho["sales_daily"], _ho["sales_by_branch"]
ho_catalogue_counter, ho_catalogue_products, ho_catalogue_prices = (
    _ho[n] for n in ("catalogue_counter", "catalogue_products", "catalogue_prices"))

# ---------------------------------------------------------------- connecting
_DB_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")

# A database that stops answering must not hang a thread for ever: give up on a
# connect after 10 s and on a single read or write after 2 minutes (far above any
# statement this project runs), and let the caller's retry logic take over.
ENGINE_TIMEOUTS = {"connect_timeout": 10, "read_timeout": 120, "write_timeout": 120}


def make_engine(url: str | URL, **kw: Any) -> Engine:
    """An engine for an office database; connections are checked before use."""
    kw["connect_args"] = {**ENGINE_TIMEOUTS, **kw.get("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, **kw)


def create_database(url: str) -> None:
    """CREATE DATABASE IF NOT EXISTS for the database named in ``url``."""
    parsed = make_url(url)
    name = parsed.database
    if not name or not _DB_NAME.fullmatch(name):
        raise ValueError(f"database name {name!r} must be letters, digits and underscores")
    server = make_engine(URL.create(
        parsed.drivername, parsed.username, parsed.password, parsed.host, parsed.port, query=parsed.query
    ))
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    finally:
        server.dispose()
