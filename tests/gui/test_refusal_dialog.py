"""A program started with a window (from a desktop icon) that refuses its database says so in a dialog too.

The sentence that goes to stderr (tests/test_upgrades.py checks its words) is shown
in a dialog until the person closes it; the program then ends, non-zero, having
touched nothing.  The program runs as itself, on the test's X display; the test
reads its dialog and presses OK through Tk (tests/gui/other_program.py).
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

from models.migrations import VERSION_TABLE, Role, head
from tests.gui.other_program import applications, ask, press, window_of
from tests.harness import output, spawn, stop, wait_for

pytestmark = pytest.mark.gui


def checksums(engine) -> list[tuple]:
    with engine.connect() as conn:
        tables = [t for (t,) in conn.execute(text("SHOW TABLES"))]
        return [tuple(r) for r in conn.execute(text(f"CHECKSUM TABLE {', '.join(tables)}"))]


@pytest.mark.parametrize("program, office, role", [("bo_app.py", "bo1", Role.BRANCH),
                                                   ("ho_app.py", "ho", Role.HEAD_OFFICE)])
def test_a_window_program_shows_an_older_database_refused_in_a_dialog_and_ends_touching_nothing(
        make_offices, root, program, office, role):
    offices = make_offices(branches=1)
    engine = offices.engine(office)
    with engine.begin() as conn:  # as a release before the last migration left it
        conn.execute(text(f"UPDATE {VERSION_TABLE} SET version_num = '0001'"))
    before, others = checksums(engine), applications(root)
    process = spawn(program, offices.paths[office])  # a window: neither --headless nor --once
    try:
        dialog = window_of(root, others, ".refusal.sentence")
        sentence = ask(root, dialog, ".refusal.sentence cget -text")
        assert f"schema revision 0001, older than this program's {head(role)}; run `python -m sync migrate " \
               f"--config {offices.paths[office]}`" in sentence and "nothing was touched" in sentence.lower()
        name = offices.ho.name if office == "ho" else offices.branch(office).name
        assert ask(root, dialog, "wm title .") == f"{name}: Branch Sync cannot start"
        assert output(process).strip() == sentence  # stderr says the same, already
        assert process.poll() is None  # it waits for the person to read it
        press(root, dialog, ".refusal.ok")
        wait_for(lambda: process.poll() is not None, 30, f"{program} to end once the dialog is closed")
    finally:
        if process.poll() is None:
            stop(process)
    assert process.returncode == 6, output(process)
    assert "Traceback" not in output(process)
    assert checksums(engine) == before
