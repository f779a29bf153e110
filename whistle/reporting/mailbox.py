"""The reporter's follow-up mailbox, opened with the case code alone.

Status, acknowledgement and feedback, the conversation, replies with files, files from the
handlers, and the signed receipt. Sessions end on request and after the idle time.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.access import public
from whistle.conversation import conversation, open_file, post_message, report_files
from whistle.followup import UnknownCode, mark_read_by_reporter, open_with_code
from whistle.models import Author, Case, Organisation
from whistle.org_keys import signing_key, verify_key
from whistle.receipts import ReceiptStatement, sign_receipt
from whistle.reporting import reporter_session
from whistle.reporting.forms import FollowUpForm, ReplyForm
from whistle.reporting.limits import code_attempt_refused, upload_limits
from whistle.reporting.views import (
    names_to_reattach,
    organisation_or_404,
    too_many_context,
    upload_batch,
)
from whistle.runtime import db, runtime
from whistle.storage import FileStore, StorageError
from whistle.uploads import UploadBatch

bp = Blueprint("mailbox", __name__, url_prefix="/o/<slug>/case")

UNKNOWN_CODE = _l(
    "No case could be opened with this code. Check that you typed it exactly as you wrote it down."
)


@bp.route("/open", methods=["GET", "POST"])
@public
def enter(slug: str) -> Response | str | tuple[str, int]:
    org = organisation_or_404(slug)
    form = FollowUpForm()
    if form.validate_on_submit():
        if code_attempt_refused():
            return render_template("errors/error.html", **too_many_context()), 429
        rt = runtime()
        try:
            case, key = open_with_code(db(), org.id, form.code.data or "", rt.settings.pepper)
        except UnknownCode:
            form.code.errors = [UNKNOWN_CODE]
        else:
            reporter_session.start(case, key)
            return redirect(url_for("mailbox.case", slug=org.slug), code=303)
        form.code.data = ""  # never echo a code back into the page
    return render_template("reporting/enter.html", organisation=org, form=form)


def _signed_in(org: Organisation) -> reporter_session.ReporterSession:
    reporter = reporter_session.current(org.id)
    if reporter is None:
        abort(redirect(url_for("mailbox.enter", slug=org.slug), code=303))
    return reporter


def _receipt(org: Organisation, case: Case) -> tuple[ReceiptStatement, str, str]:
    session = db()
    statement = ReceiptStatement(org.slug, case.reference, case.received_on.isoformat())
    signature = sign_receipt(
        signing_key(session, org.id, runtime().settings.instance_key), statement
    )
    return statement, signature, verify_key(session, org.id).fingerprint()


@bp.route("/", methods=["GET", "POST"])
@public
def case(slug: str) -> Response | str:
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    session = db()
    form = ReplyForm()
    limits = upload_limits(session, org.id)
    batch: UploadBatch | None = None
    reattach: list[str] = []
    if form.validate_on_submit():
        files, batch = upload_batch(limits)
        body = (form.body.data or "").strip()
        if not batch.acceptable:
            reattach = names_to_reattach(files)
        elif not body and not batch.prepared:
            form.body.errors = [_l("Write a message or add a file.")]
        else:
            try:
                post_message(
                    session,
                    runtime().clock,
                    FileStore(runtime().settings.file_store),
                    reporter.case,
                    reporter.content_key,
                    author=Author.REPORTER,
                    body=body,
                    files=batch.prepared,
                )
            except StorageError:
                form.body.errors = [
                    _l("Your files could not be stored, so the message was not sent. Try again.")
                ]
            else:
                return redirect(url_for("mailbox.case", slug=org.slug, sent=1), code=303)
    messages = conversation(session, reporter.case, reporter.content_key)
    sent_with_report = report_files(session, reporter.case, reporter.content_key)
    page = render_template(
        "reporting/mailbox.html",
        organisation=org,
        case=reporter.case,
        messages=messages,
        report_files=sent_with_report,
        form=form,
        limits=limits,
        batch=batch if batch is not None and not batch.acceptable else None,
        reattach=reattach,
        sent=request.args.get("sent") == "1",
        idle_minutes=runtime().settings.session_idle_minutes,
    )
    if reporter.case.unread_for_reporter or any(m.unread_by_reporter for m in messages):
        mark_read_by_reporter(session, runtime().clock, reporter.case)
    return page


@bp.get("/file/<name>")
@public
def file(slug: str, name: str) -> Response:
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    try:
        found = open_file(
            db(),
            FileStore(runtime().settings.file_store),
            reporter.case,
            reporter.content_key,
            name,
        )
    except ValueError:
        abort(404)
    if found is None:
        abort(404)
    view, chunks = found
    response = Response(chunks, mimetype="application/octet-stream")
    response.headers["Content-Disposition"] = _attachment_disposition(view.name)
    response.headers["Content-Length"] = str(view.size)
    return response


def _attachment_disposition(name: str) -> str:
    from urllib.parse import quote

    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@bp.get("/receipt.txt")
@public
def receipt(slug: str) -> Response:
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    statement, signature, fingerprint = _receipt(org, reporter.case)
    text = render_template(
        "reporting/receipt.txt",
        organisation=org,
        statement=statement,
        canonical=statement.canonical().decode(),
        signature=signature,
        fingerprint=fingerprint,
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
    reporter = _signed_in(org)
    statement, signature, fingerprint = _receipt(org, reporter.case)
    return render_template(
        "reporting/receipt.html",
        organisation=org,
        case=reporter.case,
        canonical=statement.canonical().decode(),
        signature=signature,
        fingerprint=fingerprint,
    )


@bp.post("/sign-out")
@public
def sign_out(slug: str) -> Response:
    org = organisation_or_404(slug)
    reporter_session.end()
    return redirect(url_for("mailbox.enter", slug=org.slug, signed_out=1), code=303)
