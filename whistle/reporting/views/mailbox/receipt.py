"""The reporter's signed receipt, from the mailbox: as a file, as a page, and the proof that
the report was received as it reads (docs/receipts.md)."""

from __future__ import annotations

from flask import render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.core import dates
from whistle.core.models import Organisation
from whistle.core.runtime import db, runtime
from whistle.reporting.receipts import IssuedReceipt, issue_receipt
from whistle.reporting.views.mailbox.blueprint import bp, signed_in
from whistle.reporting.views.report import (
    organisation_or_404,
)
from whistle.web import reporter_session
from whistle.web.access import public
from whistle.web.errors import render_error


def _receipt(org: Organisation, reporter: reporter_session.ReporterSession) -> IssuedReceipt:
    return issue_receipt(
        db(), org, reporter.case, reporter.content, runtime().settings.instance_key
    )


def _receipt_context(org: Organisation, issued: IssuedReceipt) -> dict[str, object]:
    statement = issued.statement
    return {
        "organisation": org,
        "statement": statement,
        "received": dates.day(statement.day, dates.reader_locale()),
        "canonical": statement.canonical().decode(),
        "signature": issued.signature,
        "fingerprint": issued.verify_key.fingerprint(),
        "has_proof": issued.proof is not None,
        "check_url": _check_url(org),
    }


def _check_url(org: Organisation) -> str:
    """The public receipt check page, as an address to write down (the receipt is a file)."""
    return runtime().settings.base_url.rstrip("/") + url_for("receipt_check.page", slug=org.slug)


@bp.get("/receipt.txt")
@public
def receipt(slug: str) -> Response:
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    text = render_template(
        "reporting/receipt.txt", **_receipt_context(org, _receipt(org, reporter))
    )
    response = Response(text, mimetype="text/plain")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="receipt-{reporter.case.reference}.txt"'
    )
    return response


@bp.get("/receipt")
@public
def receipt_page(slug: str) -> str:
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    return render_template(
        "reporting/receipt.html",
        case=reporter.case,
        **_receipt_context(org, _receipt(org, reporter)),
    )


@bp.get("/receipt-proof.json")
@public
def receipt_proof(slug: str) -> Response | tuple[str, int]:
    """What the receipt commits to, for the reporter to keep: the report in clear and the salt."""
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    issued = _receipt(org, reporter)
    if issued.proof is None:
        return render_error(
            404,
            _l("No proof for this report"),
            _l(
                "Your report was made before receipts committed to what was reported, so its "
                "receipt proves the reference and the date only, and there is no proof file."
            ),
        )
    reference = reporter.case.reference
    body = issued.proof.to_json(
        about=_(
            "This file and the receipt of case %(ref)s at %(org)s together prove what was "
            "reported: the commitment the receipt signs (field c) is the SHA-256 of the report "
            "below and the salt. Check them together at %(url)s (choose both files), or "
            "offline with the command: whistle receipt verify RECEIPT --verify-key KEY --proof "
            "THIS-FILE (the organisation's KEY is shown on that page)",
            ref=reference,
            org=org.name,
            url=_check_url(org),
        ),
        warning=_(
            "This file contains your report in clear text. Keep it as safe as your case code: "
            "anyone who finds it can read what you reported. Show it only to someone you "
            "choose, such as an authority."
        ),
    )
    response = Response(body, mimetype="application/json")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="report-proof-{reference}.json"'
    )
    return response
