"""The reporter's side: start page, report form and the one-time case code page.

Nothing here stores or logs a client address or user agent; throttles count under a keyed
hash of it, in the database (whistle/core/throttle.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, make_response, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response
from wtforms.fields.choices import SelectChoice

from whistle.admin.channel import reporter_group_labels
from whistle.admin.logo import has_logo
from whistle.admin.texts import DEFAULTS, org_text
from whistle.casefile.holders import certified_members
from whistle.casefile.limits import UploadLimits, upload_limits
from whistle.core.labels import RELATION_LABELS
from whistle.core.models import CATEGORY_ORDER, Category, Organisation, User
from whistle.core.org_keys import has_keys
from whistle.core.organisations import (
    active_organisations,
    find_any_by_slug,
    lists_organisations,
)
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.storage import StorageError
from whistle.core.trust import KeysNotTrusted, check_organisation_keys
from whistle.keys.warnings import warn_pins_mismatch
from whistle.reporting.forms import CodeConfirmForm, ReportForm
from whistle.reporting.intake import ReportInput, submit_report
from whistle.reporting.views.throttles import submission_wait
from whistle.setup.onboarding import setup_complete
from whistle.web import reporter_session, submissions
from whistle.web.access import public
from whistle.web.forms import show_refusal, show_storage_failure
from whistle.web.throttling import wait_words
from whistle.web.uploads import UploadBatch, chosen_files, prepare_uploads, safe_display_name

bp = Blueprint("reporting", __name__)


def organisation_or_404(slug: str) -> Organisation:
    """The organisation of a reporter page; 404 for an address nobody has. A suspended
    organisation's pages all say that its channel is closed (503), follow-up included: the
    deployment's operator closed it (whistle/operators/), and its cases are kept."""
    org = find_any_by_slug(db(), slug)
    if org is None:
        abort(404)
    if not org.is_active:
        abort(make_response(render_template("reporting/closed.html", organisation=org), 503))
    return org


def open_organisation_or_closed(slug: str) -> Organisation:
    """:func:`organisation_or_404` for the pages that start a report: an organisation the
    operator made whose first administrator has not made its keys yet is not open (503)."""
    org = organisation_or_404(slug)
    if not has_keys(db(), org.id):
        abort(
            make_response(
                render_template("reporting/closed.html", organisation=org, not_yet=True), 503
            )
        )
    return org


def locale() -> str:
    return str(get_locale() or "da")


@bp.get("/")
@public
def index() -> Response | str:
    """The bare address. Unless the deployment lists its organisations (the operator's
    choice on ``/operator/``, else ``list_organisations``), it names none and gives no count,
    not even by leading to the only one: a reporter comes with their organisation's own
    address."""
    session = db()
    if not lists_organisations(session, runtime().settings.list_organisations):
        if not setup_complete(session):
            return render_template("reporting/not_ready.html", setup_done=False)
        return render_template("reporting/find_your_page.html")
    orgs = active_organisations(session)
    if len(orgs) == 1:
        return redirect(url_for("reporting.start", slug=orgs[0].slug))
    if not orgs:
        return render_template("reporting/not_ready.html", setup_done=setup_complete(session))
    return render_template("reporting/choose.html", organisations=orgs)


@bp.get("/o/<slug>/")
@public
def start(slug: str) -> str:
    org = open_organisation_or_closed(slug)
    texts = {key: org_text(db(), org.id, key, locale()) for key in DEFAULTS}
    return render_template(
        "reporting/start.html",
        organisation=org,
        texts=texts,
        reporter_groups=reporter_group_labels(db(), org.id),
        has_logo=has_logo(db(), org.id),
    )


@dataclass(frozen=True)
class _Choices:
    """What the form offered. Held until intake has run: the session keeps loaded rows only
    while something refers to them, and intake checks the chosen category and seals to the
    unit's members without reading either again."""

    categories: Sequence[Category]
    members: list[User]


