"""The reporter's answers in the mailbox: approving or correcting a meeting's minutes
(whistle/meetings/minutes.py) and giving or refusing consent to a disclosure of their identity
(whistle/disclosure/consent.py)."""

from __future__ import annotations

from flask import abort
from flask_babel import lazy_gettext as _l
from werkzeug.wrappers import Response

from whistle.core.models import Meeting
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.disclosure import consent as disclosure_consent
from whistle.meetings.minutes import (
    StaleMinutes,
    approve_minutes,
    correct_minutes,
    find_version,
    minutes_history,
)
from whistle.reporting.forms import (
    MinutesCorrectionForm,
    ReplyForm,
    minutes_form_prefix,
)
from whistle.reporting.views.mailbox.blueprint import back_to_mailbox, bp, signed_in
from whistle.reporting.views.mailbox.page import mailbox_page
from whistle.reporting.views.report import (
    organisation_or_404,
)
from whistle.web.access import public
from whistle.web.errors import render_error
from whistle.web.forms import show_refusal


@bp.post("/minutes/<uid>/approve")
@public
def minutes_approve(slug: str, uid: str) -> Response | tuple[str, int]:
    """The reporter approves the version of the minutes they read (CSRF: CSRFProtect)."""
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    session = db()
    version = find_version(session, reporter.case, uid)
    if version is None:
        abort(404)
    try:
        approve_minutes(session, runtime().clock, reporter.case, version)
    except StaleMinutes:
        return back_to_mailbox(org, "changed")
    except Refused as exc:
        return render_error(409, _l("The minutes could not be approved"), exc.message)
    return back_to_mailbox(org, "approved")


@bp.post("/minutes/<uid>/correct")
@public
def minutes_correct(slug: str, uid: str) -> Response | str:
    """The reporter sends a corrected version; on a problem the page returns, text kept."""
    org = organisation_or_404(slug)
    reporter = signed_in(org)
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
                return back_to_mailbox(org, "changed")
            moved = MinutesCorrectionForm(
                formdata=None,
                prefix=minutes_form_prefix(newest.uid),
                body=correction.body.data,
            )
            moved.body.errors = [StaleMinutes().message]
            return mailbox_page(
                org, reporter, form=ReplyForm(formdata=None), correction=(newest.uid, moved)
            )
        except Refused as exc:
            show_refusal(correction, exc)
        else:
            return back_to_mailbox(org, "corrected")
    return mailbox_page(org, reporter, form=ReplyForm(formdata=None), correction=(uid, correction))


def _answer_consent(slug: str, uid: str, *, consent: bool) -> Response:
    org = organisation_or_404(slug)
    reporter = signed_in(org)
    try:
        outcome = disclosure_consent.answer(
            db(), runtime().clock, reporter.case, uid, consent=consent
        )
    except disclosure_consent.UnknownDisclosure:
        abort(404)
    notices = {"given": "consent_given", "refused": "consent_refused"}
    return back_to_mailbox(org, notices.get(outcome, "consent_unchanged"))


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
