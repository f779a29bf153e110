"""Deny by default: every view needs a signed-in staff member unless it is marked public.

Marking is explicit (``@public``) so that a new view forgotten by its author is closed, not open.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import current_app, make_response, redirect, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from whistle.web import staff_session
from whistle.web.ended import render_form_not_taken

F = TypeVar("F", bound=Callable[..., object])

PUBLIC_ATTR = "_whistle_public"


def public(view: F) -> F:
    """Mark a view as reachable without signing in (reporter pages, health, setup)."""
    setattr(view, PUBLIC_ATTR, True)
    return view


def is_public_endpoint(endpoint: str | None) -> bool:
    if endpoint is None:  # no route matched: let the 404/405 handler answer
        return True
    if endpoint == "static":
        return True
    view = current_app.view_functions.get(endpoint)
    return bool(view is not None and getattr(view, PUBLIC_ATTR, False))


def enforce_login() -> Response | None:
    """``before_request`` hook: refuse non-public views to anyone not signed in.

    A page (GET) leads to the sign-in form, which comes back here afterwards (saying the
    session ended only when one did); anything else is refused, so no form post is ever acted
    on without a session: the answer says why, shows back what was typed and leads to signing
    in (whistle/web/ended.py).
    """
    if is_public_endpoint(request.endpoint):
        return None
    if current_user.is_authenticated:
        return None
    ended = staff_session.ended()
    if request.method == "GET":
        back = url_for("staff.sign_in", ended=1 if ended else None, next=request.full_path)
        return redirect(back, code=303)
    return make_response(render_form_not_taken(ended=ended, status=403))
