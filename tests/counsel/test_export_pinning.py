"""Whose signature counts on a case file for counsel (issue 14 item 5;
whistle/counsel/bundle_trust.py,
whistle/counsel/bundle_format.py, docs/export-format.md "Whose signature counts").

The attack: anyone can make a signing key, seal a case file to counsel's public key and sign
it; before issue 14 such a file opened and verified, as the manifest carries the key that
signed it. Now ``whistle export open`` and ``verify`` accept only the organisation's key as
counsel pinned it (``--signing-key``, the key file, or first use), and the header is signed
too (format 2). Counsel uses the real pages to get the key file and the case files.
"""

from __future__ import annotations

import base64
import io
import json
import struct
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flask import Flask
from sqlalchemy.orm import Session

from crypto import SigningKey
from tests.steps.cases import keys_of
from tests.steps.counsel import REPORT, counsel, exported_case
from tests.steps.factories import TEST_PASSWORD, Staff, Unit
from tests.steps.pages import text_of
from tests.steps.staff import CaseWorker
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.core.models import Case, CaseExport
from whistle.core.org_keys import signing_key, verify_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import bundle_reader, export
from whistle.counsel.bundle_format import MAGIC, MAGIC_V1, field, header, parse_key_file


class Counsel(CaseWorker):
    """Counsel at their desk: the Case files page in the browser, then the command line."""

    def __init__(self, app: Flask, clock: FixedClock, staff: Staff, slug: str, desk: Path) -> None:
        super().__init__(app, clock, staff, slug=slug)
        self.desk = desk
        desk.mkdir(exist_ok=True)
        assert self.sign_in().status_code == 303

    def download_key_file(self) -> Path:
        key = self.get(f"/staff/{self.slug}/counsel/key")
        assert key.status_code == 200
        path = self.desk / "whistle-counsel.key"
        path.write_bytes(key.get_data())
        return path

    def old_key_file(self) -> Path:
        """The same key as a version-1 key file, as counsel downloaded before issue 14."""
        wrapped = self.staff.user.wrapped_private_key
        assert wrapped is not None
        path = self.desk / "old-counsel.key"
        path.write_text(f"WHISTLE COUNSEL KEY FILE v1\n{base64.b64encode(wrapped).decode()}\n")
        return path

    def download_bundle(self, made: CaseExport, name: str) -> Path:
        response = self.get(f"/staff/{self.slug}/counsel/{made.id}/bundle")
        assert response.status_code == 200
        path = self.desk / name
        path.write_bytes(response.get_data())
        return path

    def open(self, bundle: Path, key: Path, out: str, *options: str) -> Result:
        return CliRunner().invoke(
            cli,
            [
                "export",
                "open",
                str(bundle),
                "--key",
                str(key),
                "--out",
                str(self.desk / out),
                *options,
            ],
            input=f"{TEST_PASSWORD}\n",
        )

    def verify(self, path: Path, *options: str) -> Result:
        return CliRunner().invoke(cli, ["export", "verify", str(path), *options])


def refused(result: Result, *phrases: str) -> None:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output
    for phrase in phrases:
        assert phrase in result.output, result.output


def forged_export(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, case: Case, to: Staff
) -> tuple[CaseExport, SigningKey]:
    """A case file sealed to counsel and signed by a stranger's key, as anyone who knows
    counsel's public key could make one (here through the writer itself, so only the key
    differs)."""
    stranger = SigningKey.generate()
    staff = unit.handlers[0]
    with app.app_context():
        made = export.export_case(
            session,
            clock,
            FileStore(runtime(app).settings.file_store),
            unit.org,
            case,
            keys_of(session, case, staff),
            staff.user.id,
            counsel_id=to.user.id,
            include_notes=False,
            signing_key=stranger,
        )
    return made, stranger


def org_signing_key(app: Flask, session: Session, unit: Unit) -> SigningKey:
    with app.app_context():
        return signing_key(session, unit.org.id, runtime(app).settings.instance_key)


