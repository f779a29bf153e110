"""Case files for legal counsel, the server's side: writing the signed, encrypted bundle
(issue 7; docs/export-format.md), and what counsel's pages and the case page read from it.

A handler exports a case to a counsel user of the organisation. The bundle is one file:

- ``WHISTLE-EXPORT`` header (format 2: export id, organisation, the bundle key sealed (HPKE,
  ML-KEM-768 + X25519) to the chosen counsel's public key only, and the organisation's
  signature over all of it), then a ZIP archive encrypted with that key in the stream format
  of the file store (authenticated segments);
- inside the ZIP: ``case.pdf`` (readable), ``case.json`` (machine-readable, schema in
  docs/export-format.md), ``files/...`` (the attachments, decrypted), and last
  ``manifest.json`` (the SHA-256 and size of every part) with ``manifest.sig``, the
  organisation's Ed25519 signature over it.

It is written as a stream: attachments go from the file store through decryption, the ZIP
writer and the bundle's encryption into the new file, a segment at a time, so a case with
500 MB of files needs a few MB of memory (bench/export_bench.py). Nothing is written in clear
anywhere on the server.

The reporter's identity is in a bundle only when the handler includes it and the reporter's
consent to its disclosure to that counsel is given and unused (whistle/disclosure/consent.py);
the
disclosure is then used up. A legal ground never puts it in a bundle: without consent the Act
lets it go only to a public authority, handed over on the disclosure page. Never in a bundle:
the nudge address, restricted or purged items, and internal notes unless the handler chooses
them. Every export goes into the audit log and the case's disclosure register.

What goes into the bundle is built in whistle/counsel/case_document.py (the document and its
files), whistle/counsel/readable.py and whistle/counsel/case_pdf.py (the PDF). Counsel reads a
case file in the browser, opened on the server with their key and checked as offline
(whistle/counsel/case_reader.py), or downloads the bundle and opens it offline: that side,
``open_bundle`` and ``verify_archive``, is in whistle/counsel/bundle_reader.py, and the header
and contexts both sides share are in whistle/counsel/bundle_format.py.
"""

from __future__ import annotations

import hashlib
import io
import json
import secrets
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any, BinaryIO

from flask_babel import lazy_gettext as _l
from sqlalchemy import update
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    PublicKey,
    SignaturePurpose,
    SigningKey,
    StreamEncryptor,
    encrypt_field,
    seal_case_key,
    sign,
)
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.conversation import open_file
from whistle.casefile.holders import certified_members
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import export_bundle_context, export_key_context, export_preview_context
from whistle.core.db import unit_of_work_with_files
from whistle.core.models import (
    Case,
    CaseExport,
    Disclosure,
    IdentityDisclosure,
    Organisation,
    Role,
    User,
)
from whistle.core.refusals import Refused
from whistle.core.storage import Store
from whistle.counsel.bundle_format import header, manifest_bytes
from whistle.counsel.case_document import Part, case_document, identity_section
from whistle.counsel.case_pdf import case_pdf
from whistle.counsel.readable import readable

BUNDLE_KEY_SIZE = 32


class _EncryptingSink(io.RawIOBase):
    """A write-only, unseekable stream: what the ZIP writer writes is encrypted onto ``out``."""

    def __init__(self, out: BinaryIO, encryptor: StreamEncryptor) -> None:
        self._out = out
        self._encryptor = encryptor
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._out.write(self._encryptor.update(chunk))
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def seekable(self) -> bool:
        return False


def _add(
    zf: zipfile.ZipFile, path: str, chunks: Iterator[bytes], *, compress: bool
) -> dict[str, Any]:
    info = zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    digest = hashlib.sha256()
    size = 0
    with zf.open(info, "w", force_zip64=True) as entry:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            entry.write(chunk)
    return {"path": path, "sha256": digest.hexdigest(), "size": size}


