"""Fixtures shared by every test.  The services are real; a missing one fails the run.

Tests in tests/unit/ need no service at all (``make unit`` runs them with MariaDB and
RabbitMQ stopped); every other test first checks that both answer.
"""
from __future__ import annotations

from pathlib import Path

import pika
import pytest
from sqlalchemy import text

from models.schema import make_engine
from tests.harness import AMQP_URL, DB_ROOT, Offices

UNIT_TIER = Path(__file__).resolve().parent / "unit"


@pytest.fixture(autouse=True)
def _services_for_integration_tests(request):
    if UNIT_TIER not in Path(str(request.node.path)).parents:
        request.getfixturevalue("services_answer")


@pytest.fixture(scope="session")
def services_answer():
    """Fail (never skip) when MariaDB/MySQL or RabbitMQ is not reachable."""
    try:
        engine = make_engine(DB_ROOT + "/")
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"MySQL/MariaDB at {DB_ROOT} does not answer ({exc}); start it (see README) and run again.", pytrace=False)
    try:
        pika.BlockingConnection(pika.URLParameters(AMQP_URL)).close()
    except Exception as exc:  # noqa: BLE001
        pytest.fail(f"RabbitMQ at {AMQP_URL} does not answer ({exc!r}); start it (see README) and run again.", pytrace=False)


@pytest.fixture
def make_offices(tmp_path):
    """Factory for private office sets; every set is torn down after the test."""
    made = []

    def make(branches: int = 3, **overrides) -> Offices:
        offices = Offices(tmp_path, branches=branches, **overrides).init()
        made.append(offices)
        return offices

    yield make
    for offices in made:
        offices.cleanup()


@pytest.fixture
def offices(make_offices) -> Offices:
    """One Head Office and three branches, databases created, nothing running."""
    return make_offices()
