"""The reporter's follow-up mailbox, opened with the case code alone.

Status, acknowledgement and feedback, the conversation, replies with files, files from the
handlers, the signed receipt, and meetings with their minutes to approve or correct
(whistle/meetings/minutes.py). Sessions end on request and after the idle time.
"""

from __future__ import annotations

from collections.abc import Sequence

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_date
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from whistle.casefile import sharing as case_sharing
from whistle.casefile.conversation import (
    FileDamaged,
    FileGone,
    conversation,
    open_file,
    report_files,
)
from whistle.casefile.limits import UploadLimits, upload_limits
from whistle.core.models import Meeting, Organisation, User
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.storage import FileStore, StorageError
from whistle.disclosure import consent as disclosure_consent
from whistle.meetings.minutes import (
    StaleMinutes,
    approve_minutes,
    correct_minutes,
    find_version,
    minutes_history,
)
from whistle.reporting import followup
from whistle.reporting.followup import UnknownCode, mark_read_by_reporter, open_with_code
from whistle.reporting.forms import (
    FollowUpForm,
    KeepOutForm,
    MinutesCorrectionForm,
    ReplyForm,
    minutes_form_prefix,
)
from whistle.reporting.receipts import IssuedReceipt, issue_receipt
from whistle.reporting.views.report import (
    names_to_reattach,
    organisation_or_404,
    too_many_context,
    upload_batch,
)
from whistle.reporting.views.throttles import code_attempt_refused
from whistle.web import reporter_session
from whistle.web.access import public
from whistle.web.downloads import damaged_page, download_response, gone_page
from whistle.web.errors import render_error
from whistle.web.forms import show_refusal, show_storage_failure
from whistle.web.uploads import UploadBatch

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
            return render_template("web/error.html", **too_many_context()), 429
        rt = runtime()
        try:
            case, key = open_with_code(
                db(), rt.clock, org.id, form.code.data or "", rt.settings.pepper, argon2=rt.argon2
            )
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
        ended = 1 if reporter_session.ended() else None
        abort(redirect(url_for("mailbox.enter", slug=org.slug, ended=ended), code=303))
    return reporter


def _receipt(org: Organisation, reporter: reporter_session.ReporterSession) -> IssuedReceipt:
    return issue_receipt(
        db(), org, reporter.case, reporter.content, runtime().settings.instance_key
    )


def _receipt_context(org: Organisation, issued: IssuedReceipt) -> dict[str, object]:
    statement = issued.statement
    return {
        "organisation": org,
        "statement": statement,
        "received": format_date(statement.day, "long"),
        "canonical": statement.canonical().decode(),
        "signature": issued.signature,
        "fingerprint": issued.verify_key.fingerprint(),
        "has_proof": issued.proof is not None,
        "check_url": _check_url(org),
    }


def _check_url(org: Organisation) -> str:
    """The public receipt check page, as an address to write down (the receipt is a file)."""
    return runtime().settings.base_url.rstrip("/") + url_for("receipt_check.page", slug=org.slug)


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
                followup.reply(
                    session,
                    runtime().clock,
                    FileStore(runtime().settings.file_store),
                    reporter.case,
                    reporter.content,
                    body=body,
                    files=batch.prepared,
                )
            except StorageError:
                show_storage_failure(form, "body")
                reattach = names_to_reattach(files)
            else:
                return redirect(url_for("mailbox.case", slug=org.slug, sent=1), code=303)
    return _mailbox_page(
        org,
        reporter,
        form=form,
        limits=limits,
        batch=batch if batch is not None and not batch.acceptable else None,
        reattach=reattach,
    )


MINUTES_NOTICES = (
    "approved",
    "corrected",
    "changed",
    "consent_given",
    "consent_refused",
    "consent_unchanged",
)


