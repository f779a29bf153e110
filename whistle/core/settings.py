"""Typed, frozen deployment settings, read once at start-up.

Sources, later ones winning: built-in defaults, ``<instance>/config.toml``, ``WHISTLE_*``
environment variables, and the ``overrides`` mapping passed to :func:`load_settings` (tests).
Secrets never live in ``config.toml``: they are separate files in the instance folder, created
by ``whistle init`` with mode 0600, so the config file can be shown to a colleague or put under
configuration management without leaking anything.

Every problem is collected and reported at once, so an operator fixes a config in one pass
instead of one error per start.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

SECRET_KEY_FILE = "secret_key"  # noqa: S105 - a file name, not a secret  # nosec B105
PEPPER_FILE = "pepper"
INSTANCE_KEY_FILE = "instance_key"
# Optional: the SMTP password for outgoing notifications (plain text, mode 0600).
SMTP_PASSWORD_FILE = "smtp_password"  # noqa: S105 - a file name, not a secret  # nosec B105
CONFIG_FILE = "config.toml"
# The default key store: key-encryption keys, outside the database (whistle/core/keystore.py).
KEYSTORE_FILE = "keystore.db"

LOCALES = ("da", "en")
# Where stored files live (whistle/core/storage.py, whistle/core/db_storage.py): the folder of
# ``file_store``, or tables of the application database, which several app machines share.
FILE_STORE_BACKENDS = ("folder", "database")
SMTP_SECURITY = ("starttls", "tls", "none")


class SettingsError(Exception):
    """The deployment's configuration is missing or malformed; the message says how to fix it."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            "Whistle cannot start: the configuration has problems:\n"
            + "\n".join(f"  - {p}" for p in problems)
        )


