"""The case page: everything a handler may read about a case and the forms of the actions they
may take, built in named pieces (:class:`CasePage`), and the case's file downloads.

The page is built from the handler's own keys: the report, the conversation and the notes are
decrypted in memory for this one answer. Opening the page is logged, and it marks the
reporter's messages read (whistle/cases/handling.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session

from whistle.casefile import content
from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import OpenedKeys
from whistle.casefile.conversation import (
    FileView,
    MessageView,
    conversation,
    report_files,
)
from whistle.cases import filetypes, handling, stages
from whistle.cases.forms import (
    AcknowledgeForm,
    AssignForm,
    CloseForm,
    EmptyForm,
    ExportForm,
    FeedbackForm,
    GrantForm,
    HearingForm,
    HoldForm,
    MessageForm,
    NoteForm,
    PurgeForm,
    RecuseForm,
    RemoveForm,
    RevealForm,
    ScopeForm,
    purge_prefix,
)
from whistle.cases.inbox import deadline_state
from whistle.cases.views.blueprint import bp
from whistle.core import audit, dates
from whistle.core.deadlines import feedback_due
from whistle.core.labels import (
    AUTHOR_LABELS,
    HEARING_LABELS,
    MESSAGE_KIND_LABELS,
    NOTE_KIND_LABELS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    SCOPE_LABELS,
    STATUS_LABELS,
)
from whistle.core.models import AuditEntry, Case, CaseOutcome, CaseStatus, Category, Role, User
from whistle.core.runtime import db, runtime
from whistle.disclosure import register as disclosure_register
from whistle.disclosure import rules as disclosure_rules
from whistle.retention import purge, schedule
from whistle.web.case_pages import file_store, open_case
from whistle.web.guard import StaffContext


@dataclass(frozen=True)
class CaseHeader:
    """The top of the page: the case's clear-text facts, its category and who is responsible,
    the next deadline, the retention date's warning, and what the last action said."""

    category: Category | None
    assigned: User | None
    deadline: tuple[str, str | None, date | None]  # (state, which deadline, its day)
    progress: stages.Progress  # the stages, the next step and its deadline
    today: date
    me: int  # the signed-in handler's user id
    warning_days: int
    notice: str | None  # the action just done ("sent", "closed", ...)
    outcome_labels: dict[str, Any]
    scope_labels: dict[str, Any]
    hearing_labels: dict[str, Any]
    status_labels: Mapping[Any, Any]
    kind_labels: Mapping[Any, Any]
    author_labels: Mapping[Any, Any]
    note_labels: Mapping[Any, Any]
    relation_labels: Mapping[Any, Any]


@dataclass(frozen=True)
class CaseReading:
    """What was said, decrypted for this answer: the report and its files, the identity when
    it was just revealed, the conversation and the internal notes."""

    report: dict[str, Any]
    report_files: list[FileView]
    identity: content.Identity | None
    messages: list[MessageView]
    notes: list[content.NoteView]
    file_warnings: dict[str, str]  # storage name -> filetypes.EXECUTABLE, MACRO or MISMATCH
    file_types: dict[str, str]  # storage name -> the type its name claims ("PDF")


@dataclass(frozen=True)
class CaseRecords:
    """Who holds the case, what was disclosed from it, and its history."""

    holders: list[User]
    disclosures: list[disclosure_register.RegisterEntry]
    identity_pending: int  # identity disclosures under way
    trail: list[AuditEntry]
    user_names: dict[int, str]


@dataclass(frozen=True)
class CaseActions:
    """The actions the handler may take: every action form, which of them the page shows, a
    purge form per item that may be removed, the retention presets the closing form explains,
    and the refusals of forms the page no longer shows."""

    forms: dict[str, FlaskForm]
    shown: dict[str, bool]
    purge_forms: dict[str, FlaskForm]
    presets: dict[CaseOutcome, schedule.Preset]
    refusals: list[str]


@dataclass(frozen=True)
class CasePage:
    """What templates/cases/case.html shows, in its pieces."""

    header: CaseHeader
    reading: CaseReading
    records: CaseRecords
    actions: CaseActions


def _acknowledgement_text(case: Case) -> str:
    text: str = _(
        "Thank you for your report. We confirm that we received it on %(received)s.\n\n"
        "We will look into what you have reported and give you feedback at the latest on "
        "%(due)s. We may ask you questions here in the meantime; please look in from time "
        "to time.\n\n"
        "You can also report to the national external whistleblower scheme at "
        "Datatilsynet (whistleblower.dk).",
        received=dates.day(case.received_on, str(get_locale())),
        due=dates.day(handling_feedback_due(case), str(get_locale())),
    )
    return text


def handling_feedback_due(case: Case) -> date:
    """The feedback deadline if the acknowledgement goes out today."""
    return feedback_due(case.received_on, runtime().clock.now().date())


