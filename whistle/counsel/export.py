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
consent to its disclosure to that counsel is given and unused (whistle/disclosure/disclosure.py);
the
disclosure is then used up. A legal ground never puts it in a bundle: without consent the Act
lets it go only to a public authority, handed over on the disclosure page. Never in a bundle:
the nudge address, restricted or purged items, and internal notes unless the handler chooses
them. Every export goes into the audit log and the case's disclosure register.

Counsel reads a case file in the browser from the case document and PDF kept beside the bundle
under its key (``bundle_key``, ``preview``, ``preview_pdf``; whistle/counsel/views.py), or
downloads the bundle and opens it offline: that side, ``open_bundle`` and ``verify_archive``,
is in whistle/counsel/bundle_reader.py, and the header and contexts both sides share are in
whistle/counsel/bundle_format.py.
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

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from crypto import (
    KeyKind,
    PrivateKey,
    PublicKey,
    SignaturePurpose,
    SigningKey,
    StreamEncryptor,
    decrypt_field,
    encrypt_field,
    open_case_key,
    seal_case_key,
    sign,
)
from whistle.casefile import content
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.conversation import conversation, open_file, report_files
from whistle.casefile.holders import certified_members
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.contexts import export_bundle_context, export_key_context, export_preview_context
from whistle.core.models import (
    Case,
    CaseExport,
    Category,
    Disclosure,
    IdentityDisclosure,
    Organisation,
    Role,
)
from whistle.core.refusals import Refused
from whistle.core.storage import FileStore
from whistle.counsel.bundle_format import FORMAT, VERSION, header, manifest_bytes
from whistle.disclosure import disclosure
from whistle.pdf.process import render_pdf
from whistle.rights import rights

BUNDLE_KEY_SIZE = 32


# --- The case as data ----------------------------------------------------------------------------


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "._- " else "_" for c in name).strip(" .")
    return cleaned[:120] or "file"


@dataclass(frozen=True)
class _Part:
    path: str
    storage_name: str  # the attachment in the store


def case_document(
    session: Session,
    org: Organisation,
    case: Case,
    keys: OpenedKeys,
    *,
    include_notes: bool,
    today: date,
    identity: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], list[_Part]]:
    """The case as the JSON document of the bundle, and the files to add (docs/export-format.md)."""
    restricted = rights.restricted_items(session, case.id)
    category = session.get(Category, case.category_id) if case.category_id else None
    report = content.read_report(case, keys)
    parts: list[_Part] = []
    left_out = {"restricted": 0, "purged": 0}

    def add_file(view: Any, message_id: int | None) -> dict[str, Any] | None:
        if view.purged_on is not None:
            left_out["purged"] += 1
            return None
        path = f"files/{len(parts) + 1:03d}-{_safe(view.name)}"
        parts.append(_Part(path, view.storage_name))
        return {
            "path": path,
            "name": view.name,
            "size": view.size,
            "author": view.author,
            "metadata_outcome": view.metadata_outcome,
        }

    if ("report", 0) in restricted:
        left_out["restricted"] += 1
        report_part: dict[str, Any] | None = None
        files_with_report: list[dict[str, Any]] = []
    else:
        report_part = {
            k: report.get(k)
            for k in ("relation", "what", "when_where", "who", "how_known", "meeting_requested")
        }
        files_with_report = [
            f for v in report_files(session, case, keys.content) if (f := add_file(v, None))
        ]
    messages = []
    for message in conversation(session, case, keys.content):
        if ("message", message.id) in restricted:
            left_out["restricted"] += 1
            continue
        if message.purged_on is not None:
            left_out["purged"] += 1
            continue
        messages.append(
            {
                "id": message.id,
                "author": message.author,
                "kind": message.kind,
                "sent_on": message.sent_on.isoformat(),
                "body": message.body,
                "files": [f for v in message.files if (f := add_file(v, message.id))],
            }
        )
    trail = audit.case_trail(session, case.id)
    names = content.user_names(session, {e.actor_user_id for e in trail if e.actor_user_id})
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "exported_on": today.isoformat(),
        "organisation": {"name": org.name, "slug": org.slug},
        "case": {
            "reference": case.reference,
            "received_on": case.received_on.isoformat(),
            "category": (
                {
                    "code": category.code,
                    "label_da": category.label_da,
                    "label_en": category.label_en,
                }
                if category
                else None
            ),
            "channel": case.channel,
            "anonymous": case.anonymous,
            "status": case.status,
            "scope": case.scope,
            "hearing": case.hearing,
            "outcome": case.outcome,
            "acknowledge_due": case.acknowledge_due.isoformat(),
            "acknowledged_on": _day(case.acknowledged_on),
            "feedback_due": case.feedback_due.isoformat(),
            "feedback_on": _day(case.feedback_on),
            "closed_on": _day(case.closed_on),
            "delete_on": _day(case.delete_on),
            "retention_rule": case.retention_rule,
            "legal_hold_since": _day(case.hold_since),
        },
        "report": report_part,
        "report_files": files_with_report,
        "conversation": messages,
        "notes": (
            [
                {
                    "id": n.id,
                    "kind": n.kind,
                    "author": n.author,
                    "created_on": n.created_on.isoformat(),
                    "body": n.body,
                }
                for n in content.notes(session, case, keys)
                if n.purged_on is None
            ]
            if include_notes
            else None
        ),
        "timeline": [
            {
                "at": e.at.isoformat(),
                "action": e.action,
                "by": names.get(e.actor_user_id, "") if e.actor_user_id else "",
            }
            for e in trail
        ],
        "identity": identity,
        "left_out": left_out,
    }
    return document, parts


