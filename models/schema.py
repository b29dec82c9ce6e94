"""Every table of every office, and the capture triggers, in one file.

Branch Office (BO) database:
  sales         the branch's sales, written by the window, scripts or plain SQL
  sync_outbox   one row per committed change to ``sales``, written by triggers in
                the same transaction; ``seq`` orders changes, ``state`` tracks delivery
  sync_state    small facts: this database's origin id, the last successful sync

Head Office (HO) database:
  sales             exactly the live rows of every branch, keyed by (branch, branch_sale_id)
  sync_tombstones   the last delete seen per branch row, so old changes cannot resurrect it
  sync_branches     one row per branch: progress, origin, and the lock that serialises
                    applies of one branch across consumers
  sync_dead_letters messages the Head Office could not apply, with the reason
"""
from __future__ import annotations

import re
import uuid

from sqlalchemy import (
    BigInteger,
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
from sqlalchemy.dialects.mysql import DATETIME, LONGBLOB
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import DBAPIError

TABLE_OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = text("CURRENT_TIMESTAMP(6)")
TS = DATETIME(fsp=6)

# Outbox states.  A change only moves forward: pending -> sent -> applied (or rejected).
PENDING, SENT, APPLIED, REJECTED = 0, 1, 2, 3
STATE_NAMES = {PENDING: "pending", SENT: "sent", APPLIED: "applied", REJECTED: "rejected"}


def _sale_columns() -> list[Column]:
    return [
        Column("sale_date", Date, nullable=False),
        Column("region", String(64), nullable=False),
        Column("product", String(64), nullable=False),
        Column("qty", Integer, nullable=False),
        Column("cost", Numeric(10, 2, asdecimal=True), nullable=False),
        Column("amt", Numeric(12, 2, asdecimal=True), nullable=False),
        Column("tax", Numeric(12, 2, asdecimal=True), nullable=False),
        Column("total", Numeric(12, 2, asdecimal=True), nullable=False),
    ]


# ---------------------------------------------------------------- branch office
bo_metadata = MetaData()

bo_sales = Table(
    "sales",
    bo_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    *_sale_columns(),
    # The branch database itself refuses impossible rows, whoever writes them.
    CheckConstraint("qty >= 1", name="sales_qty_positive"),
    CheckConstraint("cost >= 0", name="sales_cost_not_negative"),
    CheckConstraint("amt = qty * cost", name="sales_amt_is_qty_times_cost"),
    CheckConstraint("tax >= 0 AND tax <= amt", name="sales_tax_in_range"),
    CheckConstraint("total = amt + tax", name="sales_total_is_amt_plus_tax"),
    **TABLE_OPTS,
)

bo_outbox = Table(
    "sync_outbox",
    bo_metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("sale_id", BigInteger, nullable=False),
    Column("op", String(1), nullable=False),  # 'u' upsert, 'd' delete
    *[Column(c.name, c.type, nullable=True) for c in _sale_columns()],
    Column("state", SmallInteger, nullable=False, server_default=text("0")),
    Column("captured_at", TS, nullable=False, server_default=NOW6),
    Column("sent_at", TS, nullable=True),
    Column("applied_at", TS, nullable=True),
    Column("note", String(255), nullable=True),
    Index("sync_outbox_state_seq", "state", "seq"),
    Index("sync_outbox_sale_seq", "sale_id", "seq"),
    **TABLE_OPTS,
)

bo_state = Table(
    "sync_state",
    bo_metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String(255), nullable=False),
    **TABLE_OPTS,
)

_CAPTURE_COLUMNS = "sale_id, op, sale_date, region, product, qty, cost, amt, tax, total"
_NEW_VALUES = "NEW.sale_date, NEW.region, NEW.product, NEW.qty, NEW.cost, NEW.amt, NEW.tax, NEW.total"
_NULLS = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL"

