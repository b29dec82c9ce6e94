"""The migrations build exactly the schema that init-db creates, for both roles, and an
office database that is older or newer than the code is refused in a sentence."""
from __future__ import annotations

import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from models.migrations import VERSION_TABLE, Role, Standing, head, schema_status, stamp, upgrade
from models.schema import bo_metadata, create_database, ho_metadata, make_engine
from tests.harness import DB_ROOT, ROOT

METADATA = {Role.BRANCH: bo_metadata, Role.HEAD_OFFICE: ho_metadata}


@pytest.fixture
def empty_database(tmp_path, make_offices):
    offices = make_offices(branches=1)  # only for its private name and its cleanup
    url = f"{DB_ROOT}/bs_{offices.tag}_mig"
    create_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()
    with make_engine(DB_ROOT + "/").begin() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `bs_{offices.tag}_mig`"))


@pytest.mark.parametrize("role", list(Role))
def test_upgrading_from_the_first_release_builds_exactly_the_schema_init_db_creates(empty_database, role):
    applied = upgrade(empty_database, role)
    assert applied[0] == "0001" and applied[-1] == head(role)
    with empty_database.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "version_table": VERSION_TABLE})
        differences = compare_metadata(context, METADATA[role])
    assert differences == []
    assert schema_status(empty_database, role).standing is Standing.CURRENT


@pytest.mark.parametrize("role", list(Role))
def test_a_database_newer_than_the_code_is_refused_in_a_sentence_and_left_alone(empty_database, role):
    METADATA[role].create_all(empty_database)
    stamp(empty_database, role)
    with empty_database.begin() as conn:
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '9999'"))
    status = schema_status(empty_database, role)
    assert status.standing is Standing.NEWER and "newer release" in status.sentence("x")


def test_a_program_refuses_an_older_database_in_one_sentence_and_migrate_upgrades_it(offices):
    engine = offices.engine("bo1")
    with engine.begin() as conn:  # bo1's database as the first release made it: its schema, no revision recorded
        for table in ("sync_outbox", "sync_state", "sales", "sync_day_totals", "catalogue_products", "catalogue_prices",
                      "sync_parked", VERSION_TABLE):
            conn.execute(text(f"DROP TABLE {table}"))
    upgrade(engine, Role.BRANCH, "0001")
    with engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {VERSION_TABLE}"))
    once = subprocess.run([sys.executable, "bo_app.py", "--config", str(offices.paths["bo1"]), "--once"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert once.returncode == 6 and "older than this program" in once.stderr and "Traceback" not in once.stderr
    migrated = subprocess.run([sys.executable, "-m", "sync", "migrate", "--config", str(offices.paths["bo1"])], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    assert schema_status(offices.engine("bo1"), Role.BRANCH).standing is Standing.CURRENT