def _forms(case: Case) -> dict[str, FlaskForm]:
    forms: dict[str, FlaskForm] = {
        "ack": AcknowledgeForm(prefix="ack", formdata=None),
        "msg": MessageForm(prefix="msg", formdata=None),
        "feedback": FeedbackForm(prefix="feedback", formdata=None),
        "note": NoteForm(prefix="note", formdata=None),
        "scope": ScopeForm(prefix="scope", formdata=None),
        "hearing": HearingForm(prefix="hearing", formdata=None),
        "close": CloseForm(prefix="close", formdata=None),
        "hold": HoldForm(prefix="hold", formdata=None),
        "unhold": HoldForm(prefix="unhold", formdata=None),
        "reveal": RevealForm(prefix="reveal", formdata=None),
        "grant": GrantForm(prefix="grant", formdata=None),
        "assign": AssignForm(prefix="assign", formdata=None),
        "remove": RemoveForm(prefix="remove", formdata=None),
        "recuse": RecuseForm(prefix="recuse", formdata=None),
        "take": EmptyForm(prefix="take", formdata=None),
        "export": ExportForm(prefix="export", formdata=None),
    }
    forms["ack"].body.data = _acknowledgement_text(case)
    return forms


def _shown(
    case: Case,
    keys: OpenedKeys,
    identity: content.Identity | None,
    forms: dict[str, FlaskForm],
    is_lead: bool,
    me: int,
) -> dict[str, bool]:
    """Which action forms the case page offers now; the template shows exactly these. A closed
    case is read-only: what stays is what keeps or hands over its record (a legal hold, the
    case file for counsel) and reading the identity."""
    active = case.status != CaseStatus.CLOSED
    return {
        "ack": active and case.acknowledged_on is None,
        "msg": active,
        "feedback": active and case.acknowledged_on is not None,
        "scope": active,
        "hearing": active,
        "close": active,
        "hold": case.hold_since is None,
        "unhold": case.hold_since is not None,
        "note": active,
        "reveal": identity is None and case.identity is not None and keys.identity is not None,
        "grant": active and len(forms["grant"].grantee.choices or []) > 1,
        "assign": active and is_lead,
        "remove": active and is_lead and len(forms["remove"].handler.choices or []) > 1,
        "recuse": active,
        "take": active and case.assigned_user_id != me,
        "export": keys.notes is not None,
        "export_identity": case.identity is not None and keys.identity is not None,
    }


def _purge_forms(
    messages: list[MessageView], files: list[FileView], notes: list[content.NoteView]
) -> dict[str, FlaskForm]:
    """A "remove as irrelevant" form for every item that may be purged
    (whistle/retention/purge.py)."""
    items = [
        ("message", m.id) for m in messages if m.purged_on is None and m.kind in purge.MESSAGE_KINDS
    ]
    items += [
        ("file", f.id)
        for f in [*files, *(f for m in messages for f in m.files)]
        if f.purged_on is None
    ]
    items += [("note", n.id) for n in notes if n.purged_on is None and n.kind in purge.NOTE_KINDS]
    return {
        purge_prefix(kind, item_id): PurgeForm(prefix=purge_prefix(kind, item_id), formdata=None)
        for kind, item_id in items
    }