def _trusted_members(org: Organisation) -> list[User]:
    """Exactly the people a report would be sealed to now: the unit's certified members.
    Raises :class:`KeysNotTrusted` when the organisation's keys differ from the pins, so the
    reporter is turned away before typing a word."""
    check_organisation_keys(db(), org.id)
    return certified_members(db(), org.id)


def _fill_choices(form: ReportForm, org: Organisation, members: list[User]) -> _Choices:
    """Fill the form's choices (``members`` are offered for exclusion)."""
    session = db()
    danish = locale() == "da"
    categories = session.scalars(
        select(Category)
        .where(Category.org_id == org.id, Category.is_active.is_(True))
        .order_by(*CATEGORY_ORDER)
    ).all()
    form.category.choices = [
        # An empty value: a required list's placeholder (valid HTML, tests/browser/test_markup.py).
        SelectChoice("", _l("Choose…")),
        *[SelectChoice(str(c.id), c.label_da if danish else c.label_en) for c in categories],
    ]
    form.relation.choices = [
        SelectChoice("", _l("Prefer not to say")),
        *[SelectChoice(value, label) for value, label in RELATION_LABELS],
    ]
    form.exclude.choices = [SelectChoice(str(u.id), u.display_name) for u in members]
    if not org.accepts_anonymous:
        form.identity.choices = [SelectChoice("named", _l("Yes, I give my name"))]
        form.identity.data = "named"
    return _Choices(categories, members)


def upload_batch(limits: UploadLimits) -> tuple[list[FileStorage], UploadBatch]:
    """The files chosen in the form's ``attachments`` field, checked and stripped."""
    files = chosen_files(request, "attachments")
    return files, prepare_uploads(
        files,
        max_file_bytes=limits.max_file_bytes,
        max_total_bytes=limits.max_total_bytes,
        max_files=limits.max_files,
    )


def names_to_reattach(files: list[FileStorage], batch: UploadBatch | None = None) -> list[str]:
    """Files are never kept across a re-shown form; the reporter is told which to choose
    again: the ones that were fine, never one the batch refused (it is named, with the
    reason, above the form)."""
    refused = {p.filename for p in batch.problems} if batch is not None else set()
    names = [safe_display_name(f.filename or "") for f in files]
    return [name for name in names if name not in refused]


def _report_input(form: ReportForm) -> ReportInput:
    anonymous = form.identity.data != "named"
    return ReportInput(
        category_id=form.category.data or 0,
        what=form.what.data or "",
        relation=form.relation.data or None,
        when_where=form.when_where.data or "",
        who=form.who.data or "",
        how_known=form.how_known.data or "",
        anonymous=anonymous,
        name="" if anonymous else (form.name.data or "").strip(),
        contact="" if anonymous else (form.contact.data or "").strip(),
        excluded_handler_ids=frozenset(form.exclude.data or ()),
        meeting_requested=bool(form.meeting.data),
        nudge_email=form.nudge_email.data or "",
    )