# AFTER triggers run while the row lock is held, so for any one sale the order of
# ``seq`` is the order of commits.  Across sales it is not (auto-increment values
# are handed out before commit), which is why the relay reads by state, never by
# a high-water mark.
CAPTURE_TRIGGERS = {
    "sales_capture_insert": f"""
        CREATE TRIGGER sales_capture_insert AFTER INSERT ON sales FOR EACH ROW
        INSERT INTO sync_outbox ({_CAPTURE_COLUMNS}) VALUES (NEW.id, 'u', {_NEW_VALUES})""",
    "sales_capture_update": f"""
        CREATE TRIGGER sales_capture_update AFTER UPDATE ON sales FOR EACH ROW
        BEGIN
          IF NEW.id <> OLD.id THEN
            INSERT INTO sync_outbox ({_CAPTURE_COLUMNS}) VALUES (OLD.id, 'd', {_NULLS});
          END IF;
          INSERT INTO sync_outbox ({_CAPTURE_COLUMNS}) VALUES (NEW.id, 'u', {_NEW_VALUES});
        END""",
    "sales_capture_delete": f"""
        CREATE TRIGGER sales_capture_delete AFTER DELETE ON sales FOR EACH ROW
        INSERT INTO sync_outbox ({_CAPTURE_COLUMNS}) VALUES (OLD.id, 'd', {_NULLS})""",
}

# ---------------------------------------------------------------- head office
ho_metadata = MetaData()

ho_sales = Table(
    "sales",
    ho_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("branch", String(16), nullable=False),
    Column("branch_sale_id", BigInteger, nullable=False),
    *_sale_columns(),
    Column("version", BigInteger, nullable=False),  # the branch outbox seq of this state
    Column("applied_at", TS, nullable=False, server_default=NOW6),
    Index("sales_branch_row", "branch", "branch_sale_id", unique=True),
    Index("sales_date", "sale_date"),
    Index("sales_region", "region"),
    Index("sales_product", "product"),
    **TABLE_OPTS,
)

ho_tombstones = Table(
    "sync_tombstones",
    ho_metadata,
    Column("branch", String(16), primary_key=True),
    Column("branch_sale_id", BigInteger, primary_key=True, autoincrement=False),
    Column("version", BigInteger, nullable=False),
    Column("deleted_at", TS, nullable=False, server_default=NOW6),
    **TABLE_OPTS,
)

ho_branches = Table(
    "sync_branches",
    ho_metadata,
    Column("code", String(16), primary_key=True),
    Column("name", String(128), nullable=False, server_default=""),
    Column("origin", String(36), nullable=True),
    Column("last_seq", BigInteger, nullable=False, server_default=text("0")),
    Column("changes_applied", BigInteger, nullable=False, server_default=text("0")),
    Column("last_applied_at", TS, nullable=True),
    # The highest seq the branch has reported and when it built that message (its
    # clock, ms): a later message reporting less means its sequence went backwards.
    Column("high_water", BigInteger, nullable=False, server_default=text("0")),
    Column("high_water_at_ms", BigInteger, nullable=False, server_default=text("0")),
    Column("alert", String(255), nullable=True),
    **TABLE_OPTS,
)

ho_dead_letters = Table(
    "sync_dead_letters",
    ho_metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("received_at", TS, nullable=False, server_default=NOW6),
    # sha256 of reason and body: a message dead-lettered twice is recorded once
    Column("fingerprint", String(64), nullable=False),
    Column("branch", String(64), nullable=True),
    Column("reason", Text, nullable=False),
    Column("message_id", String(255), nullable=True),
    Column("properties", Text, nullable=False),  # JSON of the AMQP properties and headers
    Column("body", LargeBinary().with_variant(LONGBLOB(), "mysql"), nullable=False),
    Column("state", String(16), nullable=False, server_default="parked"),
    Column("resolved_at", TS, nullable=True),
    Index("sync_dead_letters_state", "state", "id"),
    Index("sync_dead_letters_fingerprint", "fingerprint", unique=True),
    **TABLE_OPTS,
)

# ---------------------------------------------------------------- creation
_DB_NAME = re.compile(r"^[A-Za-z0-9_]{1,64}$")


