"""The console's settings pages: the organisation's profile and logo, the reporting page's
texts, categories, the reporting channel and upload limits, retention, the deployment's mail
server (with a test mail), and the record of processing (GDPR art. 30).

Each view parses its form, calls :mod:`whistle.admin.scheme` (or :mod:`whistle.admin.record`),
commits and redirects, or shows the page again with the form's errors. The pages are built
from settings and counts: nothing here opens a case key or reads anything a reporter wrote.

The organisation's logo is served publicly (``/o/<slug>/logo.png``, blueprint ``org_logo``),
for the reporting page.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import IO

from flask import Blueprint, abort, request, url_for
from flask_babel import get_locale
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from whistle.admin import people, record, scheme
from whistle.admin.forms import (
    LANGUAGE_NAMES,
    TEXT_TITLES,
    CategoryForm,
    CategoryStateForm,
    ChannelForm,
    EmptyForm,
    LogoForm,
    MailForm,
    MoveForm,
    ProfileForm,
    UploadsForm,
    chosen_presets,
    retention_form,
    text_fields,
    texts_form,
)
from whistle.admin.views.console import admin, bp, done, page
from whistle.casefile.limits import upload_limits
from whistle.core.labels import OUTCOME_LABELS
from whistle.core.organisations import find_by_slug
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.core.settings import LOCALES
from whistle.notify import mail
from whistle.retention import schedule
from whistle.web.access import public
from whistle.web.forms import show_refusal
from whistle.web.guard import StaffContext

logo_bp = Blueprint("org_logo", __name__)
log = logging.getLogger(__name__)


# --- Profile and logo -----------------------------------------------------------------------


def _profile_page(
    ctx: StaffContext,
    *,
    form: ProfileForm | None = None,
    logo_form: LogoForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    if form is None:
        form = ProfileForm(formdata=None, name=ctx.org.name, locale=ctx.org.default_locale)
    return page(
        "admin/profile.html",
        ctx,
        status,
        form=form,
        logo_form=logo_form or LogoForm(formdata=None),
        remove_form=EmptyForm(prefix="remove", formdata=None),
        has_logo=scheme.has_logo(db(), ctx.org.id),
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
        changed = scheme.change_profile(
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
    db().commit()
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
    data = _read_capped(upload.stream, scheme.LOGO_MAX_BYTES + 1) if upload is not None else b""
    try:
        scheme.set_logo(db(), runtime().clock, ctx.org.id, ctx.staff.user.id, data)
    except Refused as exc:
        show_refusal(form, exc)
        return _profile_page(ctx, logo_form=form, status=400)
    db().commit()
    return done("admin.profile", ctx.org.slug, "saved")


@bp.post("/profile/logo/remove")
def logo_remove(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = EmptyForm(prefix="remove")
    if not form.validate_on_submit():
        return _profile_page(ctx, status=400)
    removed = scheme.remove_logo(db(), runtime().clock, ctx.org.id, ctx.staff.user.id)
    db().commit()
    return done("admin.profile", ctx.org.slug, "saved" if removed else "unchanged")


@logo_bp.get("/o/<slug>/logo.png")
@public
def show(slug: str) -> Response:
    """The organisation's logo for its reporting page (public, as the page is)."""
    session = db()
    org = find_by_slug(session, slug)
    found = scheme.logo(session, org.id) if org is not None else None
    if found is None:
        abort(404)
    # Not cached (whistle/web/security.py sets no-store on every dynamic response): a logo in
    # a browser's cache would tell whoever seizes the computer which scheme was visited.
    response = Response(found.png, mimetype="image/png")
    response.set_etag(found.etag)
    return response.make_conditional(request)


# --- Texts ----------------------------------------------------------------------------------


