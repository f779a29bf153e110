"""`whistle init` creates the instance once and never overwrites its secrets."""

from __future__ import annotations

import re
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from whistle.cli import cli, main

SECRETS = ("secret_key", "pepper", "instance_key")


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("WHISTLE_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.setenv("WHISTLE_ARGON2_PROFILE", "test")
    return CliRunner()


def test_init_creates_secrets_owner_only_and_migrates(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["init"])
    assert result.exit_code == 0, result.output
    instance = tmp_path / "instance"
    for name in SECRETS:
        mode = stat.S_IMODE((instance / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {mode:o}"
        assert len((instance / name).read_text().strip()) == 64
    assert (instance / "whistle.db").exists()
    assert stat.S_IMODE((instance / "whistle.db").stat().st_mode) & 0o077 == 0
    assert "schema is up to date" in result.output


@pytest.fixture
def db_runner(runner: CliRunner, database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The same, on the parametrised database (SQLite and PostgreSQL)."""
    monkeypatch.setenv("WHISTLE_DATABASE_URL", database_url)
    return runner


def test_init_twice_keeps_every_secret(db_runner: CliRunner, tmp_path: Path) -> None:
    runner = db_runner
    assert runner.invoke(cli, ["init"]).exit_code == 0
    instance = tmp_path / "instance"
    before = {name: (instance / name).read_bytes() for name in SECRETS}
    second = runner.invoke(cli, ["init"])
    assert second.exit_code == 0, second.output
    assert {name: (instance / name).read_bytes() for name in SECRETS} == before
    assert "kept" in second.output


def test_each_setup_link_is_fresh(db_runner: CliRunner) -> None:
    runner = db_runner
    assert runner.invoke(cli, ["init"]).exit_code == 0
    first = runner.invoke(cli, ["setup-link", "--base-url", "http://127.0.0.1:5000"])
    assert first.exit_code == 0, first.output
    # The token after "#": never sent by a browser, so never in an access log.
    assert re.search(r"http://127\.0\.0\.1:5000/setup/#[A-Za-z0-9_-]{40,}", first.output)
    second = runner.invoke(cli, ["setup-link"])
    assert re.findall(r"/setup/(\S+)", first.output) != re.findall(r"/setup/(\S+)", second.output)


def test_uninitialised_instance_gets_a_clear_message(
    runner: CliRunner, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.argv", ["whistle", "db", "upgrade"])
    with pytest.raises(SystemExit) as exited:
        main()
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "run `whistle init` first" in err
    assert "Traceback" not in err