def export_case(
    session: Session,
    clock: Clock,
    store: Store,
    org: Organisation,
    case: Case,
    keys: OpenedKeys,
    user_id: int,
    *,
    counsel_id: int,
    include_notes: bool,
    signing_key: SigningKey,
    include_identity: bool = False,
) -> CaseExport:
    """Export ``case`` to counsel ``counsel_id`` as one encrypted, signed bundle, and commit.

    With ``include_identity`` the reporter's identity goes in, which needs the reporter's
    consent to its disclosure to this counsel (whistle/disclosure/consent.py); the export uses
    it up. The bundle file is removed again if anything before the commit fails
    (:func:`~whistle.core.db.unit_of_work_with_files`)."""
    counsel = _chosen_counsel(session, org, counsel_id)
    if include_notes and keys.notes is None:
        raise NoAccess
    today = clock.now().date()
    released: IdentityDisclosure | None = None
    identity: dict[str, Any] | None = None
    if include_identity:
        released, identity = identity_section(session, case, keys, counsel.id)
    document, parts = case_document(
        session, org, case, keys, include_notes=include_notes, today=today, identity=identity
    )
    uid = str(uuid.uuid4())
    signer = signing_key.verify_key()
    bundle = _Bundle(
        uid=uid,
        key=secrets.token_bytes(BUNDLE_KEY_SIZE),
        case_json=json.dumps(document, ensure_ascii=False, indent=1).encode(),
        pdf=case_pdf(
            readable(
                document,
                org.default_locale,
                prepared_for=counsel.display_name,
                export_id=uid,
                verify_key_hex=signer.to_bytes().hex(),
                fingerprint=signer.fingerprint(),
            )
        ),
        includes_notes=include_notes,
        includes_identity=identity is not None,
        exported_on=today,
    )
    assert counsel.public_key is not None  # (_chosen_counsel)
    sealed = seal_case_key(
        PublicKey.from_bytes(counsel.public_key),
        bundle.key,
        case_id=export_key_context(bundle.uid),
        kind=KeyKind.CONTENT,
    )
    with unit_of_work_with_files(session, store) as stored:
        name = _write_bundle(session, store, org, case, keys, bundle, sealed, parts, signing_key)
        stored.append(name)
        export = _export_row(store, org, case, counsel, user_id, bundle, sealed, name)
        session.add(export)
        session.flush()
        _record_export(session, clock, org, case, export, counsel, user_id)
        if released is not None:
            _use_disclosure(session, clock, org, case, export, counsel, user_id, released)
    return export


@dataclass(frozen=True, repr=False)
class _Bundle:
    """What one export writes: its id and key, and the case document and PDF. SECRET."""

    uid: str
    key: bytes
    case_json: bytes
    pdf: bytes
    includes_notes: bool
    includes_identity: bool
    exported_on: date


def _chosen_counsel(session: Session, org: Organisation, counsel_id: int) -> User:
    """The counsel user chosen, if a unit lead certified their key
    (whistle/keys/certification.py); refused otherwise."""
    certified = certified_members(session, org.id, roles=(Role.COUNSEL,))
    counsel = next((u for u in certified if u.id == counsel_id), None)
    if counsel is None or counsel.public_key is None:
        raise Refused("counsel", _l("Choose counsel from the list."))
    return counsel


def _write_bundle(
    session: Session,
    store: Store,
    org: Organisation,
    case: Case,
    keys: OpenedKeys,
    bundle: _Bundle,
    sealed: bytes,
    parts: list[Part],
    signing_key: SigningKey,
) -> str:
    """Write the bundle into the store as a stream (header, then the encrypted ZIP); return
    its name in the store. A failure leaves no file (:meth:`Store.writer`)."""
    name = store.new_name()
    with store.writer(name) as out:
        out.write(header(bundle.uid, org.slug, sealed, signing_key))
        encryptor = StreamEncryptor(bundle.key, export_bundle_context(bundle.uid))
        with zipfile.ZipFile(_EncryptingSink(out, encryptor), "w") as zf:
            _write_archive(session, store, zf, org, case, keys, bundle, parts, signing_key)
        out.write(encryptor.finalize())
    return name


