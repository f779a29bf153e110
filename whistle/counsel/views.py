"""Legal counsel's pages: the case files sent to them, and their key file (issues 7 and 16).

Counsel sees only the bundles sealed to them, and reads everything in one in the browser: the
bundle is opened on the server with counsel's private key (held in their session's vault) and
checked as ``whistle export open`` checks it (whistle/counsel/case_reader.py); the page, the
PDF and every file come from the archive inside. The bundle itself downloads as it is,
encrypted, for archives and authorities (``whistle export open``). Every read and download is
audited.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

from flask import Blueprint, abort, make_response, render_template
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from crypto import PrivateKey
from whistle.core.models import CaseExport, Role
from whistle.core.org_keys import verify_key
from whistle.core.runtime import db, runtime
from whistle.counsel import case_files
from whistle.counsel.bundle_format import key_file_text
from whistle.counsel.bundle_reader import BundleError
from whistle.counsel.case_reader import (
    OpenedCaseFile,
    listed_files,
    open_case_file,
    organisation_keys,
)
from whistle.counsel.readable import readable, size_text
from whistle.web.downloads import attachment_disposition
from whistle.web.errors import render_error
from whistle.web.guard import StaffContext, require

bp = Blueprint("counsel", __name__, url_prefix="/staff/<slug>/counsel")
log = logging.getLogger(__name__)


def _counsel(slug: str) -> StaffContext:
    return require(slug, Role.COUNSEL)


def _locale() -> str:
    return str(get_locale() or "da")


def _export(ctx: StaffContext, export_id: int) -> tuple[CaseExport, PrivateKey]:
    """The case file ``export_id`` if it was made for this counsel (404 for anyone else)."""
    found = db().get(CaseExport, export_id)
    if found is None or found.org_id != ctx.org.id or found.counsel_user_id != ctx.staff.user.id:
        abort(404)
    if ctx.staff.private_key is None:
        abort(403)
    return found, ctx.staff.private_key


def _opened(ctx: StaffContext, export_id: int) -> tuple[CaseExport, OpenedCaseFile]:
    """The case file opened with counsel's key and verified; a page saying it cannot be
    opened (and nothing of it) if any check fails."""
    found, private_key = _export(ctx, export_id)
    try:
        return found, open_case_file(
            runtime().file_store().open(found.storage_name),
            found,
            private_key,
            slug=ctx.org.slug,
            keys=organisation_keys(db(), ctx.org.id),
        )
    except (BundleError, OSError) as exc:
        # The export's id and what failed, never a part's name (a file's name is content).
        problem = exc.problem if isinstance(exc, BundleError) else type(exc).__name__
        log.error("case file %d could not be opened for counsel: %s", found.id, problem)
        if isinstance(exc, BundleError) and exc.part == "bundle key":
            message = _(
                "This case file is sealed to a key you no longer have (a new password or key "
                "since it was made). Ask the whistleblower unit to make it again."
            )
        else:
            message = _(
                "This case file did not pass its checks: it was changed or damaged where it "
                "is stored, so nothing of it is shown. Please tell the whistleblower unit, who "
                "can make it again."
            )
        abort(make_response(render_error(500, _("The case file cannot be opened"), message)))


def _record(ctx: StaffContext, found: CaseExport, what: str, number: int | None = None) -> None:
    case_files.record_download(
        db(), runtime().clock, found, ctx.org.id, ctx.staff.user.id, what, number
    )


@bp.get("/")
def index(slug: str) -> str:
    ctx = _counsel(slug)
    return render_template(
        "counsel/index.html",
        ctx=ctx,
        organisation=ctx.org,
        exports=case_files.exports_for(db(), ctx.staff.user.id, ctx.org.id),
        signing_fingerprint=verify_key(db(), ctx.org.id).fingerprint(),
        size_text=lambda size: size_text(size, _locale()),
    )


@bp.get("/<int:export_id>")
def read(slug: str, export_id: int) -> str:
    ctx = _counsel(slug)
    found, opened = _opened(ctx, export_id)
    try:
        signer = opened.checked.signer
        case_file = readable(
            opened.document,
            _locale(),
            prepared_for=ctx.staff.user.display_name,
            export_id=found.uid,
            verify_key_hex=signer.to_bytes().hex(),
            fingerprint=signer.fingerprint(),
        )
        parts = opened.checked.parts
    finally:
        opened.close()
    _record(ctx, found, "case")
    return render_template(
        "counsel/case.html",
        ctx=ctx,
        organisation=ctx.org,
        export=found,
        case_file=case_file,
        parts=parts,
        bundle_size=size_text(found.size, _locale()),
    )


@bp.get("/<int:export_id>/case.pdf")
def pdf(slug: str, export_id: int) -> Response:
    ctx = _counsel(slug)
    found, opened = _opened(ctx, export_id)
    try:
        body = opened.read("case.pdf")
    finally:
        opened.close()
    _record(ctx, found, "pdf")
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = attachment_disposition(
        f"case-{found.case_reference}.pdf"
    )
    return response


@bp.get("/<int:export_id>/files/<int:number>")
def file(slug: str, export_id: int, number: int) -> Response:
    """Document ``number`` of the case file's index, as the archive holds it (always a
    download, never shown in Whistle's origin)."""
    ctx = _counsel(slug)
    found, opened = _opened(ctx, export_id)
    listed = listed_files(opened.document)
    if not 1 <= number <= len(listed):
        opened.close()
        abort(404)
    item = listed[number - 1]
    try:
        size = opened.size(item["path"])
    except KeyError:
        opened.close()
        abort(404)
    _record(ctx, found, "file", number)
    chunks: Iterator[bytes] = opened.stream(item["path"])
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = attachment_disposition(str(item["name"]))
    response.headers["Content-Length"] = str(size)
    response.call_on_close(opened.close)  # also when the download never starts
    return response


@bp.get("/<int:export_id>/bundle")
def bundle(slug: str, export_id: int) -> Response:
    ctx = _counsel(slug)
    found, _key = _export(ctx, export_id)
    handle = runtime().file_store().open(found.storage_name)
    _record(ctx, found, "bundle")

    def chunks() -> Iterator[bytes]:
        try:
            while chunk := handle.read(1 << 20):
                yield chunk
        finally:
            handle.close()

    response = Response(chunks(), mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = attachment_disposition(
        f"case-{found.case_reference}.whistle-export"
    )
    # The stored file's own size, not the clear ``size`` column: editing that must not cut
    # the download short.
    response.headers["Content-Length"] = str(handle.seek(0, os.SEEK_END))
    handle.seek(0)
    return response


@bp.get("/key")
def key_file(slug: str) -> Response:
    """Counsel's private key as stored: wrapped under their password (Argon2id, AES-GCM), for
    opening bundles offline with ``whistle export open``. Useless without the password.

    Version 2 also carries the organisation's signing key, so ``whistle export open`` accepts
    only case files this organisation signed (whistle/counsel/bundle_trust.py): the key comes over
    counsel's own signed-in session, not with the case file it is to vouch for."""
    ctx = _counsel(slug)
    wrapped = ctx.staff.user.wrapped_private_key
    if wrapped is None:
        abort(404)
    text = key_file_text(wrapped, ctx.org.slug, verify_key(db(), ctx.org.id))
    case_files.record_key_file_download(db(), runtime().clock, ctx.org.id, ctx.staff.user.id)
    response = Response(text, mimetype="text/plain")
    response.headers["Content-Disposition"] = attachment_disposition("whistle-counsel.key")
    return response
