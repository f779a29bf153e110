"""Staff sign-in (password, then TOTP), enrolment, confidentiality undertaking, account, and
accepting an invitation. Inviting people is the admin console's (whistle/admin/); the case
workspace is in whistle/cases/."""

from __future__ import annotations

import io
from urllib.parse import urlsplit

import segno
from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_babel import ngettext
from flask_login import current_user
from werkzeug.wrappers import Response

from whistle.core.labels import ROLE_LABELS
from whistle.core.models import Organisation, Role
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.keys import first_use
from whistle.keys import status as key_status
from whistle.keys import warnings as key_warnings
from whistle.staff.auth import (
    SignInRefused,
    acknowledge_confidentiality,
    change_password,
    check_code,
    check_password,
    is_enrolled,
    pending_secret,
    record_sign_out,
    start_enrolment,
    wait_message,
)
from whistle.staff.forms import (
    CodeForm,
    ConfidentialityForm,
    JoinForm,
    PasswordChangeForm,
    SignInForm,
)
from whistle.staff.invitations import (
    invitation_roles,
    waiting_for,
)
from whistle.staff.totp import provisioning_uri, secret_text
from whistle.staff.views import known_device
from whistle.web import staff_session
from whistle.web.access import is_public_endpoint, public
from whistle.web.forms import show_refusal
from whistle.web.guard import organisations_of, signed_in
from whistle.web.throttling import client_key

bp = Blueprint("staff", __name__, url_prefix="/staff")

WRONG_PASSWORD = _l("The e-mail address or the password is wrong.")
KEY_MISMATCH = _l(
    "Your password is right, but your key does not match the key stored for you, so you "
    "cannot sign in: someone may have changed it. Your unit leads have been warned. Contact "
    "your unit lead, and do not use this account until they have looked into it."
)
WRONG_CODE = _l("The code is wrong or has expired. Enter the code your app shows now.")

# Pages a signed-in user may open before accepting the duty of confidentiality.
_BEFORE_UNDERTAKING = {"staff.confidentiality", "staff.sign_out", "i18n.switch", "static"}


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect."""
    if not target:
        return None
    # Browsers read "/\evil.example" as "//evil.example" and drop tabs and newlines from
    # URLs, so those never pass, whatever the redirect's encoding would make of them.
    if "\\" in target or any(ch.isspace() or ord(ch) < 0x20 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@bp.before_app_request
def require_undertaking() -> Response | None:
    """K4: nobody works with cases before accepting the duty of confidentiality."""
    if request.endpoint in _BEFORE_UNDERTAKING or is_public_endpoint(request.endpoint):
        return None
    staff = staff_session.current()
    if staff is not None and staff.user.confidentiality_ack_at is None:
        return redirect(url_for("staff.confidentiality", next=request.full_path), code=303)
    return None


@bp.route("/sign-in", methods=["GET", "POST"])
@public
def sign_in() -> Response | str:
    if current_user.is_authenticated:
        return redirect(url_for("staff.home"), code=303)
    form = SignInForm()
    next_page = _safe_next(request.args.get("next"))
    if form.validate_on_submit():
        rt = runtime()
        try:
            checked = check_password(
                db(),
                rt.clock,
                form.email.data or "",
                form.password.data or "",
                argon2=rt.argon2,
                throttle_key=rt.throttle_key,
                address=client_key(),
                device=known_device.device_for(form.email.data or ""),
            )
        except SignInRefused as exc:
            form.password.errors = [_refusal(exc)]
        else:
            staff_session.start_pending(checked.user, checked.private_key)
            step = "staff.code" if is_enrolled(checked.user) else "staff.enrol"
            return redirect(url_for(step, next=next_page), code=303)
        form.password.data = ""
    return render_template(
        "staff/sign_in.html",
        form=form,
        ended=request.args.get("ended") == "1",
        signed_out=request.args.get("signed_out") == "1",
        joined=request.args.get("joined") == "1",
    )


def _refusal(exc: SignInRefused) -> object:
    if exc.key_mismatch:
        return KEY_MISMATCH
    if exc.wait:
        return wait_message(exc.wait)
    return WRONG_PASSWORD


def _pending_or_restart() -> staff_session.StaffSession:
    half = staff_session.pending()
    if half is None:
        ended = 1 if staff_session.ended() else None
        abort(redirect(url_for("staff.sign_in", ended=ended), code=303))
    return half


def _finish(next_page: str | None) -> Response:
    staff = staff_session.promote()
    if staff is None:
        return redirect(url_for("staff.sign_in", ended=1), code=303)
    # The first unit lead of a new organisation is trusted on first use, once signed in in
    # full (whistle/keys/first_use.py).
    rt = runtime()
    first_use.trust_first_lead(
        db(), rt.clock, staff.user, staff.private_key, instance_key=rt.settings.instance_key
    )
    # This browser is known to the account from now on: others' failed guesses at the
    # account do not make it wait (whistle/staff/views/known_device.py).
    return known_device.remember(
        redirect(next_page or url_for("staff.home"), code=303), staff.user.email
    )


def _second_factor(half: staff_session.StaffSession, form: CodeForm) -> Response | None:
    """Check a posted code (sign-in or enrolment): the way in, or None with the form's error."""
    if not form.validate_on_submit():
        return None
    rt = runtime()
    try:
        check_code(
            db(),
            rt.clock,
            half.user,
            form.code.data or "",
            instance_key=rt.settings.instance_key,
            throttle_key=rt.throttle_key,
            address=client_key(),
            device=known_device.device_for(half.user.email),
        )
    except SignInRefused as exc:
        form.code.errors = [wait_message(exc.wait) if exc.wait else WRONG_CODE]
        form.code.data = ""
        return None
    return _finish(_safe_next(request.args.get("next")))