@dataclass(frozen=True)
class Settings:
    """Everything a running Whistle needs to know about its deployment."""

    instance_path: Path
    secret_key: bytes  # 32 random bytes each, from the instance folder's files
    pepper: bytes
    instance_key: bytes
    database_url: str
    file_store: Path
    base_url: str
    # The key store (whistle/core/keystore.py): a database of its own, never the application's.
    keystore_url: str
    file_store_backend: str = "folder"
    default_locale: str = "da"
    max_request_mb: int = 210
    session_idle_minutes: int = 15
    # Absolute lifetimes, however active the session (whistle/core/vault.py): a working day for
    # staff, an hour for a reporter's visit to the mailbox.
    staff_session_max_minutes: int = 8 * 60
    reporter_session_max_minutes: int = 60
    trusted_proxies: int = 0
    # Whether ``/`` names the deployment's organisations. Off: a law firm's clients, or a
    # group's companies, do not learn of each other from the bare address, nor does anyone
    # probing it; each organisation gives its people its own reporting address.
    list_organisations: bool = False
    argon2_profile: str = "production"
    log_level: str = "INFO"
    # Outgoing mail (whistle notify send). An empty host means mail is not configured.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"  # "starttls", "tls" (implicit TLS, port 465) or "none"
    smtp_username: str = ""
    smtp_password: str = ""  # from the instance folder's smtp_password file, never config.toml
    smtp_from: str = ""
    smtp_timeout: int = 30  # seconds per SMTP operation

    @property
    def secure_cookies(self) -> bool:
        """Cookies get ``Secure`` whenever the public address is HTTPS."""
        return self.base_url.startswith("https://")

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def __repr__(self) -> str:  # never print secrets, even in a debugger or a traceback
        return f"Settings(instance_path={self.instance_path!s}, database={self.database_url_safe})"

    @property
    def keystore_url_safe(self) -> str:
        """The key store URL with any password masked, for messages and logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.keystore_url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - a malformed URL is reported elsewhere
            return "<unparseable key store URL>"

    @property
    def database_url_safe(self) -> str:
        """The database URL with any password masked, for messages and logs."""
        from sqlalchemy.engine import make_url

        try:
            return make_url(self.database_url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - a malformed URL is reported elsewhere
            return "<unparseable database URL>"


# (name in config.toml and WHISTLE_<NAME>, python type)
_TUNABLES: dict[str, type] = {
    "database_url": str,
    "keystore_url": str,
    "file_store": Path,
    "file_store_backend": str,
    "base_url": str,
    "default_locale": str,
    "max_request_mb": int,
    "session_idle_minutes": int,
    "staff_session_max_minutes": int,
    "reporter_session_max_minutes": int,
    "trusted_proxies": int,
    "list_organisations": bool,
    "argon2_profile": str,
    "log_level": str,
    "smtp_host": str,
    "smtp_port": int,
    "smtp_security": str,
    "smtp_username": str,
    "smtp_from": str,
    "smtp_timeout": int,
}
# Secrets that people may try to put into config.toml, and the file they belong in instead.
_SECRET_FILES = {"smtp_password": SMTP_PASSWORD_FILE}


def default_instance_path() -> Path:
    """``$WHISTLE_INSTANCE`` or ``./instance``."""
    return Path(os.environ.get("WHISTLE_INSTANCE", "instance")).resolve()


def _read_secret(path: Path, problems: list[str]) -> bytes:
    if not path.exists():
        problems.append(f"{path} is missing: run `whistle init` to create the instance secrets")
        return b""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        problems.append(f"{path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    data = path.read_bytes().strip()
    try:
        raw = bytes.fromhex(data.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        raw = b""
    if len(raw) != 32:
        problems.append(
            f"{path} is not a 64-character hex secret: restore it from your backup, or (only "
            "for a new, empty instance) delete it and run `whistle init`"
        )
    return raw


def _read_optional_password(path: Path, problems: list[str]) -> str:
    """A password file that may be absent (empty password); owner-only like every secret."""
    if not path.exists():
        return ""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        problems.append(f"{path} is readable by others (mode {mode:o}): run `chmod 600 {path}`")
    try:
        # Only the line break an editor adds is removed: a password may end in spaces.
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        problems.append(f"{path} is not UTF-8 text")
        return ""


_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off")


def _coerce(name: str, kind: type, raw: Any, problems: list[str]) -> Any:
    if kind is bool:
        # TOML gives a boolean; an environment variable gives text.
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE + _FALSE:
            return raw.strip().lower() in _TRUE
        problems.append(f"{name} must be true or false, not {raw!r}")
        return None
    if kind is int:
        if isinstance(raw, bool):
            problems.append(f"{name} must be a whole number, not {raw!r}")
            return None
        try:
            return int(raw)
        except (TypeError, ValueError):
            problems.append(f"{name} must be a whole number, not {raw!r}")
            return None
    if kind is Path:
        return Path(str(raw))
    if not isinstance(raw, str):
        problems.append(f"{name} must be text, not {raw!r}")
        return None
    return raw


def load_settings(
    instance_path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the settings once; raise :class:`SettingsError` listing every problem found."""
    env = os.environ if environ is None else environ
    instance = (instance_path or Path(env.get("WHISTLE_INSTANCE", "instance"))).resolve()
    problems: list[str] = []
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{instance / 'whistle.db'}",
        "keystore_url": f"sqlite:///{instance / KEYSTORE_FILE}",
        "file_store": instance / "files",
        "base_url": "http://127.0.0.1:5000",
    }

    if not instance.is_dir():
        raise SettingsError(
            [f"the instance folder {instance} does not exist: run `whistle init` first"]
        )

    config_file = instance / CONFIG_FILE
    if config_file.exists():
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError([f"{config_file} is not valid TOML: {exc}"]) from None
        for key, raw in data.items():
            if key in _SECRET_FILES:
                problems.append(
                    f"{config_file}: {key} is a secret and is not read from config.toml: put it "
                    f"alone in {instance / _SECRET_FILES[key]} (mode 0600) and remove it here"
                )
                continue
            if key not in _TUNABLES:
                problems.append(f"{config_file}: unknown setting {key!r}")
                continue
            values[key] = _coerce(key, _TUNABLES[key], raw, problems)

    for key, kind in _TUNABLES.items():
        env_name = f"WHISTLE_{key.upper()}"
        if env_name in env:
            values[key] = _coerce(env_name, kind, env[env_name], problems)

    for key, raw in (overrides or {}).items():
        if key in _TUNABLES:
            values[key] = _coerce(key, _TUNABLES[key], raw, problems)
        elif key in {f.name for f in fields(Settings)}:
            values[key] = raw
        else:
            problems.append(f"unknown setting {key!r}")

    for name, filename in (
        ("secret_key", SECRET_KEY_FILE),
        ("pepper", PEPPER_FILE),
        ("instance_key", INSTANCE_KEY_FILE),
    ):
        if name not in values:
            values[name] = _read_secret(instance / filename, problems)
    if "smtp_password" not in values:
        values["smtp_password"] = _read_optional_password(instance / SMTP_PASSWORD_FILE, problems)

    _validate(values, problems)
    if problems:
        raise SettingsError(problems)
    values["file_store"] = Path(values["file_store"])
    if not values["file_store"].is_absolute():
        values["file_store"] = (instance / values["file_store"]).resolve()
    return Settings(instance_path=instance, **values)


