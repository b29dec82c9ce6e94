"""Change capture at a branch: the triggers on ``sales``, their check, and their repair.

Three AFTER triggers copy every committed change of the live ``sales`` table into
``sync_outbox`` in the same transaction, whoever writes it.  They are created under
a strict sql_mode (stored with them), so a zero date cannot slip into the outbox,
and the insert trigger refuses a sale number the outbox says belongs to a sale
that still exists at the Head Office (the counter restarted after a TRUNCATE or a
table swap): a reused number would overwrite an older sale there.

``check_capture`` finds what can break capture silently: a trigger missing, on
another table (a year-end ``RENAME TABLE``), or with another definition; sales
whose latest captured change is not what the table holds (written while capture
was off); sales the outbox says exist but the table lacks (removed without
capture); a counter that would hand out used numbers.  ``repair_capture`` (run by
``init-db``) mends each, and says what it did.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from models.rows import tuples
from models.shape import SALE_SHAPE, RowShape

STRICT_MODE = "STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION"
REUSE_REFUSED = "was used by an earlier sale"  # in the trigger's SIGNAL text; the window looks for the error code


def trigger_bodies(shape: RowShape = SALE_SHAPE) -> dict[str, tuple[str, str]]:
    """name -> (event, body) of the three capture triggers for ``shape``."""
    columns = f"sale_id, op, {shape.column_list()}"
    new, nulls = shape.column_list("NEW."), shape.nulls()
    guard = (
        "IF (SELECT o.op FROM sync_outbox o WHERE o.sale_id = NEW.id ORDER BY o.seq DESC LIMIT 1) IN ('u', 'x') THEN "
        f"SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'This sale number {REUSE_REFUSED} that the Head Office still "
        "holds (the sales table was emptied or swapped); run init-db, which moves numbering on'; END IF;"
    )
    return {
        "sales_capture_insert": ("INSERT", f"BEGIN {guard} "
                                           f"INSERT INTO sync_outbox ({columns}) VALUES (NEW.id, 'u', {new}); END"),
        "sales_capture_update": ("UPDATE", "BEGIN IF NEW.id <> OLD.id THEN "
                                           f"{guard} INSERT INTO sync_outbox ({columns}) VALUES (OLD.id, 'd', {nulls}); "
                                           f"END IF; INSERT INTO sync_outbox ({columns}) VALUES (NEW.id, 'u', {new}); END"),
        "sales_capture_delete": ("DELETE", f"INSERT INTO sync_outbox ({columns}) VALUES (OLD.id, 'd', {nulls})"),
    }


def _normal(sql: str) -> str:
    return re.sub(r"\s+", " ", sql).strip().rstrip(";").lower()


class Problem(enum.Enum):
    TRIGGER_MISSING = "trigger missing"
    TRIGGER_ELSEWHERE = "trigger on another table"
    TRIGGER_ALTERED = "trigger altered"
    UNCAPTURED = "sales not captured"
    VANISHED = "sales removed without capture"
    NUMBERING = "numbering would reuse"


@dataclass(frozen=True)
class CaptureHealth:
    """What ``check_capture`` found; ``ok`` when every change of ``sales`` reaches the outbox."""

    problems: tuple[tuple[Problem, str], ...] = ()
    uncaptured: int = 0
    vanished: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def sentence(self) -> str | None:
        """The problems in words, or None when capture works."""
        if self.ok:
            return None
        return "Change capture is broken: " + "; ".join(words for _kind, words in self.problems) + \
            ". Run `python -m sync init-db` for this branch to repair it (see docs/OPERATIONS.md)."

    def has(self, kind: Problem) -> bool:
        return any(k is kind for k, _ in self.problems)


def _triggers(conn: Connection) -> dict[str, tuple[str, str, str, str]]:
    rows = tuples(conn.execute(text(
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_STATEMENT "
        "FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = DATABASE()")))
    return {name: (table, timing, event, body) for name, table, timing, event, body in rows}


def _latest_changes(shape: RowShape) -> str:
    """SQL for each sale id's newest outbox row (loose index scan on sale_id, seq)."""
    return ("(SELECT o.* FROM sync_outbox o JOIN (SELECT sale_id, MAX(seq) AS seq FROM sync_outbox GROUP BY sale_id) m "
            "ON o.seq = m.seq)")


def uncaptured_condition(shape: RowShape = SALE_SHAPE) -> str:
    """SQL over ``sales s`` LEFT JOIN latest ``l``: the sale is not what its newest captured change says."""
    return f"(l.seq IS NULL OR l.op <> 'u' OR NOT ({shape.same_values('l', 's')}))"


