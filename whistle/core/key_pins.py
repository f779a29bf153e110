"""Trust anchors kept outside the database: the organisation keys' fingerprints, pinned in the
instance folder (``key_pins.json``).

Someone with write access to the database alone could otherwise replace an organisation's
recovery public key (every new case key would be sealed to a key they hold) or its
certification verify key (they could then certify keys of their own). The pins say which keys
were there when the organisation was created (or when the installation was upgraded to
pinning): whistle/keys/certification.py refuses to seal to a recovery key, or to trust a
certification key, that does not match them.

The file is not secret (fingerprints of public keys) but must be as well guarded against
writing as the rest of the instance folder. It is written when an organisation is created, by
the upgrade step (``whistle init``, ``whistle db upgrade``) and by ``whistle keys pin``, always
whole (a temporary file renamed over it) and under a lock, so app processes and commands can
write it at the same time.

The store travels with every database session the app makes (``Session.info``), because every
path that seals a key already takes the session; a session made without it seals nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from sqlalchemy.orm import Session

PINS_FILE = "key_pins.json"
_INFO_KEY = "whistle_key_pins"
FORMAT = 1


class PinsUnavailable(RuntimeError):
    """The database session carries no pin store, or the pin file cannot be read."""


@dataclass(frozen=True)
class OrgPins:
    """The pinned fingerprints of one organisation's keys.

    ``certification`` is None only for an organisation pinned before it had a certification
    key (never after the upgrade step). ``first_lead_trusted`` turns True, once and for good,
    when the organisation's first unit lead is trusted on first use; after that the server
    never again certifies anyone by itself (a restored database row cannot undo it).
    """

    slug: str
    recovery: str
    signing: str
    certification: str | None
    first_lead_trusted: bool


class PinStore:
    """The pin file of one instance folder."""

    def __init__(self, instance_path: Path) -> None:
        self.path = instance_path / PINS_FILE
        self._lock_path = instance_path / (PINS_FILE + ".lock")

    def exists(self) -> bool:
        """Whether the pin file has been written (the installation was ever pinned)."""
        return self.path.exists()

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise PinsUnavailable(f"cannot read {self.path.name}") from exc
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT:
                raise ValueError("unknown format")
            organisations = data["organisations"]
            if not isinstance(organisations, dict):
                raise ValueError("no organisations")
        except (ValueError, KeyError, AttributeError) as exc:
            raise PinsUnavailable(f"{self.path.name} is damaged") from exc
        return organisations

    def get(self, org_id: int) -> OrgPins | None:
        """The pins of ``org_id``, or None when it has none."""
        entry = self._read().get(str(org_id))
        if entry is None:
            return None
        try:
            return OrgPins(
                slug=str(entry["slug"]),
                recovery=str(entry["recovery"]),
                signing=str(entry["signing"]),
                certification=(
                    None if entry.get("certification") is None else str(entry["certification"])
                ),
                first_lead_trusted=bool(entry.get("first_lead_trusted", False)),
            )
        except KeyError as exc:
            raise PinsUnavailable(f"{self.path.name} is damaged") from exc

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _write(self, organisations: dict[str, dict[str, object]]) -> None:
        text = json.dumps(
            {"format": FORMAT, "organisations": organisations}, indent=1, sort_keys=True
        )
        temporary = self.path.with_name(self.path.name + ".new")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def pin(self, org_id: int, pins: OrgPins, *, replace_existing: bool = False) -> bool:
        """Pin ``org_id``'s keys; True when written. An existing pin is kept unless
        ``replace_existing`` (an operator's explicit decision, ``whistle keys pin``)."""
        with self._locked():
            organisations = self._read()
            if str(org_id) in organisations and not replace_existing:
                return False
            organisations[str(org_id)] = asdict(pins)
            self._write(organisations)
            return True

    def forget(self, org_id: int) -> bool:
        """Remove ``org_id``'s pins (the organisation was deleted for good); True if it had
        any. A database that reuses the number for a new organisation then pins that one
        afresh instead of holding it to the deleted one's keys."""
        with self._locked():
            organisations = self._read()
            if organisations.pop(str(org_id), None) is None:
                return False
            self._write(organisations)
            return True

    def mark_first_lead_trusted(self, org_id: int) -> bool:
        """Record that the organisation's first lead was trusted; False if it already was
        (or the organisation has no pins), in which case nobody may be trusted again."""
        with self._locked():
            organisations = self._read()
            entry = organisations.get(str(org_id))
            if entry is None or entry.get("first_lead_trusted"):
                return False
            current = self.get(org_id)
            assert current is not None
            organisations[str(org_id)] = asdict(replace(current, first_lead_trusted=True))
            self._write(organisations)
            return True


def session_info(instance_path: Path) -> dict[str, object]:
    """The ``Session.info`` that gives every session the pins of ``instance_path``."""
    return {_INFO_KEY: PinStore(instance_path)}


def pins_of(session: Session) -> PinStore:
    """The pin store the session was made with; :class:`PinsUnavailable` if none."""
    store = session.info.get(_INFO_KEY)
    if not isinstance(store, PinStore):
        raise PinsUnavailable("this database session has no key pins")
    return store