def _validate(values: dict[str, Any], problems: list[str]) -> None:
    url = values.get("database_url")
    if isinstance(url, str) and not url.startswith(("sqlite://", "postgresql")):
        problems.append("database_url must be a sqlite:// or postgresql:// URL")
    _validate_keystore(values, problems)
    backend = values.get("file_store_backend", "folder")
    if isinstance(backend, str) and backend not in FILE_STORE_BACKENDS:
        problems.append(
            f'file_store_backend must be "folder" (files in the file_store folder, the '
            f'default) or "database" (files inside the application database, for several '
            f"app machines), not {backend!r}"
        )
    base = values.get("base_url")
    if isinstance(base, str) and not base.startswith(("http://", "https://")):
        problems.append("base_url must start with http:// or https://")
    if values.get("default_locale", "da") not in LOCALES:
        problems.append(f"default_locale must be one of {', '.join(LOCALES)}")
    for key, low, high in (
        ("max_request_mb", 1, 100_000),
        ("session_idle_minutes", 1, 24 * 60),
        ("staff_session_max_minutes", 5, 24 * 60),
        ("reporter_session_max_minutes", 5, 24 * 60),
        ("trusted_proxies", 0, 5),
        ("smtp_port", 1, 65535),
        ("smtp_timeout", 1, 600),
    ):
        value = values.get(key)
        if isinstance(value, int) and not low <= value <= high:
            problems.append(f"{key} must be between {low} and {high}, not {value}")
    if values.get("argon2_profile", "production") not in ("production", "test"):
        problems.append("argon2_profile must be 'production' or 'test'")
    if values.get("log_level", "INFO") not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        problems.append("log_level must be one of DEBUG, INFO, WARNING, ERROR")
    _validate_smtp(values, problems)


def _database_identity(url: str) -> tuple[str, ...] | None:
    """What makes two URLs the same database: the resolved file of SQLite; the host, port
    and database name of PostgreSQL (user and password aside)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception:  # noqa: BLE001 - reported as a malformed URL elsewhere
        return None
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:"):
            return None
        return ("sqlite", str(Path(database).resolve()))
    return (
        "postgresql",
        (parsed.host or "localhost").lower(),
        str(parsed.port or 5432),
        parsed.database or "",
    )


def _validate_keystore(values: dict[str, Any], problems: list[str]) -> None:
    url = values.get("keystore_url")
    if not isinstance(url, str):
        return
    if not url.startswith(("sqlite:///", "postgresql")):
        problems.append("keystore_url must be a sqlite:/// (a file) or postgresql:// URL")
        return
    database = values.get("database_url")
    if isinstance(database, str):
        own = _database_identity(url)
        if own is not None and own == _database_identity(database):
            problems.append(
                "keystore_url must not be the application database: deleting a case destroys "
                "its key there, which only works if no database backup holds it "
                "(docs/operations.md, Backups)"
            )


def _validate_smtp(values: dict[str, Any], problems: list[str]) -> None:
    if values.get("smtp_security", "starttls") not in SMTP_SECURITY:
        problems.append(f"smtp_security must be one of {', '.join(SMTP_SECURITY)}")
    if not values.get("smtp_host"):
        return
    sender = values.get("smtp_from")
    if not isinstance(sender, str) or "@" not in sender or any(c in sender for c in "\r\n"):
        problems.append("smtp_from must be the sender address (e.g. whistle@example.org)")
    if values.get("smtp_username") and not values.get("smtp_password"):
        problems.append(
            f"smtp_username is set but the password file {SMTP_PASSWORD_FILE} in the instance "
            "folder is missing or empty"
        )
