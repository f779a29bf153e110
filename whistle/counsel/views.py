"""Legal counsel's pages: the case files sent to them, and their key file (issue 7).

Counsel sees only the bundles sealed to them. Reading in the browser opens the bundle key with
counsel's private key (held in their session's vault) and shows the case document and PDF kept
beside the bundle under that key; the bundle itself downloads as it is, encrypted, for
``whistle export open``.
"""

from __future__ import annotations

import os

from flask import Blueprint, abort, render_template
from werkzeug.wrappers import Response

from whistle.core.models import CaseExport, Role
from whistle.core.org_keys import verify_key
from whistle.core.runtime import db, runtime
from whistle.core.storage import FileStore
from whistle.counsel import case_files
from whistle.counsel.bundle_format import key_file_text
from whistle.web.downloads import attachment_disposition
from whistle.web.guard import StaffContext, require

bp = Blueprint("counsel", __name__, url_prefix="/staff/<slug>/counsel")


def _counsel(slug: str) -> StaffContext:
    return require(slug, Role.COUNSEL)


def _export(ctx: StaffContext, export_id: int) -> tuple[CaseExport, bytes]:
    found = db().get(CaseExport, export_id)
    if found is None or found.org_id != ctx.org.id or found.counsel_user_id != ctx.staff.user.id:
        abort(404)
    if ctx.staff.private_key is None:
        abort(403)
    return found, case_files.bundle_key(found, ctx.staff.private_key)


@bp.get("/")
def index(slug: str) -> str:
    ctx = _counsel(slug)
    return render_template(
        "counsel/index.html",
        ctx=ctx,
        organisation=ctx.org,
        exports=case_files.exports_for(db(), ctx.staff.user.id, ctx.org.id),
        signing_fingerprint=verify_key(db(), ctx.org.id).fingerprint(),
    )


@bp.get("/<int:export_id>")
def read(slug: str, export_id: int) -> str:
    ctx = _counsel(slug)
    found, key = _export(ctx, export_id)
    return render_template(
        "counsel/case.html",
        ctx=ctx,
        organisation=ctx.org,
        export=found,
        document=case_files.preview(found, key),
    )


def _record(ctx: StaffContext, found: CaseExport, what: str) -> None:
    case_files.record_download(db(), runtime().clock, found, ctx.org.id, ctx.staff.user.id, what)


@bp.get("/<int:export_id>/case.pdf")
def pdf(slug: str, export_id: int) -> Response:
    ctx = _counsel(slug)
    found, key = _export(ctx, export_id)
    body = case_files.preview_pdf(found, key)
    _record(ctx, found, "pdf")
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = attachment_disposition(
        f"case-{found.case_reference}.pdf"
    )
    return response


@bp.get("/<int:export_id>/bundle")
def bundle(slug: str, export_id: int) -> Response:
    ctx = _counsel(slug)
    found, _key = _export(ctx, export_id)
    handle = FileStore(runtime().settings.file_store).open(found.storage_name)
    _record(ctx, found, "bundle")

    def chunks() -> object:
        try:
            while chunk := handle.read(1 << 20):
                yield chunk
        finally:
            handle.close()

    response = Response(chunks(), mimetype="application/octet-stream")  # type: ignore[arg-type]
    response.headers["Content-Disposition"] = attachment_disposition(
        f"case-{found.case_reference}.whistle-export"
    )
    # The stored file's own size, not the clear ``size`` column: editing that must not cut
    # the download short.
    response.headers["Content-Length"] = str(os.fstat(handle.fileno()).st_size)
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
