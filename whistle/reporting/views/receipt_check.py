"""The organisation's public receipt page: its receipt-verifying key and a receipt check.

Anyone (a reporter, an authority, a court) can paste or upload a receipt, optionally with the
proof file from the reporter's case, and learn whether the organisation signed it, for which
case and day, and whether the proof holds exactly what the receipt commits to
(whistle/reporting/receipts.py, docs/receipts.md). Nothing is stored or logged about the visitor or
what
they sent: the check reads the form, verifies, and renders. It works without JavaScript.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.datastructures import FileStorage
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import FileField, TextAreaField
from wtforms.validators import Length

from whistle.core import dates
from whistle.core.labels import RELATION_LABELS
from whistle.core.models import Organisation
from whistle.core.org_keys import all_verify_keys
from whistle.core.organisations import find_by_slug
from whistle.core.runtime import db
from whistle.reporting.receipts import (
    MAX_PROOF_BYTES,
    MAX_RECEIPT_BYTES,
    InvalidReceipt,
    ReceiptCheck,
    check_receipt,
    receipt_text,
)
from whistle.reporting.views.report import organisation_or_404
from whistle.web.access import public
from whistle.web.errors import render_error

bp = Blueprint("receipt_check", __name__, url_prefix="/o/<slug>/receipt-check")

# A receipt and a proof file fit in far less; anything bigger is refused before it is read.
MAX_REQUEST_BYTES = MAX_RECEIPT_BYTES + MAX_PROOF_BYTES + 64 * 1024

PROBLEMS = {
    "too-large": _l("This is too large to be a receipt. A receipt is a short text file."),
    "not-text": _l("The file is not a text file, so it cannot be a receipt."),
    "not-found": _l(
        "No receipt was found in what you gave. A receipt has a line starting with "
        "“Statement:” and one starting with “Signature:”."
    ),
    "malformed": _l("The receipt is damaged: its statement or signature cannot be read."),
    "unknown-format": _l(
        "This receipt is of a newer format than this service knows. It cannot be checked here."
    ),
    "signature": _l(
        "The signature does not match: the receipt was changed after it was issued, or it was "
        "not signed by this organisation."
    ),
    "other-org": _l(
        "This receipt was issued by another organisation. Check it on that organisation's "
        "receipt page."
    ),
}
PROOF_OUTCOMES = {
    "matches": _l(
        "The proof file matches: it holds exactly the report this receipt commits to, "
        "unchanged since the report was made."
    ),
    "differs": _l(
        "The proof file does not match this receipt: it belongs to another report, or what it "
        "says was changed."
    ),
    "no-commitment": _l(
        "This receipt is format 1 and commits to no content, so no proof can be checked against it."
    ),
    "unreadable": _l("The proof file cannot be read: it is not a Whistle proof file, or damaged."),
}


class ReceiptCheckForm(FlaskForm):
    receipt = TextAreaField(
        _l("Paste the receipt"),
        validators=[Length(max=MAX_RECEIPT_BYTES)],
        description=_l(
            "The whole text of the receipt, or at least its Statement and Signature lines."
        ),
    )
    receipt_file = FileField(_l("Or choose the receipt file"))
    proof_file = FileField(
        _l("Proof file (optional)"),
        description=_l(
            "The proof of what was reported, downloaded from the case. It contains the report in "
            "clear text; it is checked here and not kept."
        ),
    )


@bp.url_value_preprocessor
def _limit_request(_endpoint: str | None, _values: dict[str, Any] | None) -> None:
    # Runs before every before_request hook, so the CSRF check reads the form under this
    # limit: a huge upload is refused at once (413, below), never spooled.
    request.max_content_length = MAX_REQUEST_BYTES


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(_exc: RequestEntityTooLarge) -> tuple[str, int]:
    org = find_by_slug(db(), str((request.view_args or {}).get("slug", "")))
    if org is None:
        return render_error(404)
    return _page(org, ReceiptCheckForm(formdata=None), problem=PROBLEMS["too-large"]), 413


def _read(storage: FileStorage | None, limit: int) -> bytes | None:
    """An uploaded file's bytes, at most ``limit`` + 1 of them (None: no file chosen)."""
    if storage is None or not isinstance(storage, FileStorage) or not storage.filename:
        return None
    return storage.stream.read(limit + 1)


def _page(org: Organisation, form: ReceiptCheckForm, **result: Any) -> str:
    keys = all_verify_keys(db(), org.id)
    return render_template(
        "reporting/receipt_check.html",
        organisation=org,
        form=form,
        current_key=keys[0] if keys else None,
        earlier_keys=keys[1:],
        relations=dict(RELATION_LABELS),
        proof_outcomes=PROOF_OUTCOMES,
        **result,
    )


def _described(check: ReceiptCheck, org: Organisation) -> dict[str, Any]:
    keys = all_verify_keys(db(), org.id)
    return {
        "valid": check,
        "received": dates.day(check.statement.day, dates.reader_locale()),
        "by_earlier_key": bool(keys) and check.signed_by != keys[0],
    }


@bp.route("/", methods=["GET", "POST"])
@public
def page(slug: str) -> str | tuple[str, int]:
    """The verifying key, and the check of a pasted or uploaded receipt (no JavaScript)."""
    org = organisation_or_404(slug)
    form = ReceiptCheckForm()
    if not form.validate_on_submit():
        return _page(org, form)
    pasted = (form.receipt.data or "").strip()
    uploaded = _read(request.files.get("receipt_file"), MAX_RECEIPT_BYTES)
    proof = _read(request.files.get("proof_file"), MAX_PROOF_BYTES)
    if pasted and uploaded is not None:
        form.receipt.errors = [_l("Paste the receipt or choose its file, not both.")]
        return _page(org, form)
    if not pasted and uploaded is None:
        form.receipt.errors = [_l("Paste a receipt or choose its file.")]
        return _page(org, form)
    try:
        text = pasted if pasted else receipt_text(uploaded or b"")
        check = check_receipt(
            text, all_verify_keys(db(), org.id), organisation=org.slug, proof=proof
        )
    except InvalidReceipt as exc:
        return _page(org, form, problem=PROBLEMS[exc.reason])
    return _page(org, form, **_described(check, org))
