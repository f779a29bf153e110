"""The mailbox itself: opening it with the case code, the page (status, conversation, replies
with files, meetings), the files, keeping a handler out, and signing out."""

from __future__ import annotations

from collections.abc import Sequence

from flask import abort, redirect, render_template, request, url_for
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
from whistle.core.labels import relation_label
from whistle.core.models import Organisation, User
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.storage import StorageError
from whistle.disclosure import consent as disclosure_consent
from whistle.meetings.minutes import (
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
from whistle.reporting.views.mailbox.blueprint import bp, signed_in
from whistle.reporting.views.report import (
    names_to_reattach,
    organisation_or_404,
    upload_batch,
)
from whistle.reporting.views.throttles import (
    code_attempt_wait,
    code_was_right,
    code_was_wrong,
    reply_wait,
)
from whistle.web import reporter_session
from whistle.web.access import public
from whistle.web.downloads import damaged_page, download_response, gone_page
from whistle.web.forms import show_refusal, show_storage_failure
from whistle.web.throttling import wait_words
from whistle.web.uploads import UploadBatch, chosen_files


def code_wait(wait: int) -> object:
    return _l(
        "Too many codes have been tried from your connection. Your code was not checked: wait "
        "%(wait)s, then send it again. It is still in the field.",
        wait=wait_words(wait),
    )


UNKNOWN_CODE = _l(
    "No case could be opened with this code. Check that you typed it exactly as you wrote it down."
)


@bp.route("/open", methods=["GET", "POST"])
@public
def enter(slug: str) -> Response | str | tuple[str, int, dict[str, str]]:
    org = organisation_or_404(slug)
    form = FollowUpForm()
    if form.validate_on_submit():
        wait = code_attempt_wait(org.id)
        if wait:
            # Not looked at, so not wrong: the code stays in the field, to send again later.
            form.code.errors = [code_wait(wait)]
            page = render_template("reporting/enter.html", organisation=org, form=form)
            return page, 429, {"Retry-After": str(wait)}
        rt = runtime()
        try:
            case, key = open_with_code(
                db(),
                rt.clock,
                org.id,
                form.code.data or "",
                rt.settings.pepper,
                argon2=rt.case_code_argon2,
            )
        except UnknownCode:
            code_was_wrong(org.id)
            form.code.errors = [UNKNOWN_CODE]
        else:
            code_was_right()
            reporter_session.start(case, key)
            return redirect(url_for("mailbox.case", slug=org.slug), code=303)
        form.code.data = ""  # never echo a wrong code back into the page
    return render_template("reporting/enter.html", organisation=org, form=form)


def reply_wait_message(wait: int) -> str:
    return str(
        _l(
            "Your message was not sent: many messages have been sent in this case within the "
            "last hour. Wait %(wait)s, then send it again. What you wrote is still in the field.",
            wait=wait_words(wait),
        )
    )


@bp.route("/", methods=["GET", "POST"])
@public
def case(slug: str) -> Response | str | tuple[str, int]:
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    session = db()
    form = ReplyForm()
    limits = upload_limits(session, org.id)
    batch: UploadBatch | None = None
    reattach: list[str] = []
    if form.validate_on_submit():
        body = (form.body.data or "").strip()
        if wait := reply_wait(reporter.case.uid):
            # Before any file is read: a flood of replies costs the server nothing more.
            # The message stays in its field, the reason beside it.
            form.body.errors = [reply_wait_message(wait)]
            again = names_to_reattach(chosen_files(request, "attachments"))
            return mailbox_page(org, reporter, form=form, reattach=again), 429
        files, batch = upload_batch(limits)
        if not batch.acceptable:
            reattach = names_to_reattach(files, batch)
        elif not body and not batch.prepared:
            form.body.errors = [_l("Write a message or add a file.")]
        else:
            try:
                followup.reply(
                    session,
                    runtime().clock,
                    runtime().file_store(),
                    reporter.case,
                    reporter.content,
                    body=body,
                    files=batch.prepared,
                )
            except StorageError:
                show_storage_failure(form, "body")
                reattach = names_to_reattach(files)
            except Refused as refused:  # closed since the page was opened
                return mailbox_page(org, reporter, form=form, unsent=(str(refused.message), body))
            else:
                return redirect(url_for("mailbox.case", slug=org.slug, sent=1), code=303)
    return mailbox_page(
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


def mailbox_page(
    org: Organisation,
    reporter: reporter_session.ReporterSession,
    *,
    form: ReplyForm,
    limits: UploadLimits | None = None,
    batch: UploadBatch | None = None,
    reattach: Sequence[str] = (),
    correction: tuple[str, MinutesCorrectionForm] | None = None,
    unsent: tuple[str, str] | None = None,
) -> str:
    """The mailbox page; seen once, everything on it counts as read.

    ``correction`` is a correction form the reporter sent (with its version uid) that must be
    shown again with its errors and everything typed in it; ``unsent`` a message refused
    because the case was closed meanwhile (the reason, and the text to keep).
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
    closed_with = next((m for m in reversed(messages) if m.kind == "final_outcome"), None)
    page = render_template(
        "reporting/mailbox.html",
        organisation=org,
        case=reporter.case,
        messages=messages,
        report_files=sent_with_report,
        your_report=followup.your_report(session, reporter.case, reporter.content),
        relation_label=relation_label,
        final_outcome=closed_with,
        unsent=unsent,
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


@bp.get("/file/<name>")
@public
def file(slug: str, name: str) -> Response | tuple[str, int]:
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    try:
        found = open_file(
            db(),
            runtime().file_store(),
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
    reporter = signed_in(org)
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


@bp.post("/sign-out")
@public
def sign_out(slug: str) -> Response:
    org = organisation_or_404(slug)
    reporter_session.end()
    return redirect(url_for("mailbox.enter", slug=org.slug, signed_out=1), code=303)
