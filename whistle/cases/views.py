"""The case workspace: inbox, case view, and one POST endpoint per handling action.

Views stay thin: they check the role (whistle/web/guard.py), open the handler's own keys
(a handler without a key gets a 403, however they came to the URL), call a function of
whistle/cases/handling.py and render. Admins and auditors have no route here that shows content.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import format_date, get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response

from whistle.casefile import content
from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.conversation import (
    FileDamaged,
    FileGone,
    FileView,
    MessageView,
    conversation,
    open_file,
    report_files,
)
from whistle.casefile.limits import upload_limits
from whistle.cases import handling
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
    RemoveForm,
    RevealForm,
    ScopeForm,
    purge_prefix,
)
from whistle.cases.inbox import DEADLINE_STATES, SORTS, InboxFilters
from whistle.cases.inbox import inbox as inbox_page
from whistle.core import audit
from whistle.core.deadlines import feedback_due
from whistle.core.labels import HEARING_LABELS, OUTCOME_LABELS, SCOPE_LABELS
from whistle.core.models import Case, CaseStatus, Category, Role, User
from whistle.core.org_keys import signing_key
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.counsel import export
from whistle.disclosure import disclosure
from whistle.keys import status as key_status
from whistle.meetings import meetings
from whistle.notices import notices
from whistle.retention import purge, retention
from whistle.web.case_pages import file_store, open_case
from whistle.web.downloads import damaged_page, download_response, gone_page, log_damage
from whistle.web.forms import parse_id, run_action, show_refusal
from whistle.web.guard import StaffContext, require
from whistle.web.uploads import chosen_files, prepare_uploads

bp = Blueprint("cases", __name__, url_prefix="/staff/<slug>")

HANDLING = (Role.HANDLER, Role.LEAD)
# The inbox's own query parameters, kept in its page links. Only these: anything else would go
# to url_for as a keyword ("slug", "_scheme") and break the page.
INBOX_ARGS = ("status", "category", "scope", "deadline", "unread", "all", "sort")


def _int(value: str | None) -> int | None:
    return parse_id(value)


@bp.get("/cases")
def inbox(slug: str) -> str:
    ctx = require(slug, *HANDLING)
    args = request.args
    filters = InboxFilters(
        status=args.get("status") or None,
        category_id=_int(args.get("category")),
        scope=args.get("scope") or None,
        deadline=args.get("deadline") or None,
        unread=args.get("unread") == "1",
        all_cases=args.get("all") == "1" and ctx.has(Role.LEAD),
        sort=args.get("sort", "") if args.get("sort") in SORTS else "received_desc",
        page=_int(args.get("page")) or 1,
    )
    session = db()
    page = inbox_page(session, ctx.org.id, ctx.staff.user.id, filters, runtime().clock.now().date())
    categories = session.scalars(
        select(Category).where(Category.org_id == ctx.org.id).order_by(Category.position)
    ).all()
    tasks = meetings.meetings_due(
        session, ctx.org.id, runtime().clock.now().date(), user_id=ctx.staff.user.id
    )
    today = runtime().clock.now().date()
    return render_template(
        "cases/inbox.html",
        meeting_tasks=tasks,
        deletions=retention.deletions_soon(session, ctx.org.id, ctx.staff.user.id, today),
        reviews=notices.reviews_due(session, ctx.org.id, ctx.staff.user.id, today),
        awaiting_certification=key_status.awaiting_certification(
            session, ctx.org.id, ctx.staff.user
        ),
        ctx=ctx,
        organisation=ctx.org,
        page=page,
        filters=filters,
        categories=categories,
        deadline_states=DEADLINE_STATES,
        is_lead=ctx.has(Role.LEAD),
        english=str(get_locale()) == "en",
        query_without_page={k: args[k] for k in INBOX_ARGS if args.get(k)},
    )


def _acknowledgement_text(case: Case) -> str:
    text: str = _(
        "Thank you for your report. We confirm that we received it on %(received)s.\n\n"
        "We will look into what you have reported and give you feedback at the latest on "
        "%(due)s. We may ask you questions here in the meantime; please look in from time "
        "to time.\n\n"
        "You can also report to the national external whistleblower scheme at "
        "Datatilsynet (whistleblower.dk).",
        received=format_date(case.received_on, "long"),
        due=format_date(handling_feedback_due(case), "long"),
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
        "recuse": EmptyForm(prefix="recuse", formdata=None),
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
) -> dict[str, bool]:
    """Which action forms the case page offers now; the template shows exactly these."""
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
        "note": True,
        "reveal": identity is None and case.identity is not None and keys.identity is not None,
        "grant": len(forms["grant"].grantee.choices or []) > 1,
        "assign": is_lead,
        "remove": is_lead and len(forms["remove"].handler.choices or []) > 1,
        "recuse": True,
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


def _render(
    ctx: StaffContext,
    case: Case,
    keys: OpenedKeys,
    *,
    override: dict[str, FlaskForm] | None = None,
    identity: content.Identity | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db()
    forms = _forms(case)
    messages = conversation(session, case, keys.content)
    sent_with_report = report_files(session, case, keys.content)
    case_notes = content.notes(session, case, keys)
    purge_forms = _purge_forms(messages, sent_with_report, case_notes)
    stray: list[FlaskForm] = []  # a purge form whose item is no longer offered
    for name, form in (override or {}).items():
        if name in forms:
            forms[name] = form
        elif name in purge_forms:
            purge_forms[name] = form
        else:
            stray.append(form)
    colleagues = case_sharing.entitled_colleagues(session, case, keys)
    holders = case_sharing.holders(session, case.id)
    grant = forms["grant"]
    grant.grantee.choices = [("", _("Choose"))] + [(str(u.id), u.display_name) for u in colleagues]
    exporting = forms["export"]
    exporting.counsel.choices = [("", _("Choose"))] + [
        (str(u.id), u.display_name) for u in disclosure.counsel_of(session, case.org_id)
    ]
    assign = forms["assign"]
    assign.assignee.choices = [("", _("Nobody"))] + [(str(u.id), u.display_name) for u in holders]
    if not assign.is_submitted():
        assign.assignee.data = str(case.assigned_user_id or "")
    forms["remove"].handler.choices = [("", _("Choose"))] + [
        (str(u.id), u.display_name) for u in holders if u.id != ctx.staff.user.id
    ]
    shown = _shown(case, keys, identity, forms, ctx.has(Role.LEAD))
    # An action refused from a form the page no longer offers (a page left open in another
    # tab, a forged post) would lose its message with the form: it is shown at the top instead.
    refusals = [
        str(message)
        for form in [*(f for name, f in forms.items() if not shown[name]), *stray]
        for field_name, errors in form.errors.items()
        if field_name != "csrf_token"
        for message in errors
    ]
    category = session.get(Category, case.category_id) if case.category_id else None
    assigned = session.get(User, case.assigned_user_id) if case.assigned_user_id else None
    from whistle.cases.inbox import deadline_state

    trail = audit.case_trail(session, case.id)
    state, deadline_kind, deadline_day = deadline_state(case, runtime().clock.now().date())
    page = render_template(
        "cases/case.html",
        ctx=ctx,
        organisation=ctx.org,
        case=case,
        report=content.read_report(case, keys),
        report_files=sent_with_report,
        messages=messages,
        notes=case_notes,
        purge_forms=purge_forms,
        holders=holders,
        assigned=assigned,
        category=category,
        forms=forms,
        identity=identity,
        shown=shown,
        refusals=refusals,
        deadline=(state, deadline_kind, deadline_day),
        outcome_labels={k.value: v for k, v in OUTCOME_LABELS.items()},
        presets=retention.presets(session, case.org_id),
        disclosures=disclosure.register(session, case, keys),
        identity_pending=sum(
            1 for s in disclosure.steps(session, case, None) if s.status in disclosure.OPEN
        ),
        warning_days=retention.WARNING_DAYS,
        today=runtime().clock.now().date(),
        scope_labels=SCOPE_LABELS,
        hearing_labels=HEARING_LABELS,
        notice=request.args.get("done"),
        trail=trail,
        user_names=content.user_names(session, {e.actor_user_id for e in trail if e.actor_user_id}),
    )
    return page, status


@bp.get("/cases/<reference>")
def case(slug: str, reference: str) -> tuple[str, int]:
    ctx, found, keys = open_case(slug, reference)
    handling.record_opened(db(), runtime().clock, found, ctx.staff.user.id)
    page = _render(ctx, found, keys)
    handling.mark_read_by_handlers(db(), found)
    return page


def _back(ctx: StaffContext, case: Case, done: str) -> Response:
    return redirect(
        url_for("cases.case", slug=ctx.org.slug, reference=case.reference, done=done) + "#top",
        code=303,
    )


def _act(
    slug: str,
    reference: str,
    name: str,
    form_class: type[FlaskForm],
    action: Callable[[StaffContext, Case, OpenedKeys, Any], None],
    done: str,
) -> Response | tuple[str, int]:
    """Validate the action's form, run it, and go back to the case (or show the errors)."""
    ctx, found, keys = open_case(slug, reference)
    form = form_class(prefix=name)

    if run_action(form, lambda: action(ctx, found, keys, form)):
        return _back(ctx, found, done)
    db().refresh(found)
    return _render(ctx, found, keys, override={name: form}, status=400)


