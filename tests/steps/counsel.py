"""Case files for counsel: counsel as a person, a case exported for them, a bundle opened."""

from __future__ import annotations

import io
import zipfile

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.steps.cases import keys_of
from tests.steps.factories import Staff, Unit, add_staff, certify
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from whistle.cases import handling
from whistle.core.clock import FixedClock
from whistle.core.models import Case, CaseExport, Role
from whistle.core.org_keys import signing_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.counsel import bundle_reader, export

REPORT = "Fake report EXPORTMARKER: pallets leave the warehouse at night."
NAME = "Rikke IDENTITYMARKER"
CONTACT = "rikke.identity@example.org"
EVIDENCE = Upload("lagerliste æøå.txt", b"Fake stock list, line by line.\n" * 3000)
NOTE = "Fake internal note NOTEMARKER: check the camera."


def counsel(app: Flask, session: Session, clock: FixedClock, unit: Unit, name: str) -> Staff:
    with app.app_context():
        made = add_staff(
            session,
            clock,
            unit.org,
            name,
            [Role.COUNSEL],
            instance_key=runtime(app).settings.instance_key,
        )
        session.commit()
        certify(session, clock, unit, made)  # the lead compared fingerprints with them
    return made


def exported_case(
    app: Flask, session: Session, clock: FixedClock, unit: Unit, to: Staff, *, notes: bool
) -> tuple[Case, CaseExport]:
    Reporter(app, unit.org.slug).report(
        ReportAnswers(what=REPORT, named=True, name=NAME, contact=CONTACT, files=[EVIDENCE])
    )
    session.expire_all()
    case = session.scalars(select(Case).order_by(Case.id.desc()).limit(1)).one()
    staff = unit.handlers[0]
    rt = runtime(app)
    with app.app_context():
        keys = keys_of(session, case, staff)
        handling.add_note(session, clock, case, keys, staff.user.id, NOTE)
        made = export.export_case(
            session,
            clock,
            FileStore(rt.settings.file_store),
            unit.org,
            case,
            keys,
            staff.user.id,
            counsel_id=to.user.id,
            include_notes=notes,
            signing_key=signing_key(session, unit.org.id, rt.settings.instance_key),
        )
    return case, made


def opened(app: Flask, made: CaseExport, staff: Staff) -> zipfile.ZipFile:
    assert staff.private_key is not None
    out = io.BytesIO()
    bundle = FileStore(runtime(app).settings.file_store).path(made.storage_name)
    assert bundle_reader.open_bundle(bundle, staff.private_key, out).export_id == made.uid
    out.seek(0)
    return zipfile.ZipFile(out)