@bp.route("/sign-in/code", methods=["GET", "POST"])
@public
def code() -> Response | str:
    half = _pending_or_restart()
    if not is_enrolled(half.user):
        return redirect(url_for("staff.enrol"), code=303)
    form = CodeForm()
    finished = _second_factor(half, form)
    if finished is not None:
        return finished
    return render_template("staff/code.html", form=form)


@bp.route("/sign-in/enrol", methods=["GET", "POST"])
@public
def enrol() -> Response | str:
    half = _pending_or_restart()
    if is_enrolled(half.user):
        return redirect(url_for("staff.code"), code=303)
    rt = runtime()
    secret = pending_secret(half.user, instance_key=rt.settings.instance_key)
    if secret is None:
        secret = start_enrolment(db(), half.user, instance_key=rt.settings.instance_key)
    form = CodeForm()
    finished = _second_factor(half, form)
    if finished is not None:
        return finished
    return render_template(
        "staff/enrol.html", form=form, secret_text=secret_text(secret), account=half.user.email
    )


@bp.get("/sign-in/enrol/qr.svg")
@public
def enrol_qr() -> Response:
    """The enrolment QR code, as an image (only during enrolment, never cached)."""
    half = _pending_or_restart()
    secret = pending_secret(half.user, instance_key=runtime().settings.instance_key)
    if secret is None or is_enrolled(half.user):
        abort(404)
    uri = provisioning_uri(secret, account=half.user.email, issuer="Whistle")
    response = Response(qr_svg(uri), mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "no-store"
    return response


def qr_svg(text: str) -> bytes:
    """``text`` as a QR code, a stand-alone SVG document. An image file needs the SVG
    namespace (segno's inline SVG, meant for pasting into HTML, has none, and a browser then
    shows a broken image), a size of its own and a viewBox, so it scales to the page's box."""
    qr = segno.make(text, error="m")
    width, height = qr.symbol_size(scale=5, border=2)
    out = io.BytesIO()
    qr.save(
        out,
        kind="svg",
        scale=5,
        border=2,
        xmldecl=False,
        omitsize=True,
        svgclass=None,
        light="#fff",
    )
    sized = f'<svg width="{width}" height="{height}" '.encode("ascii")
    return out.getvalue().replace(b"<svg ", sized, 1)


@bp.post("/sign-out")
@public
def sign_out() -> Response:
    staff = staff_session.current()
    if staff is not None:
        record_sign_out(db(), runtime().clock, staff.user)
    staff_session.end()
    return redirect(url_for("staff.sign_in", signed_out=1), code=303)


@bp.route("/confidentiality", methods=["GET", "POST"])
def confidentiality() -> Response | str:
    staff = signed_in()
    form = ConfidentialityForm()
    if form.validate_on_submit():
        acknowledge_confidentiality(db(), runtime().clock, staff.user)
        return redirect(_safe_next(request.args.get("next")) or url_for("staff.home"), code=303)
    return render_template("staff/confidentiality.html", form=form, user=staff.user)


@bp.get("/")
def home() -> Response | str:
    staff = signed_in()
    organisations = organisations_of(staff.user.id)
    session = db()
    awaiting = {
        org.id
        for org, _roles in organisations
        if key_status.awaiting_certification(session, org.id, staff.user)
    }
    return render_template(
        "staff/home.html",
        organisations=organisations,
        user=staff.user,
        Role=Role,
        awaiting=awaiting,
        lead_notices=certification_lead_notices(organisations),
        invitations=[
            (found, org_name, [ROLE_LABELS[r] for r in invitation_roles(found)])
            for found, org_name in waiting_for(session, runtime().clock, staff.user)
        ],
        join_form=JoinForm(formdata=None),
        joined=request.args.get("joined") == "1",
    )


def certification_lead_notices(
    organisations: list[tuple[Organisation, frozenset[Role]]],
) -> dict[int, tuple[int, int]]:
    """For each organisation the user leads: (open key warnings, keys awaiting
    certification), shown on the start page."""
    session = db()
    found = {}
    for org, roles in organisations:
        if Role.LEAD in roles:
            waiting = sum(1 for k in key_status.unit_keys(session, org.id) if k.pending)
            found[org.id] = (len(key_warnings.open_warnings(session, org.id)), waiting)
    return found


@bp.get("/account/keys")
def keys() -> str:
    """The person's own key: its fingerprint, to compare with what a unit lead sees, and
    whether it is certified in each organisation; the organisation keys' fingerprints."""
    staff = signed_in()
    return render_template(
        "keys/keys.html",
        user=staff.user,
        # From the private key this session unlocked, not from the stored public key: what a
        # lead compares must be the key the person really holds.
        fingerprint=(
            staff.private_key.public_key().fingerprint()
            if staff.private_key is not None
            else key_status.fingerprint_of(staff.user)
        ),
        own=key_status.own_keys(db(), staff.user),
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
    )


@bp.route("/account/password", methods=["GET", "POST"])
def password() -> Response | str:
    staff = signed_in()
    form = PasswordChangeForm()
    form.owner_email, form.owner_name = staff.user.email, staff.user.display_name
    own_organisations = [org.name for org, _roles in organisations_of(staff.user.id)]
    form.owner_organisations = own_organisations
    if form.validate_on_submit():
        rt = runtime()
        try:
            change_password(
                db(),
                rt.clock,
                staff.user,
                form.current.data or "",
                form.new.data or "",
                argon2=rt.argon2,
                throttle_key=rt.throttle_key,
                keep_session_id=staff.session_id,
                organisation=own_organisations,
            )
        except Refused as exc:
            show_refusal(form, exc)
        else:
            return redirect(url_for("staff.password", changed=1), code=303)
    return render_template(
        "staff/password.html", form=form, changed=request.args.get("changed") == "1"
    )


def _duration(minutes: int) -> str:
    """A session's lifetime in words: whole hours as hours, anything else in minutes."""
    if minutes % 60 == 0:
        return str(ngettext("%(num)d hour", "%(num)d hours", minutes // 60))
    return str(ngettext("%(num)d minute", "%(num)d minutes", minutes))


# Where the header's organisation switch leads, by the first role held there.
_FIRST_PAGE = (
    (Role.HANDLER, "cases.inbox"),
    (Role.LEAD, "cases.inbox"),
    (Role.COUNSEL, "counsel.index"),
    (Role.ADMIN, "admin.index"),
    (Role.AUDITOR, "audit_log.index"),
)


def _switch(user_id: int | None) -> dict[str, object]:
    """The header's switch for someone who works for several organisations: each one's name
    and its first page for them (the case list, counsel's files, the console, the log), and
    whether they handle cases in more than one (the combined case list)."""
    organisations = organisations_of(user_id) if user_id is not None else []
    if len(organisations) < 2:
        return {"staff_places": [], "staff_all_cases": False}
    places = [
        (
            org.name,
            url_for(next(page for role, page in _FIRST_PAGE if role in roles), slug=org.slug),
        )
        for org, roles in organisations
    ]
    handling = sum(1 for _org, roles in organisations if roles & {Role.HANDLER, Role.LEAD})
    return {"staff_places": places, "staff_all_cases": handling > 1}


@bp.app_context_processor
def staff_context() -> dict[str, object]:
    """The signed-in staff member (for the header and the idle and end-of-session warnings),
    on every page."""
    staff = staff_session.current()
    rt = runtime()
    ends_in = (staff.ends_at - rt.clock.now()).total_seconds() if staff is not None else 0
    return {
        "staff_user": staff.user if staff is not None else None,
        **_switch(staff.user.id if staff is not None else None),
        "idle_minutes": rt.settings.session_idle_minutes,
        "session_lifetime": _duration(rt.settings.staff_session_max_minutes),
        "session_ends_seconds": max(0, int(ends_in)),
    }


# The invitation pages (whistle/staff/views/invitations.py) add their routes to ``bp``.
from whistle.staff.views import invitations  # noqa: E402, F401
