"""``python -m bench`` runs at a tiny size against the real services and writes every figure.

Benchmarks are not tests: nothing here judges a speed.  It checks that every
figure was measured, that each number is a sane value of its kind, and that the
benchmark left no database or queue behind.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pika
import pytest
from sqlalchemy import text

from bench.offices import AMQP_URL, DB_ROOT
from models.schema import make_engine

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("drain", "ceilings", "naive", "slow_link", "latency", "memory", "many_branches", "window_lag")
POSITIVE_UNITS = ("rows/s", "B/row", "MB", "ratio")


def _leftover_databases() -> set[str]:
    engine = make_engine(DB_ROOT + "/")
    try:
        with engine.connect() as conn:
            return set(conn.execute(text("SHOW DATABASES LIKE 'bs\\_bn%'")).scalars())
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """One tiny benchmark run; its results file and what it printed."""
    out = tmp_path_factory.mktemp("bench")
    before = _leftover_databases()
    run = subprocess.Popen(
        [sys.executable, "-m", "bench", "--size", "tiny", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        stdout, stderr = run.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        run.terminate()  # SIGTERM: the benchmark still drops what it created
        stdout, stderr = run.communicate(timeout=120)
        pytest.fail(f"the benchmark took more than 300 s:\n{stderr[-3000:]}")
    assert run.returncode == 0, f"the benchmark failed:\n{stdout[-3000:]}\n{stderr[-3000:]}"
    return out, json.loads((out / "results.json").read_text()), stdout, before


def test_benchmark_writes_every_figure_with_a_sane_value_for_each_number(tiny_run):
    _out, results, _printed, _before = tiny_run
    assert set(FIGURES) <= set(results["figures"])
    for key in FIGURES:
        figure = results["figures"][key]
        assert figure["metrics"], f"{key} measured nothing"
        for name, m in figure["metrics"].items():
            assert m["runs"] and all(isinstance(r, (int, float)) and math.isfinite(r) for r in m["runs"]), (key, name)
            assert min(m["runs"]) <= m["median"] <= max(m["runs"]), (key, name)
            assert m["median"] >= 0, (key, name)
            if m["unit"] in POSITIVE_UNITS:
                assert m["median"] > 0, (key, name)


def test_benchmark_numbers_hang_together(tiny_run):
    _out, results, _printed, _before = tiny_run
    figures = results["figures"]
    drain = figures["drain"]["metrics"]["one_branch"]["median"]
    assert figures["ceilings"]["metrics"]["drain_vs_upsert"]["median"] == pytest.approx(
        drain / figures["ceilings"]["metrics"]["upsert_driver"]["median"], rel=1e-6)
    # Rows carry at least their seq and sale id on the wire, and the naive rows travel as JSON.
    assert figures["slow_link"]["metrics"]["1mbit_bytes_per_row"]["median"] > 4
    assert figures["slow_link"]["metrics"]["1mbit_naive_bytes_per_row"]["median"] > 100
    assert figures["latency"]["samples"] > 0
    assert figures["many_branches"]["consistent"] is True
    assert figures["memory"]["sizes"] == sorted(figures["memory"]["sizes"]) and len(figures["memory"]["sizes"]) == 2
    assert figures["window_lag"]["window"]
    assert {t["target"] for t in results["targets"]} and all(t["met"] is not None for t in results["targets"])


def test_benchmark_prints_the_table_and_draws_the_plots(tiny_run):
    out, _results, printed, _before = tiny_run
    assert "Targets of issue 5" in printed
    for plot in ("throughput.png", "slow_link.png", "latency.png", "memory.png", "window_lag.png"):
        assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", plot


def test_benchmark_leaves_no_database_or_queue_behind(tiny_run):
    _out, results, _printed, _before = tiny_run
    removed = results["cleaned_up"]
    assert removed, "the run reports no office set it cleaned up"
    # The databases this run made (not any other benchmark's that may run meanwhile on a shared machine).
    made = {name for office_set in removed for name in office_set["databases"]}
    assert made and made.isdisjoint(_leftover_databases())
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        for office_set in removed:
            for queue in office_set["queues"]:
                channel = connection.channel()
                with pytest.raises(pika.exceptions.ChannelClosedByBroker) as gone:
                    channel.queue_declare(queue, passive=True)
                assert gone.value.reply_code == 404, queue
    finally:
        connection.close()


def test_the_stage_profile_times_each_stage_and_leaves_no_database_behind():
    before = _leftover_databases()
    run = subprocess.run([sys.executable, "-m", "bench.stages", "--changes", "3000", "--repeat", "1"],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    stages = [line.split() for line in run.stdout.splitlines() if line.strip().startswith(("branch:", "HO:"))]
    assert len(stages) == 4, run.stdout
    for fields in stages:
        cpu, wall = (float(f.removesuffix("us")) for f in fields[-2:])
        assert 0 < cpu and 0 < wall, fields
    assert _leftover_databases() <= before
