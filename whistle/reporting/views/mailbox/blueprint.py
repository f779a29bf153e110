"""The blueprint of the reporter's mailbox (``/o/<slug>/case``), which each module of
whistle/reporting/views/mailbox adds its routes to, and what they share: the signed-in
reporter, and the way back to the mailbox with a notice."""

from __future__ import annotations

from flask import Blueprint, abort, make_response, redirect, request, url_for
from werkzeug.wrappers import Response

from whistle.core.models import Organisation
from whistle.web import reporter_session
from whistle.web.ended import render_form_not_taken

bp = Blueprint("mailbox", __name__, url_prefix="/o/<slug>/case")


def signed_in(org: Organisation) -> reporter_session.ReporterSession:
    """The reporter signed in to this organisation's mailbox; else back to the code page (which
    says so when their session ended). A form sent without a session is answered with what
    was typed in it, the reason and the way back (whistle/web/ended.py)."""
    reporter = reporter_session.current(org.id)
    if reporter is None:
        if request.method != "GET":
            page = render_form_not_taken(ended=reporter_session.ended(), status=403)
            abort(make_response(page))
        ended = 1 if reporter_session.ended() else None
        abort(redirect(url_for("mailbox.enter", slug=org.slug, ended=ended), code=303))
    return reporter


def back_to_mailbox(org: Organisation, notice: str) -> Response:
    """Back to the mailbox, with a notice of what just happened to the minutes."""
    return redirect(url_for("mailbox.case", slug=org.slug, minutes=notice), code=303)
