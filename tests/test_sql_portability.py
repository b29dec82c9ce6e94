"""The SQL the code sends is SQL that MySQL 8 and MariaDB both accept.

No MySQL 8 server can run on this machine (docker-compose.yml has one where Docker
runs), so the statements are read instead: every statement the code issues in a
representative run (schema creation with its triggers, the clerk's window, the
agent and the consumer, dead letters, status, the manager's window), captured with
SQLAlchemy's ``before_cursor_execute``, plus the DDL and triggers of models/schema.py.
Each is refused if it uses MariaDB-only syntax.  Statements built with SQLAlchemy
constructs are also compiled as for a MySQL 8.0.36 server and read again: that is
what MySQL 8 would receive.

What MySQL 8 deprecates but accepts, and what we decided:

- ``VALUES(col)`` in ``ON DUPLICATE KEY UPDATE`` (deprecated in 8.0.20 for a row
  alias, ``... AS new ON DUPLICATE KEY UPDATE col = new.col``, which MariaDB does not
  have).  The code must not write it by hand (its source is read for it): upserts are
  SQLAlchemy's MySQL ``insert().on_duplicate_key_update(col=stmt.inserted.col)``,
  which renders ``VALUES(col)`` for MariaDB and the alias for MySQL 8.0.20 and later;
  every such construct of the code is rendered for MySQL 8 here and read.
- ``user variable := expr`` inside a statement (deprecated in 8.0.13): refused.
- Integer display widths (``INT(11)``), ``ZEROFILL``, the ``utf8``/``utf8mb3`` alias
  (deprecated in 8.0.17 / 8.0.28): refused; the tables use ``utf8mb4`` and plain types.
- ``mysql_native_password`` (deprecated in 8.0.34, off by default in 8.4): a matter of
  the server's accounts, not of statements; PyMySQL speaks caching_sha2_password.
- ``INSERT ... RETURNING``, which SQLAlchemy renders for MariaDB 10.5+ only (Alembic's
  stamp of ``sync_schema_version``): a construct's MariaDB text is what MariaDB gets;
  what MySQL 8 would get is its compiled form, which is read.
"""
from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import re
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import event
from sqlalchemy.dialects import mysql
from sqlalchemy.dialects.mysql.reserved_words import RESERVED_WORDS_MYSQL
from sqlalchemy.engine import Engine
from sqlalchemy.schema import CreateIndex, CreateTable
from sqlalchemy.sql.elements import ClauseElement, TextClause

from models import branch_sales, head_office_view, summaries
from models.capture import trigger_bodies
from models.sale import new_sale
from models.schema import bo_metadata, ho_metadata
from sync import dead_letters as dead_letter_store
from sync.dead_letters import discard as discard_dead_letter
from sync.intake import IntakeConsumer
from sync.relay import OutboxRelay
from sync.status import report
from tests.harness import (
    ROOT,
    assert_converged,
    change_qty,
    changes_body,
    dead_letter_records,
    dead_letters,
    delete_sale,
    insert_sales,
    publish_raw,
    running,
    upsert,
    wait_for,
)