def _identity_for(
    session: Session, case: Case, keys: OpenedKeys, counsel_id: int
) -> tuple[IdentityDisclosure, dict[str, Any]]:
    """The ready consent disclosure to ``counsel_id`` and the identity section it allows."""
    if case.identity is None:
        raise Refused(
            "include_identity", _l("The reporter is anonymous: there is no identity to include.")
        )
    if keys.identity is None:
        raise NoAccess
    ready = disclosure.ready_for(session, case.id, counsel_id)
    # Act § 26: without the reporter's consent only a public authority may receive the
    # identity, never counsel (who may be the employer's own lawyer).
    if ready is None or ready.ground != "consent":
        raise Refused(
            "include_identity",
            _l(
                "The identity can be included only once the reporter has consented to its "
                "disclosure to this counsel. Without consent it may go only to a public "
                'authority. Start a disclosure under "Disclose the reporter\'s identity".'
            ),
        )
    identity = content.read_identity(case, keys)
    approver = content.user_names(session, {ready.decided_by} if ready.decided_by else set())
    section = {
        "name": identity.name,
        "contact": identity.contact,
        "disclosure": {
            "ground": ready.ground,
            "notice": ready.notice,
            "requested_on": ready.requested_on.isoformat(),
            "decided_on": _day(ready.decided_on),
            "approved_by": approver.get(ready.decided_by or 0),
        },
    }
    return ready, section