@bp.route("/texts", methods=["GET", "POST"])
def texts(slug: str) -> Response | tuple[str, int]:
    """The texts of the reporting page, in both languages."""
    ctx = admin(slug)
    session = db()
    form = texts_form()
    if form.is_submitted():
        if form.validate():
            try:
                changed = scheme.save_texts(
                    session, runtime().clock, ctx.org.id, ctx.staff.user.id, text_fields(form)
                )
            except Refused as exc:
                show_refusal(form, exc)
            else:
                session.commit()
                return done("admin.texts", ctx.org.slug, "saved" if changed else "unchanged")
        status = 400
    else:
        form = texts_form(scheme.text_drafts(session, ctx.org.id))
        status = 200
    return page(
        "admin/texts.html",
        ctx,
        status,
        form=form,
        keys=scheme.TEXT_KEYS,
        locales=LOCALES,
        titles=TEXT_TITLES,
        languages=LANGUAGE_NAMES,
    )


# --- Categories -----------------------------------------------------------------------------


def _categories_page(
    ctx: StaffContext,
    *,
    add_form: CategoryForm | None = None,
    failed: int | None = None,
    failed_form: FlaskForm | None = None,
    refusal: object = None,
    status: int = 200,
) -> tuple[str, int]:
    rows = scheme.categories(db(), ctx.org.id)
    forms: dict[int, FlaskForm] = {
        row.category.id: CategoryForm(
            prefix=f"cat-{row.category.id}",
            formdata=None,
            label_da=row.category.label_da,
            label_en=row.category.label_en,
        )
        for row in rows
    }
    if failed is not None and isinstance(failed_form, CategoryForm):
        forms[failed] = failed_form
    return page(
        "admin/categories.html",
        ctx,
        status,
        rows=rows,
        forms=forms,
        failed=failed,
        failed_form=failed_form,
        refusal=refusal,
        add_form=add_form or CategoryForm(prefix="add", formdata=None),
        english=str(get_locale()) == "en",
    )