# (pattern, what it is): accepted by MariaDB, refused (or deprecated) by MySQL 8.
MARIADB_ONLY = [
    (r"\bCREATE\s+OR\s+REPLACE\s+(?!VIEW\b)", "CREATE OR REPLACE (MySQL has it for views only)"),
    (r"\b(ADD|DROP|MODIFY|CHANGE)\s+(COLUMN\s+)?IF\s+(NOT\s+)?EXISTS\b", "IF [NOT] EXISTS on a column"),
    (r"\b(CREATE|DROP)\s+(UNIQUE\s+|FULLTEXT\s+|SPATIAL\s+)?INDEX\s+IF\s+(NOT\s+)?EXISTS\b", "IF [NOT] EXISTS on an index"),
    (r"\bADD\s+(UNIQUE\s+)?(INDEX|KEY|CONSTRAINT|FOREIGN\s+KEY|PRIMARY\s+KEY)\s+IF\s+NOT\s+EXISTS\b",
     "IF NOT EXISTS on a key or constraint"),
    (r"\bDROP\s+(FOREIGN\s+KEY|CONSTRAINT|PARTITION)\s+IF\s+EXISTS\b", "IF EXISTS on a key, constraint or partition"),
    (r"\bCREATE\s+(DEFINER\s*=\s*\S+\s+)?TRIGGER\s+IF\s+NOT\s+EXISTS\b", "CREATE TRIGGER IF NOT EXISTS (MySQL 8.0.29+ only)"),
    (r"\bRETURNING\b", "RETURNING"),
    (r"\b(CREATE|ALTER|DROP)\s+SEQUENCE\b|\bNEXT\s+VALUE\s+FOR\b|\b(NEXTVAL|LASTVAL|SETVAL)\s*\(", "sequences"),
    (r":=", "assignment with := inside a statement"),
    (r"\b(JSON_DETAILED|JSON_LOOSE|JSON_COMPACT|JSON_EXISTS|JSON_EQUALS|JSON_NORMALIZE|COLUMN_CREATE|COLUMN_GET|"
     r"COLUMN_ADD|COLUMN_DELETE|COLUMN_JSON|SFORMAT|NATURAL_SORT_KEY|TO_CHAR|ADD_MONTHS|CHR|NVL2?|DECODE_ORACLE|"
     r"LENGTHB|SYS_GUID|UUID_V4|UUID_V7|KDF)\s*\(", "a function MySQL does not have"),
    (r"\bROWS\s+EXAMINED\b", "LIMIT ROWS EXAMINED"),
    (r"\bSYSTEM\s+VERSIONING\b|\bFOR\s+SYSTEM_TIME\b|\bWITHOUT\s+OVERLAPS\b", "system-versioned or application-time tables"),
    (r"\bWAIT\s+\d+\b", "WAIT n (MySQL has NOWAIT only)"),
    (r"_uca1400_", "a uca1400 collation (MySQL has utf8mb4_0900_*)"),
    (r"\b(INET4|INET6|UUID)\b(?!\s*\()", "a MariaDB-only column type"),
    (r"\bCAST\s*\([^()]*\bAS\s+(VARCHAR|INT|INTEGER|BIGINT|TEXT)\b", "CAST AS a type MySQL does not cast to (CHAR, SIGNED)"),
    (r"\bENGINE\s*=\s*(?!InnoDB\b)\w+", "a storage engine other than InnoDB"),
    (r"@@(tx_isolation|tx_read_only)\b", "a variable MySQL 8 removed"),
    (r"\bSHOW\s+EXPLAIN\b|\bKILL\s+(QUERY\s+)?ID\b", "MariaDB-only administration"),
    (r"\bOFFSET\s+\S+\s+ROWS?\b|\bFETCH\s+(FIRST|NEXT)\b", "OFFSET ... FETCH (MySQL has LIMIT only)"),
    (r"\b(TINYINT|SMALLINT|MEDIUMINT|INT|INTEGER|BIGINT)\s*\(\s*\d+\s*\)|\bZEROFILL\b", "an integer display width (deprecated in MySQL 8)"),
    (r"\butf8(mb3)?(_\w+)?\b", "the utf8/utf8mb3 character set (deprecated in MySQL 8)"),
]
# Where the statement is written by hand (in the source): SQLAlchemy renders this per server.
HAND_WRITTEN = (r"\bON\s+DUPLICATE\s+KEY\s+UPDATE\b.*\bVALUES\s*\(", "VALUES() in ON DUPLICATE KEY UPDATE (deprecated in MySQL 8.0.20)")
CODE = [ROOT / "bo_app.py", ROOT / "ho_app.py", *[f for package in ("sync", "models", "config", "gui")
                                                   for f in sorted((ROOT / package).glob("*.py"))]]
_LITERALS = re.compile(r"'(?:[^'\\]|''|\\.)*'|\"(?:[^\"\\]|\"\"|\\.)*\"|--[^\n]*|/\*.*?\*/", re.S)


def problems(statement: str, hand_written: bool = False) -> list[str]:
    """What in ``statement`` MySQL 8 would refuse or deprecate (string literals and comments are not read)."""
    sql = " ".join(_LITERALS.sub("''", statement).split())
    rules = MARIADB_ONLY + ([HAND_WRITTEN] if hand_written else [])
    return [what for pattern, what in rules if re.search(pattern, sql, re.I)]


