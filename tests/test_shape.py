"""The sale's row shape is declared once: a column added to a copy of it is captured,
carried on the wire and applied at the Head Office, with nothing else written for it."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import MetaData, select, text

from models.capture import install_triggers, trigger_bodies
from models.schema import branch_tables, create_database, head_office_tables, make_engine
from models.shape import SALE_SHAPE, Field, Kind
from sync.apply import Target, apply_changes
from sync.outbox import wire_columns
from sync.protocol import decode_changes, encode_changes
from tests.harness import DB_ROOT

WITH_CHANNEL = SALE_SHAPE.extended(Field("channel", Kind.TEXT, "Channel", width=16))
SALE = {"sale_date": dt.date(2021, 4, 29), "region": "East", "product": "Paper", "qty": 73, "cost": Decimal("12.95"),
        "amt": Decimal("945.35"), "tax": Decimal("66.17"), "total": Decimal("1011.52"), "channel": "web"}


def test_a_column_added_to_a_copy_of_the_shape_is_captured_sent_and_applied(make_offices):
    tag = make_offices(branches=1).tag  # private names, and a cleanup of what it made
    branch_url, head_url = f"{DB_ROOT}/bs_{tag}_shape_bo", f"{DB_ROOT}/bs_{tag}_shape_ho"
    engines = []
    try:
        for url in (branch_url, head_url):
            create_database(url)
            engines.append(make_engine(url))
        branch, head = engines
        sales, outbox, _state = branch_tables(MetaData(), WITH_CHANNEL)
        sales.metadata.create_all(branch)
        with branch.begin() as conn:
            install_triggers(conn, WITH_CHANNEL)
            conn.execute(sales.insert().values(**SALE))
        assert all("NEW.channel" in body for name, (_e, body) in trigger_bodies(WITH_CHANNEL).items()
                   if name != "sales_capture_delete")
        with branch.connect() as conn:
            rows = conn.execute(select(*wire_columns(outbox, WITH_CHANNEL))).all()
        assert rows[0].channel == "web"

        body, seqs = encode_changes("bo1", "origin-1", rows, max(r.seq for r in rows), 1, shape=WITH_CHANNEL)
        (change,) = decode_changes(body, "zlib", {"bo1"}, shape=WITH_CHANNEL).changes
        assert change.values == SALE and seqs == [change.seq]

        tables = head_office_tables(MetaData(), WITH_CHANNEL)
        next(iter(tables.values())).metadata.create_all(head)
        with head.begin() as conn:
            conn.execute(tables["sync_branches"].insert().values(code="bo1", name="East Branch"))
            outcome = apply_changes(conn, [decode_changes(body, "zlib", {"bo1"}, shape=WITH_CHANNEL)],
                                    Target.of(WITH_CHANNEL, tables))
        assert outcome.results["bo1"].upserts == 1
        with head.connect() as conn:
            held = conn.execute(select(*[tables["sales"].c[n] for n in WITH_CHANNEL.names])).one()
        assert dict(zip(WITH_CHANNEL.names, held, strict=True)) == SALE
    finally:
        for engine in engines:
            engine.dispose()
        with make_engine(DB_ROOT + "/").begin() as conn:
            for url in (branch_url, head_url):
                conn.execute(text(f"DROP DATABASE IF EXISTS `{url.rsplit('/', 1)[1]}`"))
