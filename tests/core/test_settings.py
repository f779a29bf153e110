"""Settings are read once, typed and frozen; bad settings stop start-up with a clear message."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from whistle.app import create_app
from whistle.core.instance import init_instance
from whistle.core.settings import SettingsError, load_settings


def test_defaults_come_from_the_instance_folder(tmp_path: Path) -> None:
    init_instance(tmp_path)
    settings = load_settings(tmp_path, environ={})
    assert settings.database_url == f"sqlite:///{tmp_path / 'whistle.db'}"
    assert settings.file_store == tmp_path / "files"
    assert settings.default_locale == "da"
    assert not settings.secure_cookies
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.default_locale = "en"  # type: ignore[misc]


def test_environment_overrides_config_file(tmp_path: Path) -> None:
    init_instance(tmp_path)
    (tmp_path / "config.toml").write_text('default_locale = "en"\nmax_request_mb = 50\n')
    settings = load_settings(
        tmp_path,
        environ={
            "WHISTLE_MAX_REQUEST_MB": "75",
            "WHISTLE_BASE_URL": "https://whistle.example.org",
        },
    )
    assert settings.default_locale == "en"
    assert settings.max_request_mb == 75
    assert settings.secure_cookies


def test_the_organisation_list_is_off_unless_turned_on(tmp_path: Path) -> None:
    init_instance(tmp_path)
    assert load_settings(tmp_path, environ={}).list_organisations is False
    (tmp_path / "config.toml").write_text("list_organisations = true\n")
    assert load_settings(tmp_path, environ={}).list_organisations is True
    off = load_settings(tmp_path, environ={"WHISTLE_LIST_ORGANISATIONS": "no"})
    assert off.list_organisations is False
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"WHISTLE_LIST_ORGANISATIONS": "perhaps"})
    assert "WHISTLE_LIST_ORGANISATIONS must be true or false" in str(caught.value)
    (tmp_path / "config.toml").write_text("list_organisations = 1\n")
    with pytest.raises(SettingsError):
        load_settings(tmp_path, environ={})


def test_the_file_store_is_the_folder_unless_the_database_is_chosen(tmp_path: Path) -> None:
    init_instance(tmp_path)
    assert load_settings(tmp_path, environ={}).file_store_backend == "folder"
    (tmp_path / "config.toml").write_text('file_store_backend = "database"\n')
    assert load_settings(tmp_path, environ={}).file_store_backend == "database"
    folder = load_settings(tmp_path, environ={"WHISTLE_FILE_STORE_BACKEND": "folder"})
    assert folder.file_store_backend == "folder"
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={"WHISTLE_FILE_STORE_BACKEND": "s3"})
    assert 'file_store_backend must be "folder"' in str(caught.value)
    assert "'s3'" in str(caught.value)


def test_missing_instance_says_to_run_init(tmp_path: Path) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path / "nowhere", environ={})
    assert "whistle init" in str(caught.value)


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    init_instance(tmp_path)
    (tmp_path / "config.toml").write_text(
        'max_request_mb = "lots"\ndefault_locale = "fr"\ncolour = "blue"\n'
        'database_url = "mysql://x"\n'
    )
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    for expected in ("max_request_mb", "default_locale", "'colour'", "database_url"):
        assert expected in message
    assert len(caught.value.problems) == 4


def test_malformed_toml_is_reported(tmp_path: Path) -> None:
    init_instance(tmp_path)
    (tmp_path / "config.toml").write_text("this is = = not toml")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(tmp_path, environ={})


def test_missing_exposed_or_damaged_secret_stops_start(tmp_path: Path) -> None:
    init_instance(tmp_path)
    (tmp_path / "pepper").unlink()
    (tmp_path / "secret_key").chmod(0o644)
    (tmp_path / "instance_key").write_text("not hex at all")
    with pytest.raises(SettingsError) as caught:
        load_settings(tmp_path, environ={})
    message = str(caught.value)
    assert "pepper is missing" in message
    assert "chmod 600" in message
    assert "instance_key is not a 64-character hex secret" in message


def test_settings_never_print_secrets(tmp_path: Path) -> None:
    init_instance(tmp_path)
    settings = load_settings(
        tmp_path, environ={"WHISTLE_DATABASE_URL": "postgresql://u:hunter2secret@db/whistle"}
    )
    shown = repr(settings) + settings.database_url_safe
    for secret in (settings.secret_key, settings.pepper, settings.instance_key):
        assert len(secret) == 32
        assert secret.hex() not in shown
    assert "hunter2secret" not in shown


def test_create_app_refuses_bad_settings(tmp_path: Path) -> None:
    init_instance(tmp_path)
    with pytest.raises(SettingsError, match="session_idle_minutes"):
        create_app({"session_idle_minutes": 0}, instance_path=tmp_path)
