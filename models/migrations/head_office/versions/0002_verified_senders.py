"""Dead letters that keep their real sender and every attempt; the ledger of changes received.

- sync_dead_letters: the broker-vouched publisher, the queue, the branch the body
  claims (kept apart from the branch it is attributed to), the body's size, and the
  number of attempts; sync_dead_letter_attempts keeps each.  The first release
  recorded the sender's own header as the branch: it moves to claimed_branch, and
  the publisher is taken from the recorded user_id where there is one.
- sync_ledger: a digest per branch and seq of every change received, seeded from the
  rows and tombstones held (their latest versions).
- sync_branches: the branch's last report (capture health, backlog); longer alerts.
- sync_archive: rows set aside when an operator adopts a branch's new history.

Revision ID: 0002
Revises: 0001
"""
import json
import re

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import DATETIME, MEDIUMTEXT

from models.shape import SALE_SHAPE

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

OPTS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
NOW6 = sa.text("CURRENT_TIMESTAMP(6)")
TS = DATETIME(fsp=6)
BATCH = 10_000


def upgrade() -> None:
    op.alter_column("sync_branches", "alert", existing_type=sa.String(255), type_=sa.String(1000), existing_nullable=True)
    op.add_column("sync_branches", sa.Column("reported_at", TS, nullable=True))
    op.add_column("sync_branches", sa.Column("capture_ok", sa.Boolean, nullable=True))
    op.add_column("sync_branches", sa.Column("capture_problem", sa.String(1000), nullable=True))
    op.add_column("sync_branches", sa.Column("pending_reported", sa.BigInteger, nullable=True))

    for column in (sa.Column("publisher", sa.String(255), nullable=True), sa.Column("queue", sa.String(255), nullable=True),
                   sa.Column("claimed_branch", sa.String(64), nullable=True),
                   sa.Column("body_bytes", sa.BigInteger, nullable=False, server_default=sa.text("0")),
                   sa.Column("attempts", sa.Integer, nullable=False, server_default=sa.text("1"))):
        op.add_column("sync_dead_letters", column)
    op.create_index("sync_dead_letters_branch_state", "sync_dead_letters", ["branch", "state"])
    op.create_table(
        "sync_dead_letter_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("dead_letter_id", sa.BigInteger, nullable=False),
        sa.Column("at", TS, nullable=False, server_default=NOW6),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text().with_variant(MEDIUMTEXT(), "mysql"), nullable=True),
        sa.Index("sync_dead_letter_attempts_letter", "dead_letter_id", "id"),
        **OPTS,
    )
    op.create_table(
        "sync_ledger",
        sa.Column("branch", sa.String(16), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("digest", sa.BigInteger, nullable=False),
        **OPTS,
    )
    op.create_table(
        "sync_archive",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("archived_at", TS, nullable=False, server_default=NOW6),
        sa.Column("branch", sa.String(16), nullable=False),
        sa.Column("origin", sa.String(36), nullable=True),
        sa.Column("branch_sale_id", sa.BigInteger, nullable=False),
        *SALE_SHAPE.columns(),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("reason", sa.String(255), nullable=False),
        sa.Index("sync_archive_branch", "branch", "branch_sale_id"),
        **OPTS,
    )
    conn = op.get_bind()
    _attribute_old_dead_letters(conn)
    _seed_ledger(conn)


# How the first release said it could not read a message's version (sync/protocol.py at a7d5714): such a
# letter was written by a newer office, and is marked so that a release that reads it applies it.
FIRST_RELEASE_UNREAD_VERSION = re.compile(r"^message version \d+ is not supported ")
UNREAD_VERSION = "version not read"  # models.schema.UNREAD_VERSION, as this revision wrote it


def _attribute_old_dead_letters(conn) -> None:
    rows = conn.execute(sa.text("SELECT id, branch, properties, LENGTH(body), reason FROM sync_dead_letters")).all()
    for letter_id, branch, properties, size, reason in rows:
        try:
            publisher = json.loads(properties).get("user_id")
        except (ValueError, AttributeError):
            publisher = None  # the first release cut long properties mid-JSON
        conn.execute(sa.text(
            "UPDATE sync_dead_letters SET claimed_branch = :claimed, branch = NULL, publisher = :publisher, "
            "body_bytes = :size WHERE id = :id"),
            {"claimed": branch, "publisher": publisher if isinstance(publisher, str) else None, "size": size or 0,
             "id": letter_id})
        outcome = UNREAD_VERSION if FIRST_RELEASE_UNREAD_VERSION.match(reason or "") else "parked"
        conn.execute(sa.text("INSERT INTO sync_dead_letter_attempts (dead_letter_id, outcome, reason) "
                             "VALUES (:id, :outcome, 'recorded by the first release')"), {"id": letter_id, "outcome": outcome})


def _seed_ledger(conn) -> None:
    """A ledger entry for each change the held rows and tombstones came from."""
    insert = sa.text("INSERT IGNORE INTO sync_ledger (branch, seq, digest) VALUES (:branch, :seq, :digest)")
    after = 0
    while rows := conn.execute(sa.text(f"SELECT id, branch, version, branch_sale_id, {SALE_SHAPE.column_list()} "
                                       "FROM sales WHERE id > :after ORDER BY id LIMIT :n"), {"after": after, "n": BATCH}).all():
        conn.execute(insert, [{"branch": r[1], "seq": r[2], "digest": SALE_SHAPE.digest(
            r[2], r[3], dict(zip(SALE_SHAPE.names, r[4:], strict=True)))} for r in rows])
        after = rows[-1][0]
    tombstones = conn.execute(sa.text("SELECT branch, version, branch_sale_id FROM sync_tombstones")).all()
    for start in range(0, len(tombstones), BATCH):
        conn.execute(insert, [{"branch": b, "seq": v, "digest": SALE_SHAPE.digest(v, i, None)}
                              for b, v, i in tombstones[start:start + BATCH]])


def downgrade() -> None:
    raise NotImplementedError("downgrade by restoring the backup taken before the upgrade")