def _mailbox_page(
    org: Organisation,
    reporter: reporter_session.ReporterSession,
    *,
    form: ReplyForm,
    limits: UploadLimits | None = None,
    batch: UploadBatch | None = None,
    reattach: Sequence[str] = (),
    correction: tuple[str, MinutesCorrectionForm] | None = None,
) -> str:
    """The mailbox page; seen once, everything on it counts as read.

    ``correction`` is a correction form the reporter sent (with its version uid) that must be
    shown again with its errors and everything typed in it.
    """
    session = db()
    messages = conversation(session, reporter.case, reporter.content)
    sent_with_report = report_files(session, reporter.case, reporter.content)
    meetings = minutes_history(session, reporter.case, reporter.content)
    corrections: dict[str, MinutesCorrectionForm] = {}
    for meeting in meetings:
        awaiting = meeting.awaiting_review
        if awaiting is None:
            continue
        if correction is not None and correction[0] == awaiting.uid:
            corrections[awaiting.uid] = correction[1]
        else:
            # Filled with the handler's text, so correcting means editing, not retyping.
            corrections[awaiting.uid] = MinutesCorrectionForm(
                formdata=None, prefix=minutes_form_prefix(awaiting.uid), body=awaiting.body
            )
    notice = request.args.get("minutes")
    page = render_template(
        "reporting/mailbox.html",
        organisation=org,
        case=reporter.case,
        messages=messages,
        report_files=sent_with_report,
        meetings=meetings,
        consents=disclosure_consent.for_reporter(session, reporter.case),
        corrections=corrections,
        minutes_notice=notice if notice in MINUTES_NOTICES else None,
        form=form,
        limits=limits if limits is not None else upload_limits(session, org.id),
        batch=batch,
        reattach=list(reattach),
        sent=request.args.get("sent") == "1",
        idle_minutes=runtime().settings.session_idle_minutes,
        max_minutes=runtime().settings.reporter_session_max_minutes,
    )
    if reporter.case.unread_for_reporter or any(m.unread_by_reporter for m in messages):
        mark_read_by_reporter(session, runtime().clock, reporter.case)
    return page


def _back_to_mailbox(org: Organisation, notice: str) -> Response:
    return redirect(url_for("mailbox.case", slug=org.slug, minutes=notice), code=303)


@bp.post("/minutes/<uid>/approve")
@public
def minutes_approve(slug: str, uid: str) -> Response | tuple[str, int]:
    """The reporter approves the version of the minutes they read (CSRF: CSRFProtect)."""
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    session = db()
    version = find_version(session, reporter.case, uid)
    if version is None:
        abort(404)
    try:
        approve_minutes(session, runtime().clock, reporter.case, version)
    except StaleMinutes:
        return _back_to_mailbox(org, "changed")
    except Refused as exc:
        return render_error(409, _l("The minutes could not be approved"), exc.message)
    return _back_to_mailbox(org, "approved")


@bp.post("/minutes/<uid>/correct")
@public
def minutes_correct(slug: str, uid: str) -> Response | str:
    """The reporter sends a corrected version; on a problem the page returns, text kept."""
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    session = db()
    version = find_version(session, reporter.case, uid)
    if version is None:
        abort(404)
    meeting = session.get(Meeting, version.meeting_id)
    assert meeting is not None
    correction = MinutesCorrectionForm(prefix=minutes_form_prefix(uid))
    if correction.validate_on_submit():
        try:
            correct_minutes(
                session,
                runtime().clock,
                reporter.case,
                reporter.content,
                meeting,
                correction.body.data or "",
                based_on=version,
            )
        except StaleMinutes:
            # A newer version is waiting: show it, with the reporter's text still in the form.
            newest = next(
                (
                    m.awaiting_review
                    for m in minutes_history(session, reporter.case, reporter.content)
                    if m.id == meeting.id and m.awaiting_review is not None
                ),
                None,
            )
            if newest is None:
                return _back_to_mailbox(org, "changed")
            moved = MinutesCorrectionForm(
                formdata=None,
                prefix=minutes_form_prefix(newest.uid),
                body=correction.body.data,
            )
            moved.body.errors = [StaleMinutes().message]
            return _mailbox_page(
                org, reporter, form=ReplyForm(formdata=None), correction=(newest.uid, moved)
            )
        except Refused as exc:
            show_refusal(correction, exc)
        else:
            return _back_to_mailbox(org, "corrected")
    return _mailbox_page(org, reporter, form=ReplyForm(formdata=None), correction=(uid, correction))