def render_case(
    ctx: StaffContext,
    case: Case,
    keys: OpenedKeys,
    *,
    override: dict[str, FlaskForm] | None = None,
    identity: content.Identity | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The case page. ``override`` puts posted forms (with their errors) in place of blank
    ones; ``identity`` is shown when it was just revealed, in this one answer only."""
    session = db()
    reading = _reading(session, case, keys, identity)
    records = _records(session, case, keys)
    page = CasePage(
        header=_header(session, case, ctx.staff.user.id),
        reading=reading,
        records=records,
        actions=_actions(session, ctx, case, keys, reading, records, override or {}),
    )
    html = render_template("cases/case.html", ctx=ctx, organisation=ctx.org, case=case, page=page)
    return html, status


def _header(session: Session, case: Case, me: int) -> CaseHeader:
    today = runtime().clock.now().date()
    return CaseHeader(
        category=session.get(Category, case.category_id) if case.category_id else None,
        assigned=session.get(User, case.assigned_user_id) if case.assigned_user_id else None,
        deadline=deadline_state(case, today),
        progress=stages.progress(case, today),
        today=today,
        me=me,
        warning_days=schedule.WARNING_DAYS,
        notice=request.args.get("done"),
        outcome_labels={k.value: v for k, v in OUTCOME_LABELS.items()},
        scope_labels=SCOPE_LABELS,
        hearing_labels=HEARING_LABELS,
        status_labels=STATUS_LABELS,
        kind_labels=MESSAGE_KIND_LABELS,
        author_labels=AUTHOR_LABELS,
        note_labels=NOTE_KIND_LABELS,
        relation_labels=dict(RELATION_LABELS),
    )


def _reading(
    session: Session, case: Case, keys: OpenedKeys, identity: content.Identity | None
) -> CaseReading:
    files = report_files(session, case, keys.content)
    messages = conversation(session, case, keys.content)
    every_file = [*files, *(f for m in messages for f in m.files)]
    return CaseReading(
        report=content.read_report(case, keys),
        report_files=files,
        identity=identity,
        messages=messages,
        notes=content.notes(session, case, keys),
        file_warnings=filetypes.file_warnings(
            session, file_store(), case, keys.content, every_file
        ),
        file_types={f.storage_name: filetypes.expected_type(f.name) for f in every_file},
    )


def _records(session: Session, case: Case, keys: OpenedKeys) -> CaseRecords:
    trail = audit.case_trail(session, case.id)
    return CaseRecords(
        holders=case_sharing.holders(session, case.id),
        disclosures=disclosure_register.register(session, case, keys),
        identity_pending=sum(
            1
            for s in disclosure_register.steps(session, case, None)
            if s.status in disclosure_rules.OPEN
        ),
        trail=trail,
        user_names=content.user_names(session, {e.actor_user_id for e in trail if e.actor_user_id}),
    )


def _actions(
    session: Session,
    ctx: StaffContext,
    case: Case,
    keys: OpenedKeys,
    reading: CaseReading,
    records: CaseRecords,
    override: dict[str, FlaskForm],
) -> CaseActions:
    forms = _forms(case)
    purge_forms = (
        _purge_forms(reading.messages, reading.report_files, reading.notes)
        if case.status != CaseStatus.CLOSED
        else {}
    )
    stray = _put_posted(override, forms, purge_forms)
    _fill_choices(session, ctx, case, keys, forms, records.holders)
    shown = _shown(case, keys, reading.identity, forms, ctx.has(Role.LEAD), ctx.staff.user.id)
    return CaseActions(
        forms=forms,
        shown=shown,
        purge_forms=purge_forms,
        presets=schedule.presets(session, case.org_id),
        refusals=_stranded_refusals(forms, shown, stray),
    )


def _put_posted(
    override: dict[str, FlaskForm],
    forms: dict[str, FlaskForm],
    purge_forms: dict[str, FlaskForm],
) -> list[FlaskForm]:
    """Put the posted forms in place of the blank ones; return those the page no longer
    offers (a purge form whose item is gone)."""
    stray: list[FlaskForm] = []
    for name, form in override.items():
        if name in forms:
            forms[name] = form
        elif name in purge_forms:
            purge_forms[name] = form
        else:
            stray.append(form)
    return stray


def _fill_choices(
    session: Session,
    ctx: StaffContext,
    case: Case,
    keys: OpenedKeys,
    forms: dict[str, FlaskForm],
    holders: list[User],
) -> None:
    """The people the grant, export, assign and remove forms offer."""
    colleagues = case_sharing.entitled_colleagues(session, case, keys)
    grant = forms["grant"]
    grant.grantee.choices = [("", _("Choose"))] + [(str(u.id), u.display_name) for u in colleagues]
    exporting = forms["export"]
    exporting.counsel.choices = [("", _("Choose"))] + [
        (str(u.id), u.display_name) for u in disclosure_rules.counsel_of(session, case.org_id)
    ]
    assign = forms["assign"]
    assign.assignee.choices = [("", _("Nobody"))] + [(str(u.id), u.display_name) for u in holders]
    if not assign.is_submitted():
        assign.assignee.data = str(case.assigned_user_id or "")
    forms["remove"].handler.choices = [("", _("Choose"))] + [
        (str(u.id), u.display_name) for u in holders if u.id != ctx.staff.user.id
    ]


def _stranded_refusals(
    forms: dict[str, FlaskForm], shown: dict[str, bool], stray: list[FlaskForm]
) -> list[str]:
    """An action refused from a form the page no longer offers (a page left open in another
    tab, a forged post) would lose its message with the form: it is shown at the top instead."""
    return [
        str(message)
        for form in [*(f for name, f in forms.items() if not shown[name]), *stray]
        for field_name, errors in form.errors.items()
        if field_name != "csrf_token"
        for message in errors
    ]


@bp.get("/cases/<reference>")
def case(slug: str, reference: str) -> tuple[str, int]:
    ctx, found, keys = open_case(slug, reference)
    handling.record_opened(
        db(),
        runtime().clock,
        found,
        ctx.staff.user.id,
        browser_session_id=ctx.staff.session_id,
    )
    page = render_case(ctx, found, keys)
    handling.mark_read_by_handlers(db(), found)
    return page