@bp.route("/categories", methods=["GET", "POST"])
def categories(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = CategoryForm(prefix="add")
    if not form.is_submitted():
        return _categories_page(ctx)
    if not form.validate():
        return _categories_page(ctx, add_form=form, status=400)
    try:
        added = scheme.add_category(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            form.label_da.data or "",
            form.label_en.data or "",
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _categories_page(ctx, add_form=form, status=400)
    db().commit()
    return done("admin.categories", ctx.org.slug, "saved", anchor=f"category-{added.id}")


def _category_action(
    slug: str,
    category_id: int,
    form: FlaskForm,
    action: Callable[[StaffContext], bool],
) -> Response | tuple[str, int]:
    ctx = admin(slug)
    try:
        scheme.category(db(), ctx.org.id, category_id)
    except LookupError:
        abort(404)
    if not form.validate_on_submit():
        return _categories_page(ctx, failed=category_id, failed_form=form, status=400)
    try:
        changed = action(ctx)
    except Refused as exc:
        show_refusal(form, exc)
        if exc.field in form:
            return _categories_page(ctx, failed=category_id, failed_form=form, status=409)
        return _categories_page(
            ctx, failed=category_id, failed_form=form, refusal=exc.message, status=409
        )
    db().commit()
    return done(
        "admin.categories",
        ctx.org.slug,
        "saved" if changed else "unchanged",
        anchor=f"category-{category_id}",
    )


@bp.post("/categories/<int:category_id>")
def rename_category(slug: str, category_id: int) -> Response | tuple[str, int]:
    form = CategoryForm(prefix=f"cat-{category_id}")
    return _category_action(
        slug,
        category_id,
        form,
        lambda ctx: scheme.rename_category(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            category_id,
            form.label_da.data or "",
            form.label_en.data or "",
        ),
    )


@bp.post("/categories/<int:category_id>/move")
def move_category(slug: str, category_id: int) -> Response | tuple[str, int]:
    form = MoveForm()
    return _category_action(
        slug,
        category_id,
        form,
        lambda ctx: scheme.move_category(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            category_id,
            -1 if form.direction.data == "up" else 1,
        ),
    )


@bp.post("/categories/<int:category_id>/active")
def category_state(slug: str, category_id: int) -> Response | tuple[str, int]:
    form = CategoryStateForm()
    return _category_action(
        slug,
        category_id,
        form,
        lambda ctx: scheme.set_category_active(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            category_id,
            form.active.data == "1",
        ),
    )


@bp.post("/categories/<int:category_id>/delete")
def delete_category(slug: str, category_id: int) -> Response | tuple[str, int]:
    form = EmptyForm()

    def act(ctx: StaffContext) -> bool:
        scheme.delete_category(db(), runtime().clock, ctx.org.id, ctx.staff.user.id, category_id)
        return True

    return _category_action(slug, category_id, form, act)


# --- The reporting channel and uploads ------------------------------------------------------


def _reporting_page(
    ctx: StaffContext,
    *,
    channel_form: ChannelForm | None = None,
    uploads_form: UploadsForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    session = db()
    if channel_form is None:
        channel_form = ChannelForm(
            formdata=None,
            anonymous="yes" if ctx.org.accepts_anonymous else "no",
            groups=scheme.reporter_groups(session, ctx.org.id),
        )
    if uploads_form is None:
        current = upload_limits(session, ctx.org.id)
        uploads_form = UploadsForm(
            prefix="uploads",
            formdata=None,
            file_mb=current.max_file_mb,
            files=current.max_files,
            total_mb=current.max_total_mb,
        )
    return page(
        "admin/reporting.html",
        ctx,
        status,
        channel_form=channel_form,
        uploads_form=uploads_form,
        request_mb=runtime().settings.max_request_mb,
    )


@bp.route("/reporting", methods=["GET", "POST"])
def reporting(slug: str) -> Response | tuple[str, int]:
    """Anonymous reports and who may report."""
    ctx = admin(slug)
    form = ChannelForm()
    if not form.is_submitted():
        return _reporting_page(ctx)
    if not form.validate():
        return _reporting_page(ctx, channel_form=form, status=400)
    try:
        changed = scheme.change_channel(
            db(),
            runtime().clock,
            ctx.org,
            ctx.staff.user.id,
            accepts_anonymous=form.anonymous.data == "yes",
            groups=list(form.groups.data or []),
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _reporting_page(ctx, channel_form=form, status=400)
    db().commit()
    return done("admin.reporting", ctx.org.slug, "saved" if changed else "unchanged")


@bp.post("/reporting/uploads")
def uploads(slug: str) -> Response | tuple[str, int]:
    ctx = admin(slug)
    form = UploadsForm(prefix="uploads")
    if not form.validate_on_submit():
        return _reporting_page(ctx, uploads_form=form, status=400)
    try:
        changed = scheme.change_upload_limits(
            db(),
            runtime().clock,
            ctx.org.id,
            ctx.staff.user.id,
            file_mb=form.file_mb.data or 0,
            files=form.files.data or 0,
            total_mb=form.total_mb.data or 0,
            request_mb=runtime().settings.max_request_mb,
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _reporting_page(ctx, uploads_form=form, status=400)
    db().commit()
    return done("admin.reporting", ctx.org.slug, "saved" if changed else "unchanged")


# --- Retention ------------------------------------------------------------------------------


@bp.route("/retention", methods=["GET", "POST"])
def retention_presets(slug: str) -> Response | tuple[str, int]:
    """How long closed cases are kept, per outcome."""
    ctx = admin(slug)
    session = db()
    form = retention_form()
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                changed = scheme.change_presets(
                    session, runtime().clock, ctx.org.id, ctx.staff.user.id, chosen_presets(form)
                )
            except Refused as exc:
                show_refusal(form, Refused(f"{exc.field}_amount", exc.message))
            else:
                session.commit()
                return done(
                    "admin.retention_presets", ctx.org.slug, "saved" if changed else "unchanged"
                )
    else:
        current = schedule.presets(session, ctx.org.id)
        form = retention_form({outcome: str(preset) for outcome, preset in current.items()})
    return page(
        "admin/retention.html",
        ctx,
        status,
        form=form,
        outcomes=list(OUTCOME_LABELS.items()),
        warning_days=schedule.WARNING_DAYS,
    )


# --- Mail -----------------------------------------------------------------------------------


def _mail_page(
    ctx: StaffContext, *, form: MailForm | None = None, status: int = 200, failure: str = ""
) -> tuple[str, int]:
    session = db()
    saved = mail.stored(session)
    settings = runtime().settings
    if form is None:
        form = MailForm(formdata=None)
        if saved is not None:
            form.host.data = saved.host
            form.port.data = saved.port
            form.security.data = saved.security
            form.sender.data = saved.sender
            form.username.data = saved.username
        else:
            form.port.data = 587
            form.security.data = "starttls"
    return page(
        "admin/mail.html",
        ctx,
        status,
        form=form,
        saved=saved,
        file_host=settings.smtp_host,
        may_change=people.administers_installation(session, ctx.staff.user.id),
        test_form=EmptyForm(prefix="test", formdata=None),
        failure=failure,
        own_address=ctx.staff.user.email,
    )


@bp.route("/mail", methods=["GET", "POST"])
def mail_settings(slug: str) -> Response | tuple[str, int]:
    """The deployment's mail server. It serves every organisation here, so only someone who
    administers all of them changes it; everyone else sees it."""
    ctx = admin(slug)
    form = MailForm()
    if not form.is_submitted():
        return _mail_page(ctx)
    session = db()
    if not people.administers_installation(session, ctx.staff.user.id):
        return _mail_page(ctx, status=409)
    if not form.validate():
        return _mail_page(ctx, form=form, status=400)
    rt = runtime()
    try:
        scheme.change_mail(
            session,
            rt.clock,
            ctx.org.id,
            ctx.staff.user.id,
            mail.StoredMail(
                host=(form.host.data or "").strip(),
                port=form.port.data or 0,
                security=form.security.data or "",
                sender=(form.sender.data or "").strip(),
                username=(form.username.data or "").strip(),
                has_password=False,
            ),
            form.password.data or "",
            instance_key=rt.settings.instance_key,
        )
    except Refused as exc:
        show_refusal(form, exc)
        return _mail_page(ctx, form=form, status=400)
    session.commit()
    return done("admin.mail_settings", ctx.org.slug, "saved")


@bp.post("/mail/test")
def mail_test(slug: str) -> Response | tuple[str, int]:
    """Send a test mail to the administrator's own address."""
    ctx = admin(slug)
    form = EmptyForm(prefix="test")
    if not form.validate_on_submit():
        return _mail_page(ctx, status=400)
    session = db()
    rt = runtime()
    try:
        config = mail.deployment_config(session, rt.settings)
    except mail.MailNotConfigured:
        return _mail_page(ctx, status=409, failure="off")
    with mail.SmtpTransport(config) as transport:
        failure = scheme.send_test_mail(
            session, rt.clock, ctx.org, ctx.staff.user.id, transport, to=ctx.staff.user.email
        )
    session.commit()
    if failure is not None:
        log.warning("test mail not sent: %s", failure)
        return _mail_page(ctx, status=409, failure=failure)
    return done("admin.mail_settings", ctx.org.slug, "mail_sent")


# --- Record of processing -------------------------------------------------------------------


@bp.get("/record")
def processing_record(slug: str) -> tuple[str, int]:
    """The record of processing (GDPR art. 30), generated from the settings; printable."""
    ctx = admin(slug)
    rt = runtime()
    made = record.processing_record(
        db(),
        ctx.org,
        rt.settings,
        today=rt.clock.now().date(),
        english=str(get_locale()) == "en",
        reporting_page=url_for("reporting.start", slug=ctx.org.slug, _external=True),
    )
    return page("admin/record.html", ctx, record=made)