def _day(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# --- PDF ---------------------------------------------------------------------------------------


def pdf_labels(locale: str) -> dict[str, str]:
    """The words of the PDF in ``locale`` (the organisation's language), for the renderer."""
    from whistle.audit.labels import ACTION_NAMES
    from whistle.core.labels import HEARING_LABELS, OUTCOME_LABELS, SCOPE_LABELS

    with force_locale(locale):
        words: dict[str, object] = {
            "case": _l("Case"),
            "report": _l("The report"),
            "conversation": _l("Conversation with the reporter"),
            "notes": _l("Internal notes"),
            "timeline": _l("Case history"),
            "file": _l("File"),
            "restricted": _l("Restricted items left out"),
            "purged": _l("Removed items left out"),
            "reporter": _l("Reporter"),
            "handler": _l("Unit"),
            "received_on": _l("Received"),
            "category": _l("Category"),
            "channel": _l("Channel"),
            "anonymous": _l("Anonymous"),
            "status": _l("Status"),
            "scope": _l("Scope"),
            "hearing": _l("Hearing"),
            "outcome": _l("Outcome"),
            "acknowledge_due": _l("Acknowledgement due"),
            "acknowledged_on": _l("Acknowledged"),
            "feedback_due": _l("Feedback due"),
            "feedback_on": _l("Feedback given"),
            "closed_on": _l("Closed"),
            "delete_on": _l("To be deleted on"),
            "retention_rule": _l("Rule"),
            "legal_hold_since": _l("Legal hold since"),
            "relation": _l("Relation to the organisation"),
            "what": _l("What happened"),
            "when_where": _l("When and where"),
            "who": _l("Who is involved"),
            "how_known": _l("How the reporter knows"),
            "meeting_requested": _l("asked for a meeting"),
            "identity": _l("The reporter's identity (disclosed)"),
            "identity_name": _l("Name"),
            "identity_contact": _l("Contact details"),
            "ground": _l("Ground"),
            "ground_consent": _l("The reporter's explicit consent"),
            "ground_authority": _l("Required by a public authority to counter violations"),
            "ground_defence": _l("Required to secure the rights of defence"),
            "notice": _l("Notice to the reporter"),
            "notice_consent": _l("Asked for consent, with the reasons"),
            "notice_sent": _l("Told beforehand, with the reasons"),
            "notice_withheld": _l("Not told: it would jeopardise the investigation"),
            "approved_by": _l("Approved by"),
            "message": _l("Message"),
            "question": _l("Question"),
            "acknowledgement": _l("Acknowledgement of receipt"),
            "interim_feedback": _l("Interim feedback"),
            "final_outcome": _l("Final outcome"),
            "consent_request": _l("Request for consent to disclose the identity"),
            "disclosure_notice": _l("Notice of disclosure of the identity"),
            **{k.value: v for k, v in OUTCOME_LABELS.items()},
            **SCOPE_LABELS,
            **HEARING_LABELS,
            **ACTION_NAMES,
        }
        return {key: str(value) for key, value in words.items()}


def case_pdf(document: dict[str, Any], labels: dict[str, str]) -> bytes:
    """A readable PDF of the case document (:func:`render_pdf`)."""
    return render_pdf({"document": document, "labels": labels})


# --- Writing the bundle --------------------------------------------------------------------------


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
    store: FileStore,
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
    """Export ``case`` to counsel ``counsel_id`` as one encrypted, signed bundle. Commits.

    With ``include_identity`` the reporter's identity goes in, which needs the reporter's
    consent to its disclosure to this counsel (whistle/disclosure/disclosure.py); the export uses
    it up."""
    # Only counsel whose key a unit lead certified (whistle/keys/certification.py).
    certified = certified_members(session, org.id, roles=(Role.COUNSEL,))
    counsel = next((u for u in certified if u.id == counsel_id), None)
    if counsel is None or counsel.public_key is None:
        raise Refused("counsel", _l("Choose counsel from the list."))
    if include_notes and keys.notes is None:
        raise NoAccess
    today = clock.now().date()
    uid = str(uuid.uuid4())
    released: IdentityDisclosure | None = None
    identity: dict[str, Any] | None = None
    if include_identity:
        released, identity = _identity_for(session, case, keys, counsel.id)
    document, parts = case_document(
        session, org, case, keys, include_notes=include_notes, today=today, identity=identity
    )
    case_json = json.dumps(document, ensure_ascii=False, indent=1).encode()
    pdf = case_pdf(document, pdf_labels(org.default_locale))
    bundle_key = secrets.token_bytes(BUNDLE_KEY_SIZE)
    sealed = seal_case_key(
        PublicKey.from_bytes(counsel.public_key),
        bundle_key,
        case_id=export_key_context(uid),
        kind=KeyKind.CONTENT,
    )
    name = store.new_name()
    with store.writer(name) as out:
        out.write(header(uid, org.slug, sealed, signing_key))
        encryptor = StreamEncryptor(bundle_key, export_bundle_context(uid))
        sink = _EncryptingSink(out, encryptor)
        listed = []
        with zipfile.ZipFile(sink, "w") as zf:
            listed.append(_add(zf, "case.json", iter([case_json]), compress=True))
            listed.append(_add(zf, "case.pdf", iter([pdf]), compress=True))
            for part in parts:
                found = open_file(session, store, case, keys.content, part.storage_name)
                assert found is not None
                listed.append(_add(zf, part.path, found[1], compress=False))
            manifest = manifest_bytes(
                export_id=uid,
                organisation=org.slug,
                case=case.reference,
                exported_on=today.isoformat(),
                includes_notes=include_notes,
                includes_identity=identity is not None,
                verify_key=signing_key.verify_key(),
                parts=listed,
            )
            _add(zf, "manifest.json", iter([manifest]), compress=True)
            signature = sign(signing_key, manifest, purpose=SignaturePurpose.EXPORT_MANIFEST)
            _add(zf, "manifest.sig", iter([signature]), compress=False)
        out.write(encryptor.finalize())
    size = store.path(name).stat().st_size
    export = CaseExport(
        uid=uid,
        org_id=org.id,
        case_id=case.id,
        case_reference=case.reference,
        counsel_user_id=counsel.id,
        created_by=user_id,
        created_on=today,
        includes_notes=include_notes,
        includes_identity=identity is not None,
        storage_name=name,
        size=size,
        sealed_key=sealed,
        preview=encrypt_field(
            bundle_key, case_json, context=export_preview_context(uid, "case.json")
        ),
        pdf=encrypt_field(bundle_key, pdf, context=export_preview_context(uid, "case.pdf")),
    )
    try:
        session.add(export)
        session.flush()
        session.add(
            Disclosure(
                org_id=org.id,
                case_id=case.id,
                kind="export",
                recipient_user_id=counsel.id,
                export_id=export.id,
                includes_identity=identity is not None,
                disclosed_on=today,
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
                "notes": include_notes,
                "identity": identity is not None,
            },
        )
        if released is not None:
            # Claimed with a conditional update: of two exports racing for one disclosure,
            # only one carries the identity out.
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
        session.flush()
    except BaseException:
        session.rollback()
        store.delete(name)
        raise
    try:
        session.commit()
    except BaseException:
        # The commit may have been made all the same (a connection lost after the server
        # committed): the bundle stays; unneeded, it is an orphan `whistle doctor` removes.
        session.rollback()
        raise
    return export


# --- Counsel's pages ---------------------------------------------------------------------------


def bundle_key(export: CaseExport, private_key: PrivateKey) -> bytes:
    """The bundle key, opened with counsel's private key (OpenError for anyone else)."""
    return open_case_key(
        private_key, export.sealed_key, case_id=export_key_context(export.uid), kind=KeyKind.CONTENT
    )


def preview(export: CaseExport, key: bytes) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        decrypt_field(key, export.preview, context=export_preview_context(export.uid, "case.json"))
    )
    return data


def preview_pdf(export: CaseExport, key: bytes) -> bytes:
    return decrypt_field(key, export.pdf, context=export_preview_context(export.uid, "case.pdf"))


def exports_for(session: Session, counsel_id: int, org_id: int) -> list[CaseExport]:
    return list(
        session.scalars(
            select(CaseExport)
            .where(CaseExport.counsel_user_id == counsel_id, CaseExport.org_id == org_id)
            .order_by(CaseExport.id.desc())
        )
    )
