"""A bad config gets one sentence naming the key; environment variables override files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from config import ConfigError, load_office

ROOT = Path(__file__).resolve().parents[2]
GOOD = """role = "branch"
code = "bo9"
name = "Test Branch"
region = "East"
tax_rate = "0.07"
db_url = "mysql+pymysql://root:@127.0.0.1:3306/branch_sync_bo9"
amqp_urls = ["amqp://guest:guest@127.0.0.1:5672/%2F"]
"""


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "office.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_configs_load_with_three_branches_at_seven_percent():
    ho = load_office(ROOT / "config" / "ho.toml", environ={})
    assert ho.branches == {"bo1": "East Branch", "bo2": "West Branch", "bo3": "North Branch"}
    for code in ho.branches:
        bo = load_office(ROOT / "config" / f"{code}.toml", environ={})
        assert bo.is_branch and bo.code == code and bo.tax_rate == Decimal("0.07")


def test_environment_overrides_database_and_broker_urls(tmp_path):
    cfg = load_office(write(tmp_path, GOOD), environ={
        "SYNC_DB_URL": "mysql+pymysql://u:p@db.example:3306/other",
        "SYNC_AMQP_URL": "amqp://a:b@one:5672/%2F, amqps://a:b@two:5671/%2F",
        "SYNC_BATCH_ROWS": "250",
        "SYNC_SYNC_WINDOWS": "02:00-03:30,22:00-01:00",
    })
    assert cfg.db_url.endswith("/other")
    assert cfg.amqp_urls == ("amqp://a:b@one:5672/%2F", "amqps://a:b@two:5671/%2F")
    assert cfg.batch_rows == 250 and len(cfg.sync_windows) == 2


def test_passwords_never_appear_in_the_printed_config(tmp_path):
    cfg = load_office(write(tmp_path, GOOD.replace("guest:guest", "guest:s3cret")), environ={})
    assert "s3cret" not in repr(cfg) and "s3cret" not in " ".join(cfg.redacted_amqp_urls())


@pytest.mark.parametrize("edit,key", [
    (lambda t: t.replace('tax_rate = "0.07"', 'tax_rate = "seven"'), "tax_rate"),
    (lambda t: t.replace('tax_rate = "0.07"', "tax_rate = 0.07"), "tax_rate"),
    (lambda t: t.replace('region = "East"\n', ""), "region"),
    (lambda t: t.replace("mysql+pymysql", "postgres"), "db_url"),
    (lambda t: t.replace('["amqp://guest:guest@127.0.0.1:5672/%2F"]', '["http://x"]'), "amqp_urls"),
    (lambda t: t + 'sync_windows = ["2am-3am"]\n', "sync_windows"),
    (lambda t: t + "batch_rows = -1\n", "batch_rows"),
    (lambda t: t + "batch_rows = \"many\"\n", "batch_rows"),
    (lambda t: t + "colour = 3\n", "colour"),
    (lambda t: t.replace('code = "bo9"', 'code = "Bad Code!"'), "code"),
])
def test_each_config_mistake_is_one_sentence_naming_the_key(tmp_path, edit, key):
    with pytest.raises(ConfigError) as err:
        load_office(write(tmp_path, edit(GOOD)), environ={})
    message = str(err.value)
    assert f"'{key}'" in message and "\n" not in message and message.endswith(".")


def test_broken_toml_and_missing_file_are_explained(tmp_path):
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_office(write(tmp_path, "role = "), environ={})
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_office(tmp_path / "nope.toml", environ={})


def test_sync_window_can_run_past_midnight(tmp_path):
    import datetime as dt

    cfg = load_office(write(tmp_path, GOOD + 'sync_windows = ["23:00-01:30"]\n'), environ={})
    assert cfg.in_sync_window(dt.datetime(2026, 1, 1, 0, 30))
    assert cfg.in_sync_window(dt.datetime(2026, 1, 1, 23, 5))
    assert not cfg.in_sync_window(dt.datetime(2026, 1, 1, 12, 0))


@pytest.mark.parametrize("program", ["bo_app.py", "ho_app.py"])
def test_programs_exit_non_zero_with_one_line_and_no_traceback_on_a_bad_config(tmp_path, program):
    path = write(tmp_path, GOOD.replace('tax_rate = "0.07"', 'tax_rate = "x"'))
    done = subprocess.run([sys.executable, program, "--config", str(path), "--headless"], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    assert "Configuration problem" in done.stderr and "'tax_rate'" in done.stderr


def test_passwords_come_from_the_environment_through_placeholders(tmp_path):
    text = GOOD.replace("guest:guest", "bo9:${SYNC_AMQP_PASSWORD}")
    cfg = load_office(write(tmp_path, text), environ={"SYNC_AMQP_PASSWORD": "p@ss/word"})
    assert cfg.amqp_urls == ("amqp://bo9:p%40ss%2Fword@127.0.0.1:5672/%2F",)
    with pytest.raises(ConfigError, match="needs the environment variable SYNC_AMQP_PASSWORD"):
        load_office(write(tmp_path, text), environ={})


def test_a_password_file_outside_the_repository_fills_the_urls(tmp_path):
    secret = tmp_path / "bo9.password"
    secret.write_text("from-a-file\n")
    text = GOOD.replace("guest:guest@", "bo9@") + f'amqp_password_file = "{secret}"\n'
    assert load_office(write(tmp_path, text), environ={}).amqp_urls == ("amqp://bo9:from-a-file@127.0.0.1:5672/%2F",)


def test_no_shipped_config_holds_a_password():
    for path in (ROOT / "config").glob("*.toml"):
        for line in path.read_text().splitlines():
            if line.startswith(("db_url", "amqp_urls")):
                assert "${SYNC_" in line, f"{path.name}: {line}"


def test_unreachable_hosts_are_one_sentence_and_status_never_prints_a_password(tmp_path):
    path = write(tmp_path, GOOD.replace("root:@127.0.0.1:3306", "root:dbs3cret@127.0.0.1:1")
                 .replace("guest:guest@127.0.0.1:5672", "guest:mqs3cret@127.0.0.1:1"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNC_")}
    for args in (["bo_app.py", "--config", str(path), "--once"], ["-m", "sync", "status", "--config", str(path)]):
        done = subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, env=env)
        out = done.stdout + done.stderr
        assert done.returncode != 0 and "Traceback" not in out
        assert "s3cret" not in out
        assert "not answering" in out or "Cannot prepare" in out


# ---------------------------------------------------------------- 8.9: what a config error may say
def test_a_config_error_about_a_url_never_repeats_its_password(tmp_path):
    path = tmp_path / "bo.toml"
    path.write_text(
        'role = "branch"\ncode = "bo1"\nname = "East"\nregion = "East"\ntax_rate = "0.07"\n'
        'db_url = "mysql+pymysql://root:hunter2@127.0.0.1:3306/x"\n'
        'amqp_urls = ["amqp://guest:s3cret@127.0.0.1:5672/%2F", 5]\n')
    with pytest.raises(ConfigError) as error:
        load_office(path, environ={})
    assert "s3cret" not in str(error.value) and "hunter2" not in str(error.value)
    path.write_text(path.read_text().replace('["amqp://guest:s3cret@127.0.0.1:5672/%2F", 5]', '"amqp://g:s3cret@h/"')
                    .replace("root:hunter2@127.0.0.1:3306/x", "root:hunter2@127.0.0.1:3306/bad name"))
    with pytest.raises(ConfigError) as error:
        load_office(path, environ={})
    assert "hunter2" not in str(error.value)


def test_a_malformed_ipv6_url_is_a_sentence_not_a_traceback(tmp_path):
    path = tmp_path / "bo.toml"
    path.write_text('role = "branch"\ncode = "bo1"\nname = "East"\nregion = "East"\ntax_rate = "0.07"\n'
                    'db_url = "mysql+pymysql://root@127.0.0.1:3306/x"\namqp_urls = ["amqp://guest:pw@[::1/%2F"]\n')
    with pytest.raises(ConfigError, match="amqp_urls"):
        load_office(path, environ={})


@pytest.mark.parametrize("code", ["bo1\n", "BO1", "bo 1", "bo1;"])
def test_office_codes_are_matched_whole(tmp_path, code):
    path = tmp_path / "bo.toml"
    path.write_text('role = "branch"\nname = "East"\nregion = "East"\ntax_rate = "0.07"\n'
                    'db_url = "mysql+pymysql://root@127.0.0.1:3306/x"\namqp_urls = ["amqp://guest:guest@h/"]\n'
                    f'code = {json.dumps(code)}\n')
    with pytest.raises(ConfigError, match="'code'"):
        load_office(path, environ={})


def test_a_branch_file_beside_the_head_office_with_a_bad_code_is_named(tmp_path):
    (tmp_path / "ho.toml").write_text('role = "head_office"\ncode = "ho"\nname = "HO"\n'
                                      'db_url = "mysql+pymysql://root@127.0.0.1:3306/x"\namqp_urls = ["amqp://g:g@h/"]\n')
    (tmp_path / "bo.toml").write_text('role = "branch"\ncode = "bo1\\n"\nname = "East"\n')
    with pytest.raises(ConfigError, match="bo.toml"):
        load_office(tmp_path / "ho.toml", environ={})
