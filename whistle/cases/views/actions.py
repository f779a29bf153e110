"""The case page's actions: one POST endpoint per handling action, each validating its form,
calling one domain function (a whole unit of work, which commits) and going back to the case
page, or showing the page again with the form's errors (:func:`~.case_page.render_case`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from whistle.casefile import sharing as case_sharing
from whistle.casefile.access import NoAccess, OpenedKeys
from whistle.casefile.conversation import FileDamaged
from whistle.casefile.limits import upload_limits
from whistle.cases import closing, handling, responsibility
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
from whistle.cases.views.blueprint import bp
from whistle.cases.views.case_page import render_case
from whistle.core.models import Case, Role
from whistle.core.org_keys import signing_key
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.counsel import export
from whistle.retention import purge
from whistle.web import upload_words
from whistle.web.case_pages import file_store, open_case
from whistle.web.downloads import log_damage
from whistle.web.forms import parse_id, run_action, show_refusal
from whistle.web.guard import StaffContext, require
from whistle.web.uploads import chosen_files, prepare_uploads


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
    return render_case(ctx, found, keys, override={name: form}, status=400)


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
        if not batch.acceptable:
            # Every reason at once, and the files that were fine named to choose again (files
            # are never kept across a re-shown page); the typed message stays in the form.
            reasons = upload_words.batch_texts(batch, limits)
            fine = [p.name for p in batch.prepared]
            if fine:
                reasons.append(
                    _(
                        "The other files were fine; please choose them again: %(names)s.",
                        names=", ".join(fine),
                    )
                )
            raise Refused("attachments", " ".join(reasons))
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
        closing.close_case(
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
        closing.place_legal_hold(
            db(), runtime().clock, case, keys, ctx.staff.user.id, form.reason.data or ""
        )

    return _act(slug, reference, "hold", HoldForm, run, "hold")


@bp.post("/cases/<reference>/unhold")
def unhold(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        closing.lift_legal_hold(
            db(), runtime().clock, case, keys, ctx.staff.user.id, form.reason.data or ""
        )

    return _act(slug, reference, "unhold", HoldForm, run, "unhold")


@bp.post("/cases/<reference>/purge/<any(message, file, note):kind>/<int:item_id>")
def purge_item(slug: str, reference: str, kind: str, item_id: int) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        # Asked once a reason is given (the domain asks for the reason first).
        if (form.reason.data or "").strip() and not form.confirm.data:
            raise Refused("confirm", _("Confirm that the item is deleted for good."))
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
        except NoAccess:  # (rolled back by reveal_identity)
            abort(403)
        else:
            # Shown in this one answer only: never stored in the session or a redirect.
            return render_case(ctx, found, keys, identity=identity)
    return render_case(ctx, found, keys, override={"reveal": form}, status=400)


@bp.post("/cases/<reference>/grant")
def grant(slug: str, reference: str) -> Response | tuple[str, int]:
    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        grantee = parse_id(form.grantee.data)
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
            db(), runtime().clock, case, ctx.staff.user.id, parse_id(form.assignee.data)
        )

    return _act(slug, reference, "assign", AssignForm, run, "assigned")


@bp.post("/cases/<reference>/remove")
def remove(slug: str, reference: str) -> Response | tuple[str, int]:
    """A unit lead takes the case away from a handler who holds it."""
    ctx = require(slug, Role.LEAD)
    del ctx

    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        removed = parse_id(form.handler.data)
        if removed is None:
            raise Refused("handler", _("Choose a colleague who holds the case."))
        case_sharing.remove_from_case(
            db(), runtime().clock, case, keys, ctx.staff.user.id, removed, form.reason.data or ""
        )

    return _act(slug, reference, "remove", RemoveForm, run, "removed")


@bp.post("/cases/<reference>/recuse")
def recuse(slug: str, reference: str) -> Response | tuple[str, int]:
    """Step aside: with a reason and a confirmation, the handler's keys are destroyed."""
    ctx, found, keys = open_case(slug, reference)
    form = RecuseForm(prefix="recuse")

    def run() -> None:
        responsibility.step_aside(
            db(),
            runtime().clock,
            found,
            keys,
            ctx.staff.user.id,
            reason=form.reason.data or "",
            confirmed=bool(form.confirm.data),
        )

    if run_action(form, run):
        return redirect(url_for("cases.inbox", slug=ctx.org.slug, recused=1), code=303)
    db().refresh(found)
    return render_case(ctx, found, keys, override={"recuse": form}, status=400)


@bp.post("/cases/<reference>/take")
def take(slug: str, reference: str) -> Response | tuple[str, int]:
    """The handler takes responsibility for the case himself."""

    def run(ctx: StaffContext, case: Case, keys: OpenedKeys, form: Any) -> None:
        responsibility.take_case(db(), runtime().clock, case, ctx.staff.user.id)

    return _act(slug, reference, "take", EmptyForm, run, "taken")