def source_strings(path: Path) -> list[str]:
    """Every string constant in a source file, f-strings' text included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def mysql8() -> mysql.dialect:
    """The MySQL dialect as SQLAlchemy sets it up for a MySQL 8.0.36 server."""
    dialect = mysql.pymysql.dialect()
    dialect.server_version_info = (8, 0, 36)
    dialect.is_mariadb = False
    dialect._requires_alias_for_on_duplicate_key = True  # what initialize() sets for 8.0.20 and later
    dialect.supports_for_update_of = True
    dialect.use_mysql_for_share = True
    return dialect


@dataclasses.dataclass(frozen=True)
class Issued:
    statement: str
    construct: ClauseElement | None  # what SQLAlchemy rendered it from, when it did (not text() or a string)


@pytest.fixture
def issued():
    """Every statement any engine sends while the test runs, from any thread."""
    seen: list[Issued] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        element = getattr(getattr(context, "compiled", None), "statement", None)
        seen.append(Issued(statement, None if element is None or isinstance(element, TextClause) else element))

    event.listen(Engine, "before_cursor_execute", record)
    yield seen
    event.remove(Engine, "before_cursor_execute", record)


def test_the_portability_rules_refuse_mariadb_only_sql_and_pass_portable_sql():
    for statement in [
        "CREATE OR REPLACE TABLE t (id INT)", "ALTER TABLE t ADD COLUMN IF NOT EXISTS c INT",
        "CREATE INDEX IF NOT EXISTS i ON t (c)", "DELETE FROM t WHERE id = 1 RETURNING id", "SELECT NEXTVAL(s)",
        "SELECT @n := @n + 1 FROM t", "SELECT JSON_DETAILED(j) FROM t", "CREATE TABLE t (a INET6)",
        "SELECT CAST(x AS VARCHAR(10))", "CREATE TABLE t (id INT) ENGINE=Aria", "SELECT * FROM t FOR UPDATE WAIT 5",
        "SELECT * FROM t OFFSET 5 ROWS FETCH NEXT 5 ROWS ONLY", "CREATE TABLE t (c VARCHAR(5)) COLLATE utf8mb4_uca1400_ai_ci",
        "CREATE TABLE t (id INT(11))",
    ]:
        assert problems(statement), statement
    assert problems("INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)", hand_written=True)
    for statement in [
        "CREATE DATABASE IF NOT EXISTS `x` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        "CREATE TABLE IF NOT EXISTS t (id BIGINT NOT NULL AUTO_INCREMENT, PRIMARY KEY (id)) ENGINE=InnoDB",
        "SELECT * FROM sales WHERE product = 'RETURNING := CREATE OR REPLACE' FOR UPDATE",
        "INSERT INTO t (a) VALUES (%(a)s) AS new ON DUPLICATE KEY UPDATE a = new.a", "SELECT CAST(x AS CHAR)",
    ]:
        assert problems(statement) == [], statement
    # Rendered by SQLAlchemy for MariaDB, VALUES() is right: MySQL 8 is given the alias instead.
    assert problems("INSERT INTO t (a) VALUES (1) ON DUPLICATE KEY UPDATE a = VALUES(a)") == []


def test_the_code_writes_no_upsert_by_hand_with_values_which_mysql_8_deprecates():
    written = {f"{path.relative_to(ROOT)}: {' '.join(text.split())[:100]}": problems(text, hand_written=True)
               for path in CODE for text in source_strings(path) if "DUPLICATE" in text.upper()}
    assert written and {where: p for where, p in written.items() if p} == {}


def test_every_upsert_construct_of_the_code_renders_the_row_alias_for_mysql_8():
    import sync.apply
    import sync.intake
    import sync.outbox

    inserts = [value for module in (sync.apply, sync.intake, sync.outbox) for value in vars(module).values()
               if isinstance(value, mysql.Insert)]
    inserts += [sync.apply.HEAD_OFFICE.upsert, sync.apply.HEAD_OFFICE.tombstone]  # built once per row shape
    upserts = [str(i.compile(dialect=mysql8())) for i in inserts if "ON DUPLICATE KEY UPDATE" in str(i.compile(dialect=mysql8()))]
    assert len(upserts) >= 3  # the Head Office's sales and daily sums, the branch's sync_state
    for as_mysql8 in upserts:
        assert " AS new ON DUPLICATE KEY UPDATE" in as_mysql8 and problems(as_mysql8, hand_written=True) == [], as_mysql8


def test_no_table_column_or_index_name_is_a_reserved_word_of_mysql_8():
    # (MariaDB's are proven by running on it; SQLAlchemy's MariaDB list also holds Oracle-mode words like BODY.)
    reserved = RESERVED_WORDS_MYSQL
    names = set()
    for metadata in (bo_metadata, ho_metadata):
        for table in metadata.tables.values():
            names |= {table.name, *table.columns.keys(), *(i.name for i in table.indexes),
                      *(c.name for c in table.constraints if c.name)}
    assert names and {n for n in names if n.lower() in reserved} == set()


def test_the_schema_ddl_and_triggers_are_portable_as_mysql_8_receives_them():
    dialect = mysql8()
    statements = [str(CreateTable(t).compile(dialect=dialect)) for m in (bo_metadata, ho_metadata) for t in m.tables.values()]
    statements += [str(CreateIndex(i).compile(dialect=dialect))
                   for m in (bo_metadata, ho_metadata) for t in m.tables.values() for i in t.indexes]
    statements += [f"CREATE TRIGGER {name} AFTER {event} ON sales FOR EACH ROW {body}"
                   for name, (event, body) in trigger_bodies().items()]
    assert any("CHECK" in s for s in statements) and any("TRIGGER" in s for s in statements)
    assert {s.split("(")[0].strip(): problems(s) for s in statements if problems(s)} == {}


def representative_run(make_offices):
    """What the offices do in a day: create schemas, clerks' edits, delivery, a poison
    message parked and handled, status, and the manager's window reading it all."""
    offices = make_offices()
    bo1 = offices.engine("bo1")
    sale = new_sale(sale_date=dt.date(2024, 3, 1), region="East", product="Paper", qty=3, cost=Decimal("12.95"),
                    tax_rate=Decimal("0.07"))
    sale_id = branch_sales.add_sale(bo1, sale)
    branch_sales.update_sale(bo1, sale_id, dataclasses.replace(sale, qty=4, amt=Decimal("51.80"), tax=Decimal("3.63"),
                                                               total=Decimal("55.43")))
    branch_sales.recent_sales(bo1, "paper east")
    branch_sales.known_names(bo1)
    for b in offices.branches:
        ids = insert_sales(offices.engine(b.code), 30, region=b.region)
        change_qty(offices.engine(b.code), ids[0], qty=9)
        delete_sale(offices.engine(b.code), ids[1])
    consumer = IntakeConsumer(offices.ho)
    with running(consumer, *[OutboxRelay(b) for b in offices.branches]):
        assert_converged(offices)
        publish_raw(offices, changes_body("bo1", "not-its-origin", [upsert(10_000, 10_000, qty=1)]))
        publish_raw(offices, b"not a message")
        letters = wait_for(lambda: len(dead_letters(offices.engine("ho"))) == 2 and dead_letters(offices.engine("ho")),
                           30, "two dead letters recorded")
        consumer.retry_dead_letter(letters[0].id)  # still another history: tried again, parked again
        discard_dead_letter(offices.engine("ho"), letters[1].id)
        wait_for(lambda: [(r.attempts, r.state) for r in dead_letter_records(offices.engine("ho"))[:2]]
                 == [(2, "parked"), (1, "discarded")], 30, "both handled")
    report(offices.branch("bo1"))
    report(offices.ho)
    ho = offices.engine("ho")
    everything, order = head_office_view.SalesFilter(), head_office_view.SortOrder()
    page = head_office_view.sales_page(ho, everything, order, head_office_view.PagePosition())
    head_office_view.sales_page(ho, head_office_view.SalesFilter(branch="bo2", region="West", date_from=dt.date(2021, 1, 1)),
                                head_office_view.SortOrder("total", descending=False),
                                head_office_view.PagePosition("after", page.rows[0].key(order)))
    head_office_view.sales_page(ho, everything, order, head_office_view.PagePosition("last"))
    head_office_view.sales_totals(ho, everything)
    head_office_view.daily_totals(ho, everything)
    summaries.sales_summary(ho, everything, (summaries.Dimension.BRANCH, summaries.Dimension.MONTH))
    head_office_view.filter_choices(ho)
    dead_letter_store.parked(ho)
    list(head_office_view.iter_filtered_rows(ho, everything, order))


def test_every_statement_the_code_issues_is_accepted_by_mysql_8_and_mariadb(issued, make_offices):
    representative_run(make_offices)
    statements = {" ".join(i.statement.split()) for i in issued}
    # The run reached every kind of statement it is meant to cover.
    for kind in ("CREATE DATABASE", "CREATE TABLE", "CREATE TRIGGER", "ON DUPLICATE KEY UPDATE", "FOR UPDATE",
                 "DELETE FROM", "UPDATE sync_outbox", "GROUP BY", "LIMIT", "sync_ledger", "sync_dead_letter_attempts"):
        assert any(kind in s for s in statements), f"the run issued no {kind} statement"
    # Text the code wrote is read as sent; a construct's is read as compiled for MySQL 8 below.
    offenders = {" ".join(i.statement.split())[:160]: problems(i.statement) for i in issued if i.construct is None}
    assert {s: p for s, p in offenders.items() if p} == {}
    dialect = mysql8()
    as_mysql8 = {str(i.construct.compile(dialect=dialect)) for i in issued if i.construct is not None}
    assert len(as_mysql8) > 10
    assert {s[:160]: problems(s, hand_written=True) for s in as_mysql8 if problems(s, hand_written=True)} == {}