@bp.post("/cases/<reference>/acknowledge")
def acknowledge(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.acknowledge(
            db(),
            runtime().clock,
            file_store(),
            case,
            keys,
            ctx.staff.user.id,
            form.body.data or "",
            nudge_key=runtime().settings.instance_key,
        )

    return _act(slug, reference, "ack", AcknowledgeForm, run, "acknowledged")


@bp.post("/cases/<reference>/message")
def message(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        limits = upload_limits(db(), case.org_id)
        batch = prepare_uploads(
            chosen_files(request, "msg-attachments"),
            max_file_bytes=limits.max_file_bytes,
            max_total_bytes=limits.max_total_bytes,
            max_files=limits.max_files,
        )
        if batch.too_many or batch.too_large_together:
            raise Refused(
                "attachments", _("Too many files, or too large together. Send fewer at a time.")
            )
        if batch.problems:
            raise Refused(
                "attachments",
                _(
                    "These files cannot be sent (empty, too large or unsafe): %(names)s. "
                    "Choose the files again.",
                    names=", ".join(p.filename for p in batch.problems),
                ),
            )
        handling.send_message(
            db(),
            runtime().clock,
            file_store(),
            case,
            keys,
            ctx.staff.user.id,
            form.body.data or "",
            question=bool(form.question.data),
            files=batch.prepared,
            nudge_key=runtime().settings.instance_key,
        )

    return _act(slug, reference, "msg", MessageForm, run, "sent")


@bp.post("/cases/<reference>/feedback")
def feedback(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.give_feedback(
            db(),
            runtime().clock,
            file_store(),
            case,
            keys,
            ctx.staff.user.id,
            done=form.done.data or "",
            why=form.why.data or "",
            final=bool(form.final.data),
            nudge_key=runtime().settings.instance_key,
        )

    return _act(slug, reference, "feedback", FeedbackForm, run, "feedback")


@bp.post("/cases/<reference>/note")
def note(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.add_note(
            db(), runtime().clock, case, keys, ctx.staff.user.id, form.body.data or ""
        )

    return _act(slug, reference, "note", NoteForm, run, "noted")


@bp.post("/cases/<reference>/scope")
def scope(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.assess_scope(
            db(),
            runtime().clock,
            case,
            keys,
            ctx.staff.user.id,
            scope=form.scope.data or "",
            reason=form.reason.data or "",
        )

    return _act(slug, reference, "scope", ScopeForm, run, "scope")


@bp.post("/cases/<reference>/hearing")
def hearing(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.record_hearing(
            db(),
            runtime().clock,
            case,
            keys,
            ctx.staff.user.id,
            hearing=form.hearing.data or "",
            account=form.account.data or "",
        )

    return _act(slug, reference, "hearing", HearingForm, run, "hearing")


@bp.post("/cases/<reference>/close")
def close(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.close_case(
            db(),
            runtime().clock,
            file_store(),
            case,
            keys,
            ctx.staff.user.id,
            outcome=form.outcome.data or "",
            reason=form.reason.data or "",
            referral=form.referral.data or "",
            keep_until=form.keep_until.data,
            nudge_key=runtime().settings.instance_key,
        )

    return _act(slug, reference, "close", CloseForm, run, "closed")


@bp.post("/cases/<reference>/export")
def export_case(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        raw = form.counsel.data or ""
        rt = runtime()
        try:
            export.export_case(
                db(),
                rt.clock,
                file_store(),
                ctx.org,
                case,
                keys,
                ctx.staff.user.id,
                counsel_id=parse_id(raw) or 0,
                include_notes=bool(form.include_notes.data),
                include_identity=bool(form.include_identity.data),
                signing_key=signing_key(db(), ctx.org.id, rt.settings.instance_key),
            )
        except FileDamaged as damaged:
            log_damage(damaged)
            raise Refused(
                "counsel",
                _(
                    "A file of this case is damaged and cannot be opened, so no case file was "
                    "made. Ask the administrator to restore the file from a backup."
                ),
            ) from None

    return _act(slug, reference, "export", ExportForm, run, "exported")


@bp.post("/cases/<reference>/hold")
def hold(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.place_legal_hold(
            db(), runtime().clock, case, keys, ctx.staff.user.id, form.reason.data or ""
        )

    return _act(slug, reference, "hold", HoldForm, run, "hold")


@bp.post("/cases/<reference>/unhold")
def unhold(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        handling.lift_legal_hold(
            db(), runtime().clock, case, keys, ctx.staff.user.id, form.reason.data or ""
        )

    return _act(slug, reference, "unhold", HoldForm, run, "unhold")


@bp.post("/cases/<reference>/purge/<any(message, file, note):kind>/<int:item_id>")
def purge_item(slug: str, reference: str, kind: str, item_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        purge.purge_item(
            db(),
            runtime().clock,
            file_store(),
            case,
            keys,
            ctx.staff.user.id,
            kind=kind,
            item_id=item_id,
            reason=form.reason.data or "",
            keystore=runtime().keystore,
        )

    return _act(slug, reference, purge_prefix(kind, item_id), PurgeForm, run, "purged")


@bp.post("/cases/<reference>/reveal")
def reveal(slug: str, reference: str) -> tuple[str, int]:
    ctx, found, keys = open_case(slug, reference)
    form = RevealForm(prefix="reveal")
    if form.validate_on_submit():
        try:
            identity = handling.reveal_identity(
                db(), runtime().clock, found, keys, ctx.staff.user.id, form.reason.data or ""
            )
        except Refused as exc:
            show_refusal(form, exc)
        except NoAccess:
            db().rollback()
            abort(403)
        else:
            # Shown in this one answer only: never stored in the session or a redirect.
            return _render(ctx, found, keys, identity=identity)
    return _render(ctx, found, keys, override={"reveal": form}, status=400)


@bp.post("/cases/<reference>/grant")
def grant(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        grantee = _int(form.grantee.data)
        if grantee is None:
            raise Refused("grantee", _("Choose a colleague who may handle this case."))
        case_sharing.grant_access(db(), runtime().clock, case, keys, ctx.staff.user.id, grantee)

    return _act(slug, reference, "grant", GrantForm, run, "granted")


@bp.post("/cases/<reference>/assign")
def assign(slug: str, reference: str) -> Response | tuple[str, int]:
    ctx = require(slug, Role.LEAD)
    del ctx

    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        case_sharing.assign(
            db(), runtime().clock, case, ctx.staff.user.id, _int(form.assignee.data)
        )

    return _act(slug, reference, "assign", AssignForm, run, "assigned")


@bp.post("/cases/<reference>/remove")
def remove(slug: str, reference: str) -> Response | tuple[str, int]:
    """A unit lead takes the case away from a handler who holds it."""
    ctx = require(slug, Role.LEAD)
    del ctx

    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        removed = _int(form.handler.data)
        if removed is None:
            raise Refused("handler", _("Choose a colleague who holds the case."))
        case_sharing.remove_from_case(
            db(), runtime().clock, case, keys, ctx.staff.user.id, removed, form.reason.data or ""
        )

    return _act(slug, reference, "remove", RemoveForm, run, "removed")


@bp.post("/cases/<reference>/recuse")
def recuse(slug: str, reference: str) -> Response:
    ctx, found, _keys = open_case(slug, reference)
    form = EmptyForm(prefix="recuse")
    if not form.validate_on_submit():
        abort(400)
    case_sharing.recuse(db(), runtime().clock, found, ctx.staff.user.id)
    return redirect(url_for("cases.inbox", slug=ctx.org.slug, recused=1), code=303)


@bp.get("/cases/<reference>/files/<name>")
def file(slug: str, reference: str, name: str) -> Response | tuple[str, int]:
    ctx, found, keys = open_case(slug, reference)
    try:
        opened = open_file(db(), file_store(), found, keys.content, name)
    except ValueError:
        abort(404)
    except FileGone as gone:
        return gone_page(gone)
    except FileDamaged as damaged:
        return damaged_page(damaged)
    if opened is None:
        abort(404)
    view, chunks = opened
    audit.record(
        db(),
        runtime().clock,
        action="case.file_downloaded",
        org_id=found.org_id,
        actor_user_id=ctx.staff.user.id,
        case=found,
    )
    db().commit()
    return download_response(view, chunks)