# A database that stops answering must not hang a thread for ever: give up on a
# connect after 10 s and on a single read or write after 2 minutes (far above any
# statement this project runs), and let the caller's retry logic take over.
DB_TIMEOUTS = {"connect_timeout": 10, "read_timeout": 120, "write_timeout": 120}


def make_engine(url: str, **kw) -> Engine:
    """An engine for an office database; connections are checked before use."""
    kw["connect_args"] = {**DB_TIMEOUTS, **kw.get("connect_args", {})}
    return create_engine(url, pool_pre_ping=True, pool_recycle=3600, future=True, **kw)


def describe_db(exc: DBAPIError) -> str:
    """The server's own words for a database error, without SQLAlchemy's wrapping."""
    orig = getattr(exc, "orig", None)
    if orig is not None and getattr(orig, "args", None):
        return str(orig.args[-1])[:200]
    return str(exc).splitlines()[0][:200]


def create_database(url: str) -> None:
    """CREATE DATABASE IF NOT EXISTS for the database named in ``url``."""
    parsed = make_url(url)
    name = parsed.database
    if not name or not _DB_NAME.match(name):
        raise ValueError(f"database name {name!r} must be letters, digits and underscores")
    server = make_engine(URL.create(
        parsed.drivername, parsed.username, parsed.password, parsed.host, parsed.port, query=parsed.query
    ))
    try:
        with server.begin() as conn:
            conn.execute(text(f"CREATE DATABASE IF NOT EXISTS `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"))
    finally:
        server.dispose()


def init_branch_schema(engine: Engine) -> dict:
    """Create the branch tables and capture triggers if missing; idempotent.

    When capture is installed on a database that already holds sales, every
    existing sale is queued once (the initial load).  Returns what was done.
    """
    bo_metadata.create_all(engine)
    done = {"triggers_created": [], "initial_load": 0}
    with engine.begin() as conn:
        existing = set(
            conn.execute(
                text("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")
            ).scalars()
        )
    for name, ddl in CAPTURE_TRIGGERS.items():
        if name not in existing:
            # CREATE TRIGGER waits for open transactions on ``sales``, so after the
            # last one returns, every earlier write is committed and visible below.
            with engine.begin() as conn:
                conn.execute(text(ddl))
            done["triggers_created"].append(name)
    with engine.begin() as conn:
        installed = conn.execute(
            bo_state.select().where(bo_state.c.name == "capture_installed")
        ).first()
        if installed is None:
            done["initial_load"] = conn.execute(
                text(
                    f"INSERT INTO sync_outbox ({_CAPTURE_COLUMNS}) "
                    "SELECT s.id, 'u', s.sale_date, s.region, s.product, s.qty, s.cost, s.amt, s.tax, s.total "
                    "FROM sales s WHERE NOT EXISTS (SELECT 1 FROM sync_outbox o WHERE o.sale_id = s.id) "
                    "ORDER BY s.id"
                )
            ).rowcount
            conn.execute(bo_state.insert().values(name="capture_installed", value="1"))
        origin = conn.execute(bo_state.select().where(bo_state.c.name == "origin")).first()
        if origin is None:
            # Identifies this database's history; a re-created database gets a new one.
            conn.execute(bo_state.insert().values(name="origin", value=str(uuid.uuid4())))
    return done


def init_head_office_schema(engine: Engine, branches: dict[str, str]) -> None:
    """Create the Head Office tables if missing and register the known branches."""
    ho_metadata.create_all(engine)
    with engine.begin() as conn:
        for code, name in branches.items():
            conn.execute(
                text("INSERT INTO sync_branches (code, name) VALUES (:c, :n) ON DUPLICATE KEY UPDATE name = :n"),
                {"c": code, "n": name},
            )


__all__ = [
    "APPLIED", "PENDING", "REJECTED", "SENT", "STATE_NAMES",
    "bo_outbox", "bo_sales", "bo_state", "ho_branches", "ho_dead_letters", "ho_sales",
    "ho_tombstones", "create_database", "init_branch_schema", "init_head_office_schema",
    "describe_db", "make_engine",
]
