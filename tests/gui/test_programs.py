"""bo_app.py and ho_app.py open their windows as programs and close cleanly when asked to."""
from __future__ import annotations

import pytest

from tests.harness import output, spawn, stop, wait_for

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("program, office, marker", [
    ("bo_app.py", "bo1", "link online"),
    ("ho_app.py", "ho", "consumer online"),
])
def test_program_opens_its_window_with_its_engine_and_closes_on_sigterm(offices, program, office, marker):
    process = spawn(program, offices.paths[office])   # the X display is pytest-xvfb's
    try:
        wait_for(lambda: marker in output(process) or process.poll() is not None, 30, f"{program} to log {marker!r}")
        assert process.poll() is None, output(process)
    finally:
        said = stop(process)                           # SIGTERM, as a desktop session's logout sends
    assert process.returncode == 0, said
    assert "stopped" in said and "Traceback" not in said
