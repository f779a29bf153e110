"""The console's profile page: the organisation's name, the language of its mails and its
logo; and the logo served publicly for the reporting page (``/o/<slug>/logo.png``, blueprint
``org_logo``).

Each view parses its form and calls :mod:`whistle.admin.profile` or :mod:`whistle.admin.logo`
(which commit), then redirects, or shows the page again with the form's errors.
"""

from __future__ import annotations

from typing import IO, Any

from flask import Blueprint, abort, has_request_context, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from whistle.admin.accent import accent, readable, set_accent, stored_accent, theme_css
from whistle.admin.forms import AccentForm, EmptyForm, LogoForm, ProfileForm
from whistle.admin.logo import LOGO_MAX_BYTES, has_logo, logo, remove_logo, set_logo
from whistle.admin.profile import change_profile
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.organisations import find_by_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.web.access import public
from whistle.web.forms import show_refusal
from whistle.web.guard import StaffContext

logo_bp = Blueprint("org_logo", __name__)


def _profile_page(
    ctx: StaffContext,
    *,
    form: ProfileForm | None = None,
    logo_form: LogoForm | None = None,
    accent_form: AccentForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    if form is None:
        form = ProfileForm(formdata=None, name=ctx.org.name, locale=ctx.org.default_locale)
    chosen = stored_accent(db(), ctx.org.id)
    if accent_form is None:
        accent_form = AccentForm(formdata=None, accent=chosen or "")
    return page(
        "admin/profile.html",
        ctx,
        status,
        form=form,
        logo_form=logo_form or LogoForm(formdata=None),
        accent_form=accent_form,
        accent_too_light=chosen is not None and not readable(chosen),
        remove_form=EmptyForm(prefix="remove", formdata=None),
        has_logo=has_logo(db(), ctx.org.id),
        public_url=url_for("reporting.start", slug=ctx.org.slug, _external=True),
    )


@bp.route("/profile", methods=["GET", "POST"])
def profile(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = ProfileForm()
    if not form.is_submitted():
        return _profile_page(ctx)
    if not form.validate():
        return _profile_page(ctx, form=form, status=400)
    try:
        changed = change_profile(
            db(),
            runtime().clock,
            ctx.org,
            ctx.staff.user.id,
            name=form.name.data or "",
            locale=form.locale.data or "",
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _profile_page(ctx, form=form, status=400)
    return done("admin.profile", ctx.org.slug, "saved" if changed else "unchanged")


@bp.post("/profile/colour")
def accent_change(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = AccentForm()
    if not form.validate_on_submit():
        return _profile_page(ctx, accent_form=form, status=400)
    try:
        changed = set_accent(
            db(), runtime().clock, ctx.org.id, ctx.staff.user.id, form.accent.data or ""
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _profile_page(ctx, accent_form=form, status=400)
    return done("admin.profile", ctx.org.slug, "saved" if changed else "unchanged")


def _read_capped(stream: IO[bytes], limit: int) -> bytes:
    """At most ``limit`` bytes of an upload (a read may return less than asked: read on)."""
    chunks: list[bytes] = []
    size = 0
    while size < limit:
        chunk = stream.read(min(64 * 1024, limit - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


@bp.post("/profile/logo")
def logo_upload(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = LogoForm()
    if not form.validate_on_submit():
        return _profile_page(ctx, logo_form=form, status=400)
    upload = request.files.get("logo")
    data = _read_capped(upload.stream, LOGO_MAX_BYTES + 1) if upload is not None else b""
    try:
        set_logo(db(), runtime().clock, ctx.org.id, ctx.staff.user.id, data)
    except Refused as exc:
        show_refusal(form, exc)
        return _profile_page(ctx, logo_form=form, status=400)
    return done("admin.profile", ctx.org.slug, "saved")


@bp.post("/profile/logo/remove")
def logo_remove(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = EmptyForm(prefix="remove")
    if not form.validate_on_submit():
        return _profile_page(ctx, status=400)
    removed = remove_logo(db(), runtime().clock, ctx.org.id, ctx.staff.user.id)
    return done("admin.profile", ctx.org.slug, "saved" if removed else "unchanged")


@logo_bp.get("/o/<slug>/logo.png")
@public
def show(slug: str) -> Response:
    """The organisation's logo for its reporting page (public, as the page is)."""
    session = db()
    org = find_by_slug(session, slug)
    found = logo(session, org.id) if org is not None else None
    if found is None:
        abort(404)
    # Not cached (whistle/web/security.py sets no-store on every dynamic response): a logo in
    # a browser's cache would tell whoever seizes the computer which scheme was visited.
    response = Response(found.png, mimetype="image/png")
    response.set_etag(found.etag)
    return response.make_conditional(request)


@logo_bp.get("/o/<slug>/theme.css")
@public
def theme(slug: str) -> Response:
    """The organisation's colour as a style sheet (the policy allows no inline style)."""
    session = db()
    org = find_by_slug(session, slug)
    colour = accent(session, org.id) if org is not None else None
    if colour is None:
        abort(404)
    return Response(theme_css(colour), mimetype="text/css")


@logo_bp.app_context_processor
def branding() -> dict[str, Any]:
    """On an organisation's pages (any address with its ``slug``): its logo and colour, for
    templates/base.html."""
    slug = (request.view_args or {}).get("slug") if has_request_context() else None
    if not isinstance(slug, str):
        return {"branding": None}
    try:
        session = db()
        org = find_by_slug(session, slug)
        if org is None:
            return {"branding": None}
        found = {
            "slug": org.slug,
            "logo": has_logo(session, org.id),
            "accent": accent(session, org.id),
        }
    except SQLAlchemyError:  # an error page about the database itself shows no branding
        return {"branding": None}
    return {"branding": found}
