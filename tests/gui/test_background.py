"""Background work for the windows: a newer read supersedes an older one, and slow reads slow live refreshes down."""
from __future__ import annotations

import threading

import pytest

from gui.background import Newest, Throttle, backed_off

pytestmark = pytest.mark.gui


def test_a_newer_read_starts_at_once_and_the_older_ones_answer_is_dropped(gui, root):
    job = Newest(root, parallel=2)
    release = {name: threading.Event() for name in ("old", "new", "newest", "last")}
    started: list[str] = []
    answered: list[str] = []

    def read(name: str):
        def blocking() -> str:
            started.append(name)
            release[name].wait(10)
            return name
        return blocking

    job.submit(read("old"), lambda ok, value: answered.append(value))
    job.submit(read("new"), lambda ok, value: answered.append(value))
    gui.wait_until(lambda: started == ["old", "new"], "the new read to start beside the old one, not after it")
    job.submit(read("newest"), lambda ok, value: answered.append(value))   # two in flight: this one waits
    gui.settle(0.2)
    assert started == ["old", "new"] and job.pending

    release["new"].set()                  # a slot frees: the waiting read starts; "new" is no longer the newest
    gui.wait_until(lambda: "newest" in started, "the waiting read to start when a slot frees")
    release["newest"].set()
    gui.wait_until(lambda: answered == ["newest"], "only the newest read to answer")
    release["old"].set()                  # the slow old read finishes last and is dropped
    gui.wait_until(lambda: not job.pending, "every read to end")
    assert answered == ["newest"]


def test_newest_records_how_long_its_reads_take_and_live_refreshes_back_off_from_it(gui, root):
    now = [100.0]
    job = Newest(root, clock=lambda: now[0])

    def slow_read() -> int:
        now[0] += 2.5                     # the read takes 2.5 s on the job's clock
        return 1

    job.submit(slow_read, lambda ok, value: None)
    gui.wait_until(lambda: job.last_seconds is not None, "the read to end")
    assert job.last_seconds == 2.5
    assert backed_off(400, job.last_seconds) == 12500         # five times the read, not every 0.4 s
    assert backed_off(400, None) == 400 and backed_off(400, 0.05) == 400 and backed_off(400, 600) == 60_000

    fired = []
    throttle = Throttle(root, 10, lambda: fired.append(1))
    throttle.delay_ms = backed_off(10, 0.001)
    throttle.poke()
    throttle.poke()
    gui.wait_until(lambda: fired, "the throttled action")
    gui.settle(0.1)
    assert fired == [1]                   # once per burst of pokes