def count_uncaptured(conn: Connection, shape: RowShape = SALE_SHAPE) -> int:
    return int(conn.execute(text(
        f"SELECT COUNT(*) FROM sales s LEFT JOIN {_latest_changes(shape)} l ON l.sale_id = s.id "
        f"WHERE {uncaptured_condition(shape)}")).scalar_one())


def count_vanished(conn: Connection, shape: RowShape = SALE_SHAPE) -> int:
    return int(conn.execute(text(
        f"SELECT COUNT(*) FROM {_latest_changes(shape)} l LEFT JOIN sales s ON s.id = l.sale_id "
        "WHERE l.op = 'u' AND s.id IS NULL")).scalar_one())


def _highest_number(conn: Connection) -> int:
    return int(conn.execute(text(
        "SELECT GREATEST(COALESCE((SELECT MAX(sale_id) FROM sync_outbox), 0), COALESCE((SELECT MAX(id) FROM sales), 0))"
    )).scalar_one())


def _next_number(conn: Connection) -> int | None:
    """The sales table's next auto-increment value, as the server says it now."""
    if not getattr(conn.dialect, "is_mariadb", False):  # MySQL 8 caches these figures for a day unless told not to
        conn.execute(text("SET SESSION information_schema_stats_expiry = 0"))
    following = conn.execute(text("SELECT AUTO_INCREMENT FROM information_schema.TABLES "
                                  "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'sales'")).scalar()
    return None if following is None else int(following)


def check_capture(engine: Engine, shape: RowShape = SALE_SHAPE) -> CaptureHealth:
    """Whether every change to ``sales`` is captured, read in one consistent snapshot."""
    problems: list[tuple[Problem, str]] = []
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
        with conn.begin():
            found = _triggers(conn)
            for name, (event, body) in trigger_bodies(shape).items():
                if name not in found:
                    problems.append((Problem.TRIGGER_MISSING, f"trigger {name} is not installed"))
                    continue
                table, timing, actual_event, actual = found[name]
                if table != "sales":
                    problems.append((Problem.TRIGGER_ELSEWHERE, f"trigger {name} is on table {table}, not installed on the "
                                                                "live sales table (was the table renamed or swapped?)"))
                elif timing != "AFTER" or actual_event != event or _normal(actual) != _normal(body):
                    problems.append((Problem.TRIGGER_ALTERED, f"trigger {name} has another definition than Branch Sync's"))
            uncaptured = count_uncaptured(conn, shape)
            vanished = count_vanished(conn, shape)
            highest, following = _highest_number(conn), _next_number(conn)
    if uncaptured:
        problems.append((Problem.UNCAPTURED, f"{uncaptured} sale(s) were written while capture was off and are not queued"))
    if vanished:
        problems.append((Problem.VANISHED, f"{vanished} sale(s) the Head Office holds were removed without capture "
                                           "(TRUNCATE, a table swap, or capture off)"))
    if following is not None and following <= highest:
        problems.append((Problem.NUMBERING, f"the next sale would get number {following}, which an earlier sale used"))
    return CaptureHealth(tuple(problems), uncaptured, vanished)


class Vanished(enum.Enum):
    """What the operator decided for sales removed without capture."""

    KEEP = "keep"      # the Head Office keeps them (an archive); they are not sent as deletes
    DELETE = "delete"  # the Head Office deletes them too


@dataclass
class CaptureRepair:
    """What ``repair_capture`` did."""

    triggers_created: list[str] = field(default_factory=list)
    queued: int = 0           # sales written while capture was off (or before it was installed), now queued
    renumbered: list[tuple[int, int]] = field(default_factory=list)  # (old number, new number)
    vanished: int = 0         # sales removed without capture, decided as asked (or left to decide)
    vanished_decision: Vanished | None = None
    numbering_moved_to: int | None = None

    def lines(self) -> list[str]:
        said = []
        if self.triggers_created:
            said.append(f"installed change capture ({', '.join(self.triggers_created)})")
        if self.renumbered:
            pairs = ", ".join(f"#{a} -> #{b}" for a, b in self.renumbered[:10])
            more = f" and {len(self.renumbered) - 10} more" if len(self.renumbered) > 10 else ""
            said.append(f"renumbered {len(self.renumbered)} sale(s) whose numbers earlier sales had used: {pairs}{more}")
        if self.queued:
            said.append(f"{self.queued} sale(s) written while capture was off (or before it was installed) are queued")
        if self.vanished and self.vanished_decision is Vanished.KEEP:
            said.append(f"{self.vanished} sale(s) removed without capture are kept at the Head Office")
        elif self.vanished and self.vanished_decision is Vanished.DELETE:
            said.append(f"{self.vanished} sale(s) removed without capture are queued as deletes for the Head Office")
        elif self.vanished:
            said.append(f"{self.vanished} sale(s) the Head Office holds were removed here without capture; decide with "
                        "`init-db --vanished keep` (an archive: they stay at the Head Office) or `--vanished delete`")
        if self.numbering_moved_to:
            said.append(f"new sales are numbered from {self.numbering_moved_to}")
        return said


