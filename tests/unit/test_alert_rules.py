"""Alerts and metrics without a service: their settings, the next sync window, the report of version 3,
and a notice's JSON."""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import zlib
from pathlib import Path

import pytest

from config import BranchConfig, ConfigError, load_office
from config.fields import SyncWindow
from sync import protocol
from sync.alert_conditions import CONDITIONS, ConsumerFact, Facts, backlog_sentence
from sync.alert_delivery import Notice
from sync.failures import Failure, Kind
from sync.protocol import Poison
from sync.states import ConsumerState

HO = """role = "head_office"
code = "ho"
name = "Head Office"
db_url = "mysql+pymysql://root:@127.0.0.1:3306/branch_sync_ho"
amqp_urls = ["amqp://guest:guest@127.0.0.1:5672/%2F"]
branches = { bo1 = "East" }
"""


def load(tmp_path: Path, extra: str):
    path = tmp_path / "ho.toml"
    path.write_text(HO + extra, encoding="utf-8")
    return load_office(path, environ={})


def test_the_alert_and_metrics_settings_are_read(tmp_path):
    cfg = load(tmp_path, 'alert_webhook_url = "https://alerts.example.com/hook?token=1"\nalert_check_seconds = 20\n'
                         'smtp_host = "mail.example.com"\nalert_mail_from = "ho@example.com"\n'
                         'alert_mail_to = ["ops@example.com", "boss@example.com"]\nmetrics_port = 9108\n')
    assert cfg.alert_webhook_url == "https://alerts.example.com/hook?token=1"  # type: ignore[attr-defined]
    assert cfg.alert_mail_to == ("ops@example.com", "boss@example.com")  # type: ignore[attr-defined]
    assert cfg.alert_check_seconds == 20 and cfg.metrics_port == 9108  # type: ignore[attr-defined]


@pytest.mark.parametrize("extra,key", [
    ('alert_webhook_url = "ftp://example.com/x"\n', "alert_webhook_url"),
    ('alert_webhook_url = "alerts.example.com"\n', "alert_webhook_url"),
    ('alert_webhook_url = "http://[::1/"\n', "alert_webhook_url"),
    ("alert_check_seconds = 120\n", "alert_check_seconds"),
    ('smtp_host = "mail.example.com"\nalert_mail_from = "ho@example.com"\nalert_mail_to = ["nobody"]\n', "alert_mail_to"),
    ('smtp_host = "mail.example.com"\n', "smtp_host"),
    ("metrics_port = 70000\n", "metrics_port"),
])
def test_a_bad_alert_setting_is_one_sentence_naming_the_key(tmp_path, extra, key):
    with pytest.raises(ConfigError) as err:
        load(tmp_path, extra)
    sentence = str(err.value)
    assert f"'{key}'" in sentence and sentence.count(". ") == 0 and sentence.endswith("."), sentence


def branch(*windows: tuple[int, int, int, int]) -> BranchConfig:
    cfg = BranchConfig(role="branch", code="bo1", name="East", db_url="x", amqp_urls=("amqp://x",))
    return dataclasses.replace(cfg, sync_windows=tuple(SyncWindow(dt.time(a, b), dt.time(c, d))
                                                       for a, b, c, d in windows))


def at(hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 30, hour, minute)


def test_the_next_sync_window_is_what_is_left_of_the_current_one_or_the_whole_next_one():
    assert branch().next_window_seconds(at(12)) is None  # always connected
    daily = branch((2, 0, 3, 30))
    assert daily.next_window_seconds(at(2, 30)) == 3600
    assert daily.next_window_seconds(at(1)) == 5400
    assert daily.next_window_seconds(at(4)) == 5400  # tomorrow's
    midnight = branch((23, 0, 1, 0), (12, 0, 12, 10))
    assert midnight.next_window_seconds(at(0, 30)) == 1800
    assert midnight.next_window_seconds(at(11, 0)) == 600
    assert midnight.next_window_seconds(at(13, 0)) == 7200


