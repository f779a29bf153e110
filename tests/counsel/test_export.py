"""Case files for counsel: the bundle round trip, tampering, the wrong counsel, and what a
bundle never holds (issue 7; whistle/counsel/export.py, docs/export-format.md)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.steps.cases import keys_of
from tests.steps.counsel import (
    CONTACT,
    EVIDENCE,
    NAME,
    NOTE,
    REPORT,
    counsel,
    exported_case,
    opened,
)
from tests.steps.factories import Unit
from whistle.core.clock import FixedClock
from whistle.core.models import AuditEntry, CaseExport, Disclosure
from whistle.core.org_keys import signing_key, verify_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import bundle_reader, export
from whistle.counsel.bundle_format import MAGIC


def test_a_bundle_opens_for_its_counsel_and_every_part_matches(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, made = exported_case(app, session, clock, unit, conny, notes=True)
    archive = opened(app, made, conny)
    names = archive.namelist()
    assert names[:2] == ["case.json", "case.pdf"] and names[-2:] == [
        "manifest.json",
        "manifest.sig",
    ]
    document = json.loads(archive.read("case.json"))
    assert document["case"]["reference"] == case.reference
    assert document["report"]["what"] == REPORT
    assert [n["body"] for n in document["notes"]] == [NOTE]
    [file_entry] = document["report_files"]
    assert file_entry["name"] == "lagerliste æøå.txt"
    assert archive.read(file_entry["path"]) == EVIDENCE.data
    assert archive.read("case.pdf").startswith(b"%PDF")
    # The PDF speaks the organisation's language (Danish here) and holds the report.
    from pypdf import PdfReader

    pdf_text = " ".join(
        page.extract_text() for page in PdfReader(io.BytesIO(archive.read("case.pdf"))).pages
    )
    assert "Dialog med indberetteren" in pdf_text and "Indberetningen" in pdf_text
    assert "EXPORTMARKER" in pdf_text
    with app.app_context():
        expected = verify_key(session, unit.org.id)
    archive.fp.seek(0)  # type: ignore[union-attr]
    checked = bundle_reader.verify_archive(archive.fp, expected_key=expected)  # type: ignore[arg-type]
    assert (checked.case, checked.parts) == (case.reference, 3)
    # Recorded: the audit log and the case's disclosure register.
    assert session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.case_id == case.id, AuditEntry.action == "case.exported"
        )
    ).one()
    disclosure = session.scalars(select(Disclosure)).one()
    assert (disclosure.recipient_user_id, disclosure.export_id, disclosure.includes_identity) == (
        conny.user.id,
        made.id,
        False,
    )


def test_no_identity_and_no_notes_unless_chosen(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    archive = opened(app, made, conny)
    everything = b"".join(archive.read(n) for n in archive.namelist())
    for secret in (b"IDENTITYMARKER", CONTACT.encode(), b"NOTEMARKER"):
        assert secret not in everything
    assert b"EXPORTMARKER" in everything
    document = json.loads(archive.read("case.json"))
    assert document["identity"] is None and document["notes"] is None


@pytest.mark.parametrize(
    ("ground", "carried"), [("consent", True), ("authority", False), ("defence", False)]
)
def test_only_the_reporters_consent_lets_a_case_file_carry_the_identity(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, ground: str, carried: bool
) -> None:
    """Act § 26: without consent the identity goes only to a public authority. A ready
    disclosure to counsel on a legal ground (made before migration 0018, or forged in the
    database) never lets it into a case file."""
    from datetime import date

    from whistle.core.models import IdentityDisclosure
    from whistle.core.refusals import Refused

    conny = counsel(app, session, clock, unit, "Conny Counsel")
    case, _first = exported_case(app, session, clock, unit, conny, notes=False)
    session.add(
        IdentityDisclosure(
            uid="00000000-0000-4000-8000-000000000026",
            org_id=case.org_id,
            case_id=case.id,
            recipient="counsel",
            recipient_user_id=conny.user.id,
            ground=ground,
            notice="consent" if ground == "consent" else "sent",
            status="ready",
            requested_on=date(2026, 3, 1),
        )
    )
    session.commit()
    staff, rt = unit.handlers[0], runtime(app)

    def export_with_identity() -> CaseExport:
        with app.app_context():
            return export.export_case(
                session,
                clock,
                FileStore(rt.settings.file_store),
                unit.org,
                case,
                keys_of(session, case, staff),
                staff.user.id,
                counsel_id=conny.user.id,
                include_notes=False,
                include_identity=True,
                signing_key=signing_key(session, unit.org.id, rt.settings.instance_key),
            )

    if carried:
        made = export_with_identity()
        document = json.loads(opened(app, made, conny).read("case.json"))
        assert document["identity"]["name"] == NAME
        assert document["identity"]["disclosure"]["ground"] == "consent"
    else:
        with pytest.raises(Refused) as refused:
            export_with_identity()
        assert refused.value.field == "include_identity"
        assert session.scalar(select(func.count()).select_from(CaseExport)) == 1
        assert session.scalars(select(IdentityDisclosure.status)).one() == "ready"


def test_another_counsel_cannot_open_it(
    app: Flask, session: Session, clock: FixedClock, unit: Unit
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    other = counsel(app, session, clock, unit, "Otto Other")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    with pytest.raises(bundle_reader.BundleError) as refused:
        opened(app, made, other)
    assert refused.value.part == "bundle key"


@pytest.mark.parametrize("where", ["header", "organisation", "start", "middle", "end"])
def test_a_flipped_byte_in_the_bundle_is_found(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, where: str
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    path = FileStore(runtime(app).settings.file_store).path(made.storage_name)
    data = bytearray(path.read_bytes())
    with path.open("rb") as src:
        bundle_reader.read_header(src)
        header = src.tell()
    assert header > len(MAGIC) + 2 + 36 + 2 + len(made.sealed_key)  # format 2: signed
    offset = {
        "header": 3,
        "organisation": len(MAGIC) + 2 + 36 + 2 + 1,  # inside the signed header (format 2)
        "start": header + 10,
        "middle": len(data) // 2,
        "end": len(data) - 5,
    }
    data[offset[where]] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(bundle_reader.BundleError) as refused:
        opened(app, made, conny)
    assert refused.value.part in ("bundle", "bundle key", "bundle header")


@pytest.mark.parametrize(
    "part", ["case.json", "case.pdf", "files", "manifest.json", "manifest.sig"]
)
def test_a_flipped_byte_in_any_part_is_named(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, tmp_path: Path, part: str
) -> None:
    conny = counsel(app, session, clock, unit, "Conny Counsel")
    _case, made = exported_case(app, session, clock, unit, conny, notes=False)
    archive = opened(app, made, conny)
    parts = {n: archive.read(n) for n in archive.namelist()}
    target = next(n for n in parts if n.startswith(part))
    changed = bytearray(parts[target])
    changed[len(changed) // 2] ^= 0x01
    parts[target] = bytes(changed)
    rebuilt = io.BytesIO()
    with zipfile.ZipFile(rebuilt, "w") as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    rebuilt.seek(0)
    with pytest.raises(bundle_reader.BundleError) as refused:
        bundle_reader.verify_archive(rebuilt)
    expected = "manifest.sig" if target in ("manifest.json", "manifest.sig") else target
    assert refused.value.part == expected


# --- counsel's pages and the command line -------------------------------------------------------


def test_counsel_reads_only_their_bundles_and_opens_one_offline(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tests.steps.cases import hanne, signed_in
    from tests.steps.pages import text_of
    from tests.steps.staff import CaseWorker
    from whistle.counsel.cli import export_cli

    conny = counsel(app, session, clock, unit, "Conny Counsel")
    other = counsel(app, session, clock, unit, "Otto Other")
    case, made = exported_case(app, session, clock, unit, conny, notes=True)

    # The handler's case page lists the export in the disclosure register.
    worker = signed_in(hanne(app, clock, unit))
    page = text_of(worker.open_case(case.reference))
    assert (
        "case file to Conny Counsel · with internal notes Hanne Handler without the reporter's "
        "identity" in page
    )

    reader = CaseWorker(app, clock, conny, slug=unit.org.slug)
    assert reader.sign_in().status_code == 303
    listing = text_of(reader.get(f"/staff/{unit.org.slug}/counsel/"))
    assert case.reference in listing
    shown = text_of(reader.get(f"/staff/{unit.org.slug}/counsel/{made.id}"))
    assert "EXPORTMARKER" in shown and "NOTEMARKER" in shown and "IDENTITYMARKER" not in shown
    pdf = reader.get(f"/staff/{unit.org.slug}/counsel/{made.id}/case.pdf")
    assert pdf.status_code == 200 and pdf.get_data().startswith(b"%PDF")
    bundle = reader.get(f"/staff/{unit.org.slug}/counsel/{made.id}/bundle")
    assert bundle.status_code == 200
    bundle_path = tmp_path / "case.whistle-export"
    bundle_path.write_bytes(bundle.get_data())
    key = reader.get(f"/staff/{unit.org.slug}/counsel/key")
    key_path = tmp_path / "counsel.key"
    key_path.write_bytes(key.get_data())

    stranger = CaseWorker(app, clock, other, slug=unit.org.slug)
    assert stranger.sign_in().status_code == 303
    assert case.reference not in text_of(stranger.get(f"/staff/{unit.org.slug}/counsel/"))
    assert stranger.get(f"/staff/{unit.org.slug}/counsel/{made.id}").status_code == 404
    assert stranger.get(f"/staff/{unit.org.slug}/counsel/{made.id}/bundle").status_code == 404

    from tests.steps.factories import TEST_PASSWORD

    runner = CliRunner()
    out = tmp_path / "opened"
    wrong = runner.invoke(
        export_cli,
        ["open", str(bundle_path), "--key", str(key_path), "--out", str(out)],
        input="not-the-password\n",
    )
    assert wrong.exit_code == 1 and "Wrong password" in wrong.output
    done = runner.invoke(
        export_cli,
        ["open", str(bundle_path), "--key", str(key_path), "--out", str(out)],
        input=f"{TEST_PASSWORD}\n",
    )
    assert done.exit_code == 0, done.output
    assert f"case {case.reference}: 3 parts verified" in done.output
    document = json.loads((out / "case.json").read_text())
    assert (out / document["report_files"][0]["path"]).read_bytes() == EVIDENCE.data

    assert runner.invoke(export_cli, ["verify", str(out)]).exit_code == 0
    # A signing key that is hex but no verify key is named, not a traceback.
    for bad in ("00", "zz"):
        refused = runner.invoke(export_cli, ["verify", str(out), "--signing-key", bad])
        assert refused.exit_code == 1 and "not a verify key" in refused.output
        assert refused.exception is None or isinstance(refused.exception, SystemExit)
    pdf_path = out / "case.pdf"
    data = bytearray(pdf_path.read_bytes())
    data[100] ^= 0x01
    pdf_path.write_bytes(bytes(data))
    failed = runner.invoke(export_cli, ["verify", str(out)])
    assert failed.exit_code == 1
    assert "FAILED: case.pdf: its SHA-256 does not match the manifest" in failed.output
