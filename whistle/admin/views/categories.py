"""The console's categories page: the categories a reporter chooses from, added, renamed,
moved, offered or not, and deleted when no case ever had them.

Each view parses its form and calls :mod:`whistle.admin.categories` (which commits), then
redirects, or shows the page again with the form's errors or the refusal.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import abort
from flask_babel import get_locale
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

# Imported as a module: its functions share their names with the views here.
from whistle.admin import categories as org_categories
from whistle.admin.forms import CategoryForm, CategoryStateForm, EmptyForm, MoveForm
from whistle.admin.views.console import admin, bp, done, page
from whistle.core.refusals import Refused
from whistle.core.runtime import db, runtime
from whistle.web.forms import show_refusal
from whistle.web.guard import StaffContext


def _categories_page(
    ctx: StaffContext,
    *,
    add_form: CategoryForm | None = None,
    failed: int | None = None,
    failed_form: FlaskForm | None = None,
    refusal: object = None,
    status: int = 200,
) -> tuple[str, int]:
    rows = org_categories.categories(db(), ctx.org.id)
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
        movable=sum(1 for row in rows if not row.always_on),
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
        added = org_categories.add_category(
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
    return done("admin.categories", ctx.org.slug, "saved", anchor=f"category-{added.id}")


def _category_action(
    slug: str,
    category_id: int,
    form: FlaskForm,
    action: Callable[[StaffContext], bool],
) -> Response | tuple[str, int]:
    """Run ``action`` (a unit of work: it commits) on a category of the organisation if
    ``form`` is valid; the page again with the form's errors or the refusal otherwise."""
    ctx = admin(slug)
    try:
        org_categories.category(db(), ctx.org.id, category_id)
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
        lambda ctx: org_categories.rename_category(
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
        lambda ctx: org_categories.move_category(
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
        lambda ctx: org_categories.set_category_active(
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
        org_categories.delete_category(
            db(), runtime().clock, ctx.org.id, ctx.staff.user.id, category_id
        )
        return True

    return _category_action(slug, category_id, form, act)
