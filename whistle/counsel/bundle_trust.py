"""Whose signature counsel accepts on a case file: the organisation's key, pinned.

A case file names its organisation and carries the key that signed it, so the signature alone
proves nothing: anyone can make a key, seal a forged case file to counsel's public key and
sign it. ``whistle export open`` and ``whistle export verify`` therefore accept a signer only
if it matches a key counsel pinned (docs/export-format.md, "Whose signature counts"):

- ``--signing-key HEX``, the organisation's verify key as it publishes it (its receipt page);
- the organisation's verify key in counsel's key file (version 2), downloaded over counsel's
  own signed-in session from the organisation's "Case files" page;
- trust on first use: the pin file (``$WHISTLE_PINS``, else
  ``$XDG_CONFIG_HOME/whistle/pins.json``, else ``~/.config/whistle/pins.json``) records the key
  of each organisation the first time one of its case files verifies; a later file from that
  organisation signed by another key is refused until counsel re-pins deliberately, with the
  new key in hand (``--signing-key`` or a new key file, and ``--repin``).

Every source given must agree; the pin file is written only after the whole file verified.
Organisations are named by their slug, as case files name them.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from crypto import OpenError, VerifyKey
from whistle.counsel.bundle_format import KeyFile

PINS_FORMAT = "whistle-pins"
PINS_VERSION = 1


class UntrustedSigner(ValueError):
    """The case file's signer matches no key counsel pinned; the text says what to do."""


class PinFileError(ValueError):
    """The pin file cannot be read or written; the text names the file and the problem."""


def default_pin_file(environ: Mapping[str, str] | None = None) -> Path:
    """Where counsel's pins live, from the environment (see the module docstring)."""
    env = os.environ if environ is None else environ
    if env.get("WHISTLE_PINS"):
        return Path(env["WHISTLE_PINS"]).expanduser()
    config = env.get("XDG_CONFIG_HOME") or str(Path("~/.config").expanduser())
    return Path(config) / "whistle" / "pins.json"


@dataclass
class PinFile:
    """Counsel's pinned organisation keys, one JSON file in their own configuration."""

    path: Path
    _pins: dict[str, dict[str, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> PinFile:
        """The pins in ``path`` (none if it does not exist yet); PinFileError if damaged."""
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return cls(path)
        except OSError as exc:
            raise PinFileError(f"{path}: {exc.strerror or type(exc).__name__}") from None
        try:
            data = json.loads(raw)
            pins = data["organisations"]
            if data.get("format") != PINS_FORMAT or not isinstance(pins, dict):
                raise ValueError
            for entry in pins.values():
                VerifyKey.from_bytes(bytes.fromhex(entry["verify_key"]))
        except (ValueError, KeyError, TypeError, AttributeError, OpenError):
            raise PinFileError(
                f"{path}: not a Whistle pin file, or damaged; repair or remove it"
            ) from None
        return cls(path, pins)

    def get(self, organisation: str) -> tuple[VerifyKey, str] | None:
        """The pinned key of ``organisation`` and the day it was pinned, if any."""
        entry = self._pins.get(organisation)
        if entry is None:
            return None
        return VerifyKey.from_bytes(bytes.fromhex(entry["verify_key"])), entry.get("pinned_on", "")

    def pin(self, organisation: str, key: VerifyKey, today: date) -> None:
        """Record ``key`` for ``organisation`` and write the file (owner-only, atomically)."""
        self._pins[organisation] = {
            "verify_key": key.to_bytes().hex(),
            "fingerprint": key.fingerprint(),
            "pinned_on": today.isoformat(),
        }
        text = json.dumps(
            {"format": PINS_FORMAT, "version": PINS_VERSION, "organisations": self._pins},
            indent=1,
            sort_keys=True,
        )
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".pins-")
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as out:
                    out.write(text + "\n")
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise PinFileError(f"{self.path}: {exc.strerror or type(exc).__name__}") from None


@dataclass(frozen=True)
class Trusted:
    """Why a signer was accepted, and whether the pin file is to be written."""

    sources: tuple[str, ...]  # "--signing-key", "key file", "pin file", "first use"
    write_pin: bool
    repinned_from: VerifyKey | None = None


def check_signer(
    organisation: str,
    key: VerifyKey,
    *,
    expected: VerifyKey | None,
    key_file: KeyFile | None,
    pins: PinFile | None,
    repin: bool = False,
) -> Trusted:
    """Accept ``key`` as ``organisation``'s signer only if every pin given agrees with it;
    UntrustedSigner, with what to do, otherwise. Nothing is written here."""
    sources: list[str] = []
    explicit = False
    if expected is not None:
        if key != expected:
            raise UntrustedSigner(
                f"the case file is signed by the key {key.fingerprint()}, not by the key given "
                f"with --signing-key ({expected.fingerprint()})."
            )
        sources.append("--signing-key")
        explicit = True
    if (
        key_file is not None
        and key_file.verify_key is not None
        and key_file.organisation == organisation
    ):
        if key != key_file.verify_key:
            raise UntrustedSigner(
                f"the case file is signed by the key {key.fingerprint()}, not by "
                f"{organisation!r}'s signing key in your key file "
                f"({key_file.verify_key.fingerprint()}). It was not made by the "
                "organisation: do not trust it."
            )
        sources.append("key file")
        explicit = True
    if repin and not explicit:
        raise UntrustedSigner(
            "--repin needs the organisation's new key: give it with --signing-key, or use a key "
            "file (version 2) of that organisation."
        )
    pinned = pins.get(organisation) if pins is not None else None
    repinned_from = None
    if pinned is not None:
        if pinned[0] == key:
            sources.append("pin file")
        elif repin and explicit:
            repinned_from = pinned[0]
        else:
            where = pins.path if pins is not None else "the pin file"
            raise UntrustedSigner(
                f"organisation {organisation!r} was pinned to the key {pinned[0].fingerprint()} "
                f"(in {where}, on {pinned[1] or 'an earlier day'}); this case file is signed by "
                f"another key, {key.fingerprint()}. If the organisation really changed its key, "
                "get the new one from the organisation (its receipt page, or a new key file from "
                "your Case files page) and run again with --repin and --signing-key NEW-KEY or "
                "--key NEW-KEY-FILE."
            )
    if (
        key_file is not None
        and key_file.organisation is not None
        and key_file.organisation != organisation
        and not sources
        and repinned_from is None
    ):
        raise UntrustedSigner(
            f"the case file says it is from organisation {organisation!r}, but your key file "
            f"is from {key_file.organisation!r}. Use the key file from the Case files page of "
            f"{organisation!r}, or give its signing key with --signing-key."
        )
    if not sources and repinned_from is None:
        sources.append("first use")
    return Trusted(
        tuple(sources),
        write_pin=pins is not None and (pinned is None or repinned_from is not None),
        repinned_from=repinned_from,
    )
