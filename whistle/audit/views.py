"""The audit log as people read it: the auditor's page, and the names of the actions.

Entries store short identifiers ("case.acknowledged", whistle/core/audit.py); what a person reads
is the translated name of the action.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_babel import lazy_gettext as _l

from whistle.cases.handling import user_names
from whistle.core import audit
from whistle.core.models import Role
from whistle.core.runtime import db
from whistle.web.guard import require
from whistle.web.forms import parse_id

bp = Blueprint("audit_log", __name__, url_prefix="/staff/<slug>/audit")

PAGE = 100

ACTION_NAMES = {
    "case.received": _l("Report received"),
    "case.opened": _l("Case opened"),
    "case.acknowledged": _l("Receipt acknowledged"),
    "case.message_sent": _l("Message sent to the reporter"),
    "case.interim_feedback": _l("Interim feedback given"),
    "case.final_outcome": _l("Final outcome given"),
    "case.note_added": _l("Internal note added"),
    "case.scope_assessed": _l("Scope assessed"),
    "case.hearing_recorded": _l("Hearing recorded"),
    "case.closed": _l("Case closed"),
    "case.hold_placed": _l("Legal hold placed"),
    "case.hold_lifted": _l("Legal hold lifted"),
    "case.deleted": _l("Case deleted (retention)"),
    "case.item_purged": _l("Item removed as irrelevant"),
    "case.keys_renewed": _l("Case keys renewed (someone left the case)"),
    "case.handler_excluded": _l("Handler kept out of the case"),
    "case.reporter_key_pair": _l("Reporter's key pair created"),
    "rights.keys_renewed": _l("Request key renewed (someone left)"),
    "settings.retention_changed": _l("Retention preset changed"),
    "case.statement_added": _l("Statement of a person concerned added"),
    "person.added": _l("Person concerned recorded"),
    "person.notified": _l("Person concerned told"),
    "person.notice_deferred": _l("Notice to a person concerned deferred"),
    "rights.registered": _l("Data-subject request registered"),
    "rights.extended": _l("Request deadline extended"),
    "rights.case_linked": _l("Case linked to a request"),
    "rights.case_unlinked": _l("Case unlinked from a request"),
    "rights.item_restricted": _l("Item restricted"),
    "rights.redactions_set": _l("Redactions set"),
    "rights.decided": _l("Request decided"),
    "rights.answered": _l("Request answered"),
    "rights.export_released": _l("Access export released"),
    "case.exported": _l("Case file exported for counsel"),
    "export.downloaded": _l("Case file downloaded by counsel"),
    "user.key_file_downloaded": _l("Key file downloaded"),
    "case.file_downloaded": _l("File downloaded"),
    "case.access_granted": _l("Access given to a colleague"),
    "case.recused": _l("Stepped aside from the case"),
    "case.assigned": _l("Case assigned"),
    "case.recovered": _l("Access restored with the recovery key"),
    "case.removed_incomplete": _l("Half-stored case removed by the consistency check"),
    "store.repaired": _l("File store repaired by the consistency check"),
    "keystore.repaired": _l("Key store repaired by the consistency check"),
    "identity.revealed": _l("Reporter's identity revealed"),
    "identity.disclosure_requested": _l("Disclosure of the reporter's identity started"),
    "identity.disclosure_approved": _l("Disclosure without notice approved"),
    "identity.disclosure_refused": _l("Disclosure without notice not approved"),
    "identity.disclosure_withdrawn": _l("Disclosure of the identity withdrawn"),
    "identity.consent_given": _l("Reporter consented to the disclosure"),
    "identity.consent_refused": _l("Reporter did not consent to the disclosure"),
    "identity.disclosed": _l("Reporter's identity disclosed to counsel"),
    "identity.handed_over": _l("Reporter's identity handed over to a public authority"),
    "identity.disclosure_withdrawn_old_rule": _l(
        "Disclosure to counsel on a legal ground withdrawn: no longer allowed"
    ),
    "meeting.opened": _l("Meeting opened"),
    "meeting.held": _l("Meeting recorded as held"),
    "meeting.cancelled": _l("Meeting cancelled"),
    "meeting.minutes_written": _l("Minutes written"),
    "user.signed_in": _l("Signed in"),
    "user.signed_out": _l("Signed out"),
    "user.sign_in_failed": _l("Failed sign-in attempt"),
    "user.two_step_enrolled": _l("Two-step sign-in set up"),
    "user.confidentiality_accepted": _l("Duty of confidentiality accepted"),
    "user.password_changed": _l("Password changed"),
    "user.invited": _l("Person invited"),
    "user.invitation_accepted": _l("Invitation accepted"),
    "user.invitation_withdrawn": _l("Invitation withdrawn"),
    "user.roles_changed": _l("Roles changed"),
    "user.deactivated": _l("Account deactivated"),
    "user.reactivated": _l("Account reactivated"),
    "user.removed": _l("Person removed from the organisation"),
    "user.two_step_reset": _l("Two-step sign-in reset"),
    "settings.profile_changed": _l("Organisation profile changed"),
    "settings.logo_changed": _l("Logo changed"),
    "settings.logo_removed": _l("Logo removed"),
    "settings.text_changed": _l("Reporting page text changed"),
    "settings.category_added": _l("Category added"),
    "settings.category_renamed": _l("Category renamed"),
    "settings.category_moved": _l("Category moved"),
    "settings.category_deactivated": _l("Category deactivated"),
    "settings.category_reactivated": _l("Category offered again"),
    "settings.category_deleted": _l("Category deleted"),
    "settings.anonymous_changed": _l("Anonymous reports setting changed"),
    "settings.reporters_changed": _l("Who can report changed"),
    "settings.uploads_changed": _l("Upload limits changed"),
    "settings.mail_changed": _l("Mail server changed"),
    "settings.mail_reset": _l("Mail server set back to the config file"),
    "settings.mail_tested": _l("Test mail sent"),
    "key.certified": _l("Key certified by a unit lead"),
    "key.first_lead_trusted": _l("First unit lead's key trusted on first use"),
    "key.certified_at_upgrade": _l("Existing keys certified at the upgrade (trust on first use)"),
    "key.key_mismatch": _l("Sign-in refused: the key did not match the stored public key"),
    "key.pins_mismatch": _l("Organisation keys do not match the pins: report refused"),
    "key.warning_dismissed": _l("Key warning dismissed by a unit lead"),
    "key.certified_with_recovery": _l("Key certified with the recovery key (offline)"),
}


@bp.app_template_filter("audit_action")
def action_name(action: str) -> str:
    """The translated name of an audit action; the identifier itself if it has none."""
    return str(ACTION_NAMES.get(action, action))


@bp.get("")
def index(slug: str) -> str:
    """The organisation's audit log: who did what, when; never content."""
    ctx = require(slug, Role.AUDITOR, Role.LEAD)
    before = request.args.get("before", "")
    entries = audit.entries(db(), org_id=ctx.org.id, before_seq=parse_id(before), limit=PAGE)
    return render_template(
        "staff/audit.html",
        ctx=ctx,
        organisation=ctx.org,
        entries=entries,
        user_names=user_names(db(), {e.actor_user_id for e in entries if e.actor_user_id}),
        next_before=entries[-1].seq if len(entries) == PAGE else None,
    )
