"""The unit lead's Keys page: the unit's keys and fingerprints, certifying keys that await it,
and key warnings (whistle/keys/certification.py, whistle/keys/warnings.py)."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField

from whistle.casefile.content import user_names
from whistle.core import dates, trust
from whistle.core.labels import ROLE_LABELS
from whistle.core.models import Role
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.trust import KeysNotTrusted
from whistle.keys import certification
from whistle.keys import status as key_status
from whistle.keys import warnings as key_warnings
from whistle.web.errors import render_error
from whistle.web.forms import MAX_ID, show_refusal
from whistle.web.guard import StaffContext, require

bp = Blueprint("keys", __name__, url_prefix="/staff/<slug>/keys")

KEYS_MESSAGE = (
    _l("The organisation's keys cannot be trusted right now"),
    _l(
        "The organisation's keys in the database no longer match the fingerprints pinned on "
        "the server, so nothing was encrypted to them and nothing was changed. The unit leads "
        "have been warned; ask the operator to look into it."
    ),
)


@bp.app_errorhandler(KeysNotTrusted)
def keys_not_trusted(exc: KeysNotTrusted) -> tuple[str, int]:
    """On any page: something was about to be sealed to organisation keys that no longer match
    the pins in the instance folder (whistle/core/trust.py). Nothing was; the leads are warned
    and the person is told why."""
    key_warnings.refuse_untrusted_keys(db(), runtime().clock, exc.org_id)
    return render_error(503, *KEYS_MESSAGE)


class CertifyForm(FlaskForm):
    compared = BooleanField(
        _l(
            "I compared this fingerprint with the one the person reads to me from their own "
            "\u201cYour key\u201d page, in person or by phone, and they are the same."
        )
    )


class DismissForm(FlaskForm):
    pass


def _page(
    ctx: StaffContext,
    *,
    status: int = 200,
    failed: int | None = None,
    form: CertifyForm | None = None,
    refusal: object = None,
) -> tuple[str, int]:
    session = db()
    keys = key_status.unit_keys(session, ctx.org.id)
    forms = {}
    for k in keys:
        forms[k.user_id] = (
            form
            if form is not None and failed == k.user_id
            else CertifyForm(prefix=f"certify-{k.user_id}", formdata=None)
        )
    own = next((k for k in keys if k.user_id == ctx.staff.user.id), None)
    warnings = key_warnings.open_warnings(session, ctx.org.id)
    names = user_names(session, {w.user_id for w in warnings if w.user_id is not None})
    unknown = _l("a staff member")
    texts = {
        w.id: dates.day(w.created_at, dates.reader_locale())
        + ": "
        + str(key_warnings.LABELS[key_warnings.WarningKind(w.kind)])
        % {"name": names.get(w.user_id or 0) or str(unknown)}
        for w in warnings
    }
    return render_template(
        "keys/unit_keys.html",
        ctx=ctx,
        organisation=ctx.org,
        keys=keys,
        own=own,
        forms=forms,
        failed=failed,
        refusal=refusal,
        warnings=warnings,
        warning_texts=texts,
        dismiss_form=DismissForm(formdata=None),
        item=key_status.OwnKey(
            org=ctx.org,
            status=own,
            organisation_keys=trust.organisation_fingerprints(session, ctx.org.id),
        ),
        role_labels={r.value: label for r, label in ROLE_LABELS.items()},
        done=request.args.get("done"),
    ), status


@bp.get("")
def index(slug: str) -> tuple[str, int]:
    """Who holds a key in the unit, whose key awaits certification, and the warnings."""
    return _page(require(slug, Role.LEAD))


def _untrusted(ctx: StaffContext) -> tuple[str, int]:
    key_warnings.warn_pins_mismatch(db(), runtime().clock, ctx.org.id)
    return _page(
        ctx,
        status=409,
        refusal=_l(
            "The organisation's keys in the database do not match the fingerprints pinned on "
            "the server, so no key can be certified. Ask the operator to look into it."
        ),
    )


@bp.post("/<int:user_id>/certify")
def certify(slug: str, user_id: int) -> Response | tuple[str, int]:
    """Certify a person's key (the lead's private key opens the certification key)."""
    ctx = require(slug, Role.LEAD)
    if not 0 < user_id <= MAX_ID:
        abort(404)
    form = CertifyForm(prefix=f"certify-{user_id}")
    if not form.validate_on_submit():
        return _page(ctx, status=400, failed=user_id, form=form)
    try:
        certification.certify(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user,
            ctx.staff.private_key,
            user_id,
            compared=bool(form.compared.data),
        )
    except Refused as exc:
        if exc.field == "compared":
            show_refusal(form, exc)
            return _page(ctx, status=400, failed=user_id, form=form)
        return _page(ctx, status=409, failed=user_id, form=form, refusal=exc.message)
    except KeysNotTrusted:
        return _untrusted(ctx)
    return redirect(
        url_for("keys.index", slug=ctx.org.slug, done="certified", _anchor=f"key-{user_id}"),
        code=303,
    )


@bp.post("/warnings/<int:warning_id>/dismiss")
def dismiss(slug: str, warning_id: int) -> Response:
    """A lead has looked into a key warning."""
    ctx = require(slug, Role.LEAD)
    if not 0 < warning_id <= MAX_ID:  # (CSRF is checked before every view)
        abort(404)
    try:
        key_warnings.dismiss(db(), runtime().clock, ctx.org.id, ctx.staff.user.id, warning_id)
    except LookupError:
        abort(404)
    return redirect(url_for("keys.index", slug=ctx.org.slug, done="dismissed"), code=303)