def _write_archive(
    session: Session,
    store: Store,
    zf: zipfile.ZipFile,
    org: Organisation,
    case: Case,
    keys: OpenedKeys,
    bundle: _Bundle,
    parts: list[Part],
    signing_key: SigningKey,
) -> None:
    """The ZIP's entries: the document, the PDF, each attachment decrypted from the store,
    then the manifest of them all and its signature."""
    listed = [
        _add(zf, "case.json", iter([bundle.case_json]), compress=True),
        _add(zf, "case.pdf", iter([bundle.pdf]), compress=True),
    ]
    for part in parts:
        found = open_file(session, store, case, keys.content, part.storage_name)
        assert found is not None
        listed.append(_add(zf, part.path, found[1], compress=False))
    manifest = manifest_bytes(
        export_id=bundle.uid,
        organisation=org.slug,
        case=case.reference,
        exported_on=bundle.exported_on.isoformat(),
        includes_notes=bundle.includes_notes,
        includes_identity=bundle.includes_identity,
        verify_key=signing_key.verify_key(),
        parts=listed,
    )
    _add(zf, "manifest.json", iter([manifest]), compress=True)
    signature = sign(signing_key, manifest, purpose=SignaturePurpose.EXPORT_MANIFEST)
    _add(zf, "manifest.sig", iter([signature]), compress=False)


def _export_row(
    store: Store,
    org: Organisation,
    case: Case,
    counsel: User,
    user_id: int,
    bundle: _Bundle,
    sealed: bytes,
    name: str,
) -> CaseExport:
    """The export's row, with the case document and PDF under the bundle key for counsel's
    pages (whistle/counsel/case_files.py)."""
    return CaseExport(
        uid=bundle.uid,
        org_id=org.id,
        case_id=case.id,
        case_reference=case.reference,
        counsel_user_id=counsel.id,
        created_by=user_id,
        created_on=bundle.exported_on,
        includes_notes=bundle.includes_notes,
        includes_identity=bundle.includes_identity,
        storage_name=name,
        size=store.size(name),
        sealed_key=sealed,
        preview=encrypt_field(
            bundle.key,
            bundle.case_json,
            context=export_preview_context(bundle.uid, "case.json"),
        ),
        pdf=encrypt_field(
            bundle.key, bundle.pdf, context=export_preview_context(bundle.uid, "case.pdf")
        ),
    )


def _record_export(
    session: Session,
    clock: Clock,
    org: Organisation,
    case: Case,
    export: CaseExport,
    counsel: User,
    user_id: int,
) -> None:
    """The export in the case's disclosure register and in the audit log."""
    session.add(
        Disclosure(
            org_id=org.id,
            case_id=case.id,
            kind="export",
            recipient_user_id=counsel.id,
            export_id=export.id,
            includes_identity=export.includes_identity,
            disclosed_on=export.created_on,
            by_user_id=user_id,
        )
    )
    audit.record(
        session,
        clock,
        action="case.exported",
        org_id=org.id,
        actor_user_id=user_id,
        case=case,
        detail={
            "export": export.id,
            "counsel": counsel.id,
            "notes": export.includes_notes,
            "identity": export.includes_identity,
        },
    )


def _use_disclosure(
    session: Session,
    clock: Clock,
    org: Organisation,
    case: Case,
    export: CaseExport,
    counsel: User,
    user_id: int,
    released: IdentityDisclosure,
) -> None:
    """The consent disclosure the identity went out under is used up, and that is audited."""
    # Claimed with a conditional update: of two exports racing for one disclosure, only one
    # carries the identity out.
    claimed = session.execute(
        update(IdentityDisclosure)
        .where(IdentityDisclosure.id == released.id, IdentityDisclosure.status == "ready")
        .values(status="used", export_id=export.id)
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        raise Refused("include_identity", _l("This disclosure has just been used."))
    audit.record(
        session,
        clock,
        action="identity.disclosed",
        org_id=org.id,
        actor_user_id=user_id,
        case=case,
        detail={"disclosure": released.id, "export": export.id, "counsel": counsel.id},
    )