@pytest.fixture
def desk(tmp_path: Path) -> Path:
    return tmp_path / "counsel-desk"


def test_a_case_file_forged_with_a_strangers_key_is_refused(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
    counsel_pin_file: Path,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, genuine = exported_case(app, session, clock, unit, conny, notes=False)
    forged, stranger = forged_export(app, session, clock, unit, case, conny)
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    key_file = reader.download_key_file()
    real = reader.download_bundle(genuine, "genuine.whistle-export")
    fake = reader.download_bundle(forged, "forged.whistle-export")
    published = verify_key(session, unit.org.id)

    # The key file (version 2) pins the organisation's key: the forgery is refused before
    # anything is decrypted or unpacked, and it says so.
    result = reader.open(fake, key_file, "forged")
    refused(result, "REFUSED", stranger.verify_key().fingerprint(), published.fingerprint())
    assert not (desk / "forged").exists()
    assert REPORT not in result.output

    # The genuine file opens, names its pins, and is recorded in the pin file.
    done = reader.open(real, key_file, "genuine")
    assert done.exit_code == 0, done.output
    assert "header signed by the organisation (format 2)" in done.output
    assert "signer trusted by: key file" in done.output
    pins = json.loads(counsel_pin_file.read_text())
    assert pins["organisations"][unit.org.slug]["verify_key"] == published.to_bytes().hex()

    # With an old key file (version 1), the pin from the genuine file refuses the forgery.
    old_key = reader.old_key_file()
    refused(reader.open(fake, old_key, "forged-2"), "was pinned to the key", "--repin")
    # And so does the key the organisation publishes, given by hand.
    counsel_pin_file.unlink()
    refused(
        reader.open(fake, old_key, "forged-3", "--signing-key", published.to_bytes().hex()),
        "not by the key given with --signing-key",
    )

    # `verify` on the forged archive (as if unpacked by an older Whistle) refuses it the same
    # ways: by the pin, by the key file, by --signing-key.
    archive = desk / "forged.zip"
    assert conny.private_key is not None
    with archive.open("wb") as out:
        bundle_reader.open_bundle(fake, conny.private_key, out)
    assert reader.verify(real.parent / "genuine").exit_code == 0  # pins the real key again
    refused(reader.verify(archive), "was pinned to the key")
    counsel_pin_file.unlink()
    refused(reader.verify(archive, "--key", str(key_file)), "not by 'testfirma''s signing key")
    refused(
        reader.verify(archive, "--signing-key", published.to_bytes().hex()),
        "not by the key given with --signing-key",
    )
    assert not counsel_pin_file.exists()  # a refused file pins nothing


def test_first_use_pins_and_a_new_key_needs_a_deliberate_repin(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
    counsel_pin_file: Path,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, first = exported_case(app, session, clock, unit, conny, notes=False)
    # Later the organisation changes its signing key (here: a new key signs the next file).
    rotated, new_key = forged_export(app, session, clock, unit, case, conny)
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    old_key_file = reader.old_key_file()
    before = reader.download_bundle(first, "first.whistle-export")
    after = reader.download_bundle(rotated, "rotated.whistle-export")

    done = reader.open(before, old_key_file, "first")
    assert done.exit_code == 0, done.output
    old = verify_key(session, unit.org.id)
    assert f"first use: pinned organisation 'testfirma' to the signing key {old.fingerprint()}" in (
        done.output
    )
    assert counsel_pin_file.exists()
    assert reader.open(before, old_key_file, "first-again").exit_code == 0

    refused(reader.open(after, old_key_file, "rotated"), "was pinned to the key", "--repin")
    refused(reader.open(after, old_key_file, "rotated", "--repin"), "--repin needs")
    new_hex = new_key.verify_key().to_bytes().hex()
    repinned = reader.open(after, old_key_file, "rotated", "--repin", "--signing-key", new_hex)
    assert repinned.exit_code == 0, repinned.output
    assert f"re-pinned organisation 'testfirma': {old.fingerprint()} replaced by" in (
        repinned.output
    )
    # Now the old key is the stranger.
    refused(reader.open(before, old_key_file, "first-3"), "was pinned to the key")


def test_a_damaged_pin_file_is_named_not_overwritten(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
    counsel_pin_file: Path,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    bundle = reader.download_bundle(made, "case.whistle-export")
    counsel_pin_file.parent.mkdir(parents=True)
    counsel_pin_file.write_text("{not json")
    refused(reader.open(bundle, reader.download_key_file(), "out"), "not a Whistle pin file")
    assert counsel_pin_file.read_text() == "{not json"


def rebuilt(path: Path, new_header: bytes, body_from: Path) -> None:
    """``path`` becomes ``new_header`` followed by the encrypted archive of ``body_from``."""
    with body_from.open("rb") as src:
        bundle_reader.read_header(src)
        body = src.read()
    path.write_bytes(new_header + body)


def test_the_header_is_signed_and_cannot_be_swapped_or_edited(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, one = exported_case(app, session, clock, unit, conny, notes=False)
    _case2, two = exported_case(app, session, clock, unit, conny, notes=False)
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    key_file = reader.download_key_file()
    first = reader.download_bundle(one, "one.whistle-export")
    second = reader.download_bundle(two, "two.whistle-export")
    org_key = org_signing_key(app, session, unit)
    with first.open("rb") as src:
        parsed = bundle_reader.read_header(src)
    assert (parsed.version, parsed.organisation) == (2, unit.org.slug)
    assert parsed.verify_key == org_key.verify_key()

    # Another export's signed header in front of this archive: the archive is bound to its own
    # export, so it does not open.
    swapped = desk / "swapped.whistle-export"
    with second.open("rb") as src:
        bundle_reader.read_header(src)
        second_header = second.read_bytes()[: src.tell()]
    rebuilt(swapped, second_header, first)
    refused(reader.open(swapped, key_file, "swapped"), "FAILED: bundle:")

    # An edited header (another organisation named) no longer matches its signature.
    edited = desk / "edited.whistle-export"
    data = first.read_bytes()
    edited.write_bytes(data.replace(b"\x00\x09testfirma", b"\x00\x09testfirmb", 1))
    refused(reader.open(edited, key_file, "edited"), "FAILED: bundle header: its signature")

    # The same header re-signed by a stranger: refused by the key file before decrypting, and
    # on first use (no pins at all) by the manifest, which the organisation signed.
    stranger = SigningKey.generate()
    resigned = desk / "resigned.whistle-export"
    rebuilt(resigned, header(one.uid, unit.org.slug, one.sealed_key, stranger), first)
    refused(reader.open(resigned, key_file, "resigned"), "REFUSED")
    refused(
        reader.open(resigned, reader.old_key_file(), "resigned-2"),
        "FAILED: manifest.json: signed by another key than expected",
    )


def test_a_format_1_case_file_still_opens_and_says_its_header_is_not_signed(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    current = reader.download_bundle(made, "case.whistle-export")
    # Exactly what the writer before issue 14 wrote: magic 01, export id, sealed key.
    old = desk / "old.whistle-export"
    rebuilt(old, MAGIC_V1 + field(made.uid.encode()) + field(made.sealed_key), current)
    assert old.read_bytes()[:16] == MAGIC_V1 and current.read_bytes()[:16] == MAGIC

    done = reader.open(old, reader.old_key_file(), "old")
    assert done.exit_code == 0, done.output
    assert "header not signed (format 1)" in done.output
    assert "first use: pinned organisation 'testfirma'" in done.output
    # The manifest still speaks for the organisation: a stranger's format-1 file is refused.
    case = session.get(Case, made.case_id)
    assert case is not None
    forged, _stranger = forged_export(app, session, clock, unit, case, conny)
    fake_current = reader.download_bundle(forged, "forged.whistle-export")
    fake_old = desk / "forged-old.whistle-export"
    rebuilt(
        fake_old, MAGIC_V1 + field(forged.uid.encode()) + field(forged.sealed_key), fake_current
    )
    refused(reader.open(fake_old, reader.old_key_file(), "forged-old"), "was pinned to the key")
    refused(reader.open(fake_old, reader.download_key_file(), "forged-old-2"), "REFUSED")
    # A newer format than this Whistle knows is named as such.
    newer = desk / "newer.whistle-export"
    newer.write_bytes(MAGIC[:-1] + b"\x03" + current.read_bytes()[16:])
    refused(reader.open(newer, reader.download_key_file(), "newer"), "format 3, newer")


def test_counsels_key_file_carries_the_organisations_key(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    published = verify_key(session, unit.org.id)
    page = text_of(reader.get(f"/staff/{unit.org.slug}/counsel/"))
    assert published.fingerprint() in page
    path = reader.download_key_file()
    text = path.read_text()
    assert text.startswith("WHISTLE COUNSEL KEY FILE v2\n")
    parsed = parse_key_file(text)
    assert (parsed.version, parsed.organisation, parsed.verify_key) == (
        2,
        unit.org.slug,
        published,
    )
    assert parsed.wrapped_private_key == conny.user.wrapped_private_key
    assert parse_key_file(reader.old_key_file().read_text()).version == 1
    # A hand-edited key (its fingerprint line no longer matching) is refused with a reason.
    stranger = SigningKey.generate().verify_key().to_bytes().hex()
    edited = desk / "edited.key"
    edited.write_text(text.replace(published.to_bytes().hex(), stranger))
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    bundle = reader.download_bundle(made, "case.whistle-export")
    refused(reader.open(bundle, edited, "out"), "fingerprint does not match its signing key")


def test_a_case_file_of_another_organisation_needs_that_organisations_key_file(
    app: Flask,
    session: Session,
    clock: FixedClock,
    unit: Unit,
    desk: Path,
) -> None:
    """A key file pins one organisation. A file claiming to come from another is not taken
    on first use with it: counsel uses that organisation's key file or --signing-key."""
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    reader = Counsel(app, clock, conny, unit.org.slug, desk)
    bundle = reader.download_bundle(made, "case.whistle-export")
    key_file = reader.download_key_file()
    elsewhere = desk / "elsewhere.key"
    wrapped = conny.user.wrapped_private_key
    assert wrapped is not None
    from whistle.counsel.bundle_format import key_file_text

    elsewhere.write_text(key_file_text(wrapped, "andetfirma", SigningKey.generate().verify_key()))
    refused(reader.open(bundle, elsewhere, "out"), "your key file is from 'andetfirma'")
    published = verify_key(session, unit.org.id).to_bytes().hex()
    done = reader.open(bundle, elsewhere, "out", "--signing-key", published)
    assert done.exit_code == 0, done.output
    assert reader.open(bundle, key_file, "out-2").exit_code == 0


def test_a_manifest_of_another_export_does_not_pass_for_this_one(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    path = FileStore(runtime(app).settings.file_store).path(made.storage_name)
    out = io.BytesIO()
    assert conny.private_key is not None
    header_read = bundle_reader.open_bundle(path, conny.private_key, out)
    out.seek(0)
    checked = bundle_reader.verify_archive(out)
    bundle_reader.check_matches_header(checked, header_read)
    other = bundle_reader.BundleHeader(
        2, "00000000-0000-4000-8000-000000000000", b"", unit.org.slug, checked.signer
    )
    with pytest.raises(bundle_reader.BundleError, match="another export"):
        bundle_reader.check_matches_header(checked, other)
    moved = bundle_reader.BundleHeader(2, made.uid, b"", "andetfirma", checked.signer)
    with pytest.raises(bundle_reader.BundleError, match="another organisation"):
        bundle_reader.check_matches_header(checked, moved)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as zf:
        assert json.loads(zf.read("manifest.json"))["organisation"] == unit.org.slug
    assert struct.unpack(">H", field(b"abc")[:2]) == (3,)
