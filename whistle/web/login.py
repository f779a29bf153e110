"""Staff identity for Flask-Login, read from the vault session (whistle/web/staff_session.py).

Reporters never get a login session: they hold a case code. Flask-Login's own cookie-based
user id is not used: a staff member is signed in exactly while their vault session is open,
so sign-out, the idle timeout and a password change take effect on the next request.
"""

from __future__ import annotations

from flask import Flask, Request
from flask_login import LoginManager, UserMixin

from whistle.core.models import User


class StaffUser(UserMixin):
    """The signed-in staff member, as Flask-Login sees them."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)


def load_from_vault(_request: Request) -> StaffUser | None:
    from whistle.web import staff_session

    opened = staff_session.current()
    return StaffUser(opened.user) if opened is not None else None


def init_login(app: Flask) -> None:
    manager = LoginManager()
    # Flask-Login's own protection would clear the session (and set a remember-me cookie) on a
    # reporter's first form; staff sessions are bound server-side instead, and "remember me"
    # is never offered.
    manager.session_protection = None
    manager.request_loader(load_from_vault)
    manager.init_app(app)