def install_triggers(conn: Connection, shape: RowShape = SALE_SHAPE) -> list[str]:
    """Drop every capture trigger wherever it is and create the three on ``sales``, strictly."""
    for name in trigger_bodies(shape):
        conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    mode: str = conn.execute(text("SELECT @@SESSION.sql_mode")).scalar_one()
    conn.execute(text(f"SET SESSION sql_mode = '{STRICT_MODE}'"))  # stored with each trigger, used when it runs
    try:
        for name, (event, body) in trigger_bodies(shape).items():
            conn.execute(text(f"CREATE TRIGGER {name} AFTER {event} ON sales FOR EACH ROW {body}"))
    finally:
        conn.execute(text("SET SESSION sql_mode = :mode"), {"mode": mode})
    return list(trigger_bodies(shape))


def repair_capture(engine: Engine, vanished: Vanished | None = None, shape: RowShape = SALE_SHAPE) -> CaptureRepair:
    """Make capture whole again (idempotent): triggers, numbering, and what was written meanwhile.

    Sales written into a swapped-in table reuse numbers of sales the Head Office still
    holds: they get new numbers before anything is queued, so they never overwrite them.
    """
    done = CaptureRepair()
    health = check_capture(engine, shape)
    swapped = health.has(Problem.TRIGGER_ELSEWHERE)
    broken_triggers = any(health.has(p) for p in (Problem.TRIGGER_MISSING, Problem.TRIGGER_ELSEWHERE, Problem.TRIGGER_ALTERED))
    with engine.begin() as conn:
        if broken_triggers:
            for name in trigger_bodies(shape):  # nothing is captured while the repair runs
                conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        if swapped:
            done.renumbered = _renumber_reused(conn, shape)
        if vanished is not None:
            done.vanished = _decide_vanished(conn, vanished, shape)
            done.vanished_decision = vanished
        else:
            done.vanished = count_vanished(conn, shape)
        done.queued = conn.execute(text(
            f"INSERT INTO sync_outbox (sale_id, op, {shape.column_list()}) "
            f"SELECT s.id, 'u', {shape.column_list('s.')} FROM sales s LEFT JOIN {_latest_changes(shape)} l "
            f"ON l.sale_id = s.id WHERE {uncaptured_condition(shape)} ORDER BY s.id")).rowcount
        if broken_triggers:
            done.triggers_created = install_triggers(conn, shape)
    done.numbering_moved_to = move_numbering_on(engine)
    return done


def _renumber_reused(conn: Connection, shape: RowShape) -> list[tuple[int, int]]:
    reused: list[int] = list(conn.execute(text(
        f"SELECT s.id FROM sales s JOIN {_latest_changes(shape)} l ON l.sale_id = s.id "
        f"WHERE l.op IN ('u', 'x') AND NOT ({shape.same_values('l', 's')}) ORDER BY s.id")).scalars())
    following = _highest_number(conn) + 1
    moved = []
    for number, old in enumerate(reused, start=following):
        conn.execute(text("UPDATE sales SET id = :new WHERE id = :old"), {"new": number, "old": old})
        moved.append((old, number))
    return moved


def _decide_vanished(conn: Connection, decision: Vanished, shape: RowShape) -> int:
    """Record the operator's decision for sales removed without capture: an 'x' kept, or a 'd' to send."""
    op, state, note = ("x", 2, "removed here without capture; kept at the Head Office") if decision is Vanished.KEEP \
        else ("d", 0, None)
    return conn.execute(text(
        f"INSERT INTO sync_outbox (sale_id, op, {shape.column_list()}, state, note) "
        f"SELECT l.sale_id, :op, {shape.nulls()}, :state, :note FROM {_latest_changes(shape)} l "
        "LEFT JOIN sales s ON s.id = l.sale_id WHERE l.op = 'u' AND s.id IS NULL ORDER BY l.sale_id"),
        {"op": op, "state": state, "note": note}).rowcount


def move_numbering_on(engine: Engine) -> int | None:
    """Raise the sales counter above every number used, if it lags; returns the new next number."""
    with engine.connect() as conn:
        highest, following = _highest_number(conn), _next_number(conn)
        if following is None or following > highest:
            return None
        conn.execute(text(f"ALTER TABLE sales AUTO_INCREMENT = {int(highest) + 1}"))
        conn.commit()
    return highest + 1