def _answer_consent(slug: str, uid: str, *, consent: bool) -> Response:
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    try:
        outcome = disclosure_consent.answer(
            db(), runtime().clock, reporter.case, uid, consent=consent
        )
    except disclosure_consent.UnknownDisclosure:
        abort(404)
    notices = {"given": "consent_given", "refused": "consent_refused"}
    return _back_to_mailbox(org, notices.get(outcome, "consent_unchanged"))


@bp.post("/consent/<uid>/give")
@public
def consent(slug: str, uid: str) -> Response:
    """The reporter consents to the disclosure of their identity (K2; CSRF: CSRFProtect)."""
    return _answer_consent(slug, uid, consent=True)


@bp.post("/consent/<uid>/refuse")
@public
def refuse_consent(slug: str, uid: str) -> Response:
    """The reporter refuses consent, or withdraws it before it is used."""
    return _answer_consent(slug, uid, consent=False)


@bp.get("/file/<name>")
@public
def file(slug: str, name: str) -> Response | tuple[str, int]:
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    try:
        found = open_file(
            db(),
            FileStore(runtime().settings.file_store),
            reporter.case,
            reporter.content,
            name,
        )
    except ValueError:
        abort(404)
    except FileGone as gone:
        return gone_page(gone)
    except FileDamaged as damaged:
        return damaged_page(damaged)
    if found is None:
        abort(404)
    view, chunks = found
    return download_response(view, chunks)


@bp.route("/keep-out", methods=["GET", "POST"])
@public
def keep_out(slug: str) -> Response | tuple[str, int]:
    """Keep a case handler out of the case (K3): from now on they read nothing of it."""
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
    session = db()
    form = KeepOutForm()
    people = case_sharing.excludable(session, reporter.case, reporter.content)
    form.handler.choices = [(u.id, u.display_name) for u in people]
    status = 200
    if form.validate_on_submit():
        try:
            case_sharing.exclude_by_reporter(
                session, runtime().clock, reporter.case, reporter.content, form.handler.data or 0
            )
        except Refused as refused:
            show_refusal(form, refused)
        else:
            return redirect(url_for("mailbox.keep_out", slug=org.slug, done=1), code=303)
    if form.errors:
        status = 400
    names = {u.id: u.display_name for u in people} | {
        u.id: u.display_name
        for u in session.scalars(
            select(User).where(
                User.id.in_(
                    case_sharing.excluded_ids(session, reporter.case, reporter.content) or {-1}
                )
            )
        )
    }
    kept_out = [
        (names.get(e.user_id, ""), e.on)
        for e in case_sharing.exclusions(session, reporter.case, reporter.content)
        if e.by == case_sharing.BY_REPORTER
    ]
    page = render_template(
        "reporting/keep_out.html",
        organisation=org,
        case=reporter.case,
        form=form,
        kept_out=kept_out,
        done=request.args.get("done") == "1",
    )
    return page, status


@bp.get("/receipt.txt")
@public
def receipt(slug: str) -> Response:
    org = organisation_or_404(slug)
    reporter = _signed_in(org)
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
    reporter = _signed_in(org)
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
    reporter = _signed_in(org)
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


@bp.post("/sign-out")
@public
def sign_out(slug: str) -> Response:
    org = organisation_or_404(slug)
    reporter_session.end()
    return redirect(url_for("mailbox.enter", slug=org.slug, signed_out=1), code=303)