def report(version: int, **over) -> protocol.Report:
    values = dict(branch="bo1", origin="o", at_ms=1_700_000_000_000, capture_ok=True, capture_problem=None, pending=5,
                  max_seq=9, rate_per_minute=1200, window_seconds=5400, version=version)
    return protocol.Report(**{**values, **over})  # type: ignore[arg-type]


def test_a_report_of_version_3_carries_the_pace_and_the_window_and_version_2_is_still_read():
    read = protocol.decode_from_branch(protocol.encode_report(report(3)), "zlib", {"bo1"})
    assert read == report(3)
    old = protocol.decode_from_branch(protocol.encode_report(report(2)), "zlib", {"bo1"})
    assert old == report(2, rate_per_minute=None, window_seconds=None)
    assert "rate" not in json.loads(zlib.decompress(protocol.encode_report(report(2))))  # a v2 HO reads it


@pytest.mark.parametrize("rate,window", [(1.5, 60), ("9", 60), (-1, 60), (10, 86_401), (10, True)])
def test_a_report_with_an_impossible_pace_or_window_is_poison(rate, window):
    body = json.loads(zlib.decompress(protocol.encode_report(report(3))))
    body.update(rate=rate, window=window)
    with pytest.raises(Poison, match="rate or window"):
        protocol.decode_from_branch(zlib.compress(json.dumps(body).encode()), "zlib", {"bo1"})


def test_every_condition_has_a_kind_that_fits_its_column_and_a_notice_says_it_in_json():
    assert {"silent", "capture_broken", "dead_letters", "backlog", "consumer_offline", "database_waiting"} <= set(CONDITIONS)
    assert all(len(kind) <= 32 for kind in CONDITIONS)
    notice = Notice("capture_broken", "bo1", "raised", "Branch bo1: trigger gone.", dt.datetime(2026, 11, 30, 6, 1, 2))
    body = notice.as_json()
    assert set(body) == {"id", "kind", "branch", "state", "sentence", "at"}
    assert dt.datetime.fromisoformat(str(body["at"])).replace(tzinfo=None) == dt.datetime(2026, 11, 30, 6, 1, 2)
    assert Notice("consumer_offline", "", "cleared", "x", dt.datetime.now()).as_json()["branch"] is None


def test_a_backlog_alerts_only_when_it_needs_longer_than_the_window():
    assert backlog_sentence("bo1", 1000, 100, 600) is None  # ten minutes in ten minutes: it fits
    sentence = backlog_sentence("bo1", 1001, 100, 600)
    assert sentence is not None and "1,001 change(s)" in sentence and "10 minutes" in sentence


def test_the_consumer_is_alerted_on_only_after_its_state_lasted_a_whole_check(tmp_path):
    cfg = load(tmp_path, "alert_check_seconds = 30\n")
    since = dt.datetime(2026, 11, 30, 6, 0, 0)
    offline = CONDITIONS["consumer_offline"].read
    waiting = ConsumerFact(ConsumerState.WAITING_FOR_DATABASE, None, since)

    def facts(seconds: float, consumer: ConsumerFact | None) -> Facts:
        return Facts(None, cfg, since + dt.timedelta(seconds=seconds), since, consumer)  # type: ignore[arg-type]

    fact = ConsumerFact(ConsumerState.OFFLINE, Failure(Kind.BROKER_UNREACHABLE, "connection refused"), since)
    assert offline(facts(29, fact)) == []  # a reconnect is not worth a person's time
    (finding,) = offline(facts(30, fact))  # type: ignore[misc]
    assert finding.branch == "" and "connection refused" in finding.sentence
    assert offline(facts(60, waiting)) == []  # waiting for the database is its own alert
    assert offline(facts(60, None)) is None  # no consumer here: not judged
    assert not CONDITIONS["consumer_offline"].needs_database and CONDITIONS["silent"].needs_database
