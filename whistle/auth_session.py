"""Staff sessions (Flask-Login). Reporters never get a login session: they hold a case code."""

from __future__ import annotations

from flask import Flask
from flask_login import LoginManager, UserMixin

from whistle.models import User
from whistle.runtime import db


class StaffUser(UserMixin):
    """The signed-in staff member, as Flask-Login sees them."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.id = str(user.id)

    @property
    def is_active(self) -> bool:
        return bool(self.user.is_active)


def load_user(user_id: str) -> StaffUser | None:
    if not user_id.isdigit():
        return None
    user = db().get(User, int(user_id))
    if user is None or not user.is_active:
        return None
    return StaffUser(user)


def init_login(app: Flask) -> None:
    manager = LoginManager()
    # Flask-Login's own protection would clear the session (and set a remember-me cookie) on a
    # reporter's first form; staff sessions are bound server-side instead, and "remember me"
    # is never offered.
    manager.session_protection = None
    manager.user_loader(load_user)
    manager.init_app(app)