@bp.route("/o/<slug>/report", methods=["GET", "POST"])
@public
def report(slug: str) -> Response | str | tuple[str, int]:
    org = open_organisation_or_closed(slug)
    form = ReportForm()
    members: list[User] | None
    try:
        members = _trusted_members(org)
    except KeysNotTrusted:
        if request.method != "POST":
            return _keys_not_trusted(org)
        members = None  # sent while the keys changed: the form comes back as it was typed
    offered = _fill_choices(form, org, members or [])
    context: dict[str, Any] = {"organisation": org, "form": form, "batch": None}
    context["limits"] = limits = upload_limits(db(), org.id)
    if members is None:
        return _keys_refused(org, context, chosen_files(request, "attachments"))
    sent = submissions.marks(
        form.submission.data, org.id, form.category.data, request.form.get("what", "")
    )
    if request.method == "POST" and submissions.already_taken(sent):
        return _already_received(org)
    if not form.submission.data:
        form.submission.data = submissions.new_token()
    if request.method == "GET" or not form.validate_on_submit():
        if request.method == "POST":
            context["reattach"] = names_to_reattach(chosen_files(request, "attachments"))
        return render_template("reporting/report.html", **context)

    if form.website.data:
        # The honeypot was filled: almost certainly a robot. Refuse without storing anything,
        # in words a person who somehow filled it would understand.
        form.website.errors = [_l("Leave this field empty.")]
        return render_template("reporting/report.html", **context)
    if wait := submission_wait():
        # Nothing stored; the form comes back as typed (files must be chosen again).
        context["wait_notice"] = _l(
            "Your report was not sent: many reports have been sent from your connection in "
            "the last minutes. Wait %(wait)s, then send it again. Everything you wrote is "
            "still in the form.",
            wait=wait_words(wait),
        )
        context["reattach"] = names_to_reattach(chosen_files(request, "attachments"))
        return render_template("reporting/report.html", **context), 429

    files, batch = upload_batch(limits)
    if not batch.acceptable:
        context["batch"] = batch
        context["reattach"] = names_to_reattach(files, batch)
        return render_template("reporting/report.html", **context)

    rt = runtime()
    try:
        submit_report(
            db(),
            rt.clock,
            org,
            _report_input(form),
            batch.prepared,
            pepper=rt.settings.pepper,
            argon2=rt.case_code_argon2,
            store=rt.file_store(),
            unit=offered.members,
            before_commit=reporter_session.begin,
        )
    except KeysNotTrusted:
        return _keys_refused(org, context, files)
    except Refused as exc:
        show_refusal(form, exc)
        context["reattach"] = names_to_reattach(files)
        return render_template("reporting/report.html", **context)
    except StorageError:
        show_storage_failure(form, "what")
        context["reattach"] = names_to_reattach(files)
        return render_template("reporting/report.html", **context), 503
    submissions.remember(sent)
    return redirect(url_for("reporting.code", slug=org.slug), code=303)


def _already_received(org: Organisation) -> Response | tuple[str, int]:
    """The form of a report already taken, sent again (Back, then Send): nothing is taken. While
    the code page still holds the first report's code (not yet confirmed as written down), it
    is shown again; after that the code exists nowhere, and the page says what to do."""
    reporter = reporter_session.current(org.id)
    if reporter is not None and reporter.pending_code is not None:
        return redirect(url_for("reporting.code", slug=org.slug, again=1), code=303)
    return render_template("reporting/already_received.html", organisation=org), 409


def _keys_not_trusted(org: Organisation) -> tuple[str, int]:
    """The organisation's keys no longer match the pins in the instance folder: no report
    is taken (it could be sealed to a stranger's key). Audited, and the leads are warned
    (nothing else was written: the keys are checked before anything is)."""
    warn_pins_mismatch(db(), runtime().clock, org.id)
    return render_template("reporting/not_accepting.html", organisation=org), 503


def _keys_refused(
    org: Organisation, context: dict[str, Any], files: list[FileStorage]
) -> tuple[str, int]:
    """The keys changed between showing the form and sending it: nothing is stored. The form
    comes back with everything typed (files must be chosen again), and the reason.

    Nothing is pending in the session: intake checks the keys before it writes, and rolls
    back whatever it began if they fail later (:func:`submit_report`)."""
    warn_pins_mismatch(db(), runtime().clock, org.id)
    context["keys_refused"] = True
    context["reattach"] = names_to_reattach(files)
    return render_template("reporting/report.html", **context), 503


@bp.route("/o/<slug>/report/code", methods=["GET", "POST"])
@public
def code(slug: str) -> Response | str:
    org = organisation_or_404(slug)
    reporter = reporter_session.current(org.id)
    if reporter is None or reporter.pending_code is None:
        ended = 1 if reporter_session.ended() else None
        return redirect(url_for("mailbox.enter", slug=org.slug, ended=ended), code=303)
    form = CodeConfirmForm()
    if form.validate_on_submit():
        reporter_session.forget_code(reporter)
        return redirect(url_for("mailbox.case", slug=org.slug), code=303)
    return render_template(
        "reporting/code.html",
        organisation=org,
        form=form,
        case=reporter.case,
        case_code=reporter.pending_code,
        again=request.args.get("again") == "1",
    )
