"""An admin's invitation is mailed at once when mail is set up, and shown to the admin."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.steps.factories import make_unit
from tests.steps.pages import text_of
from tests.steps.smtp_stub import SmtpReceiver
from tests.steps.staff import StaffMember
from whistle.app import create_app
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime


@pytest.fixture
def mail_app(
    app_config: dict[str, Any], instance_path: Path, clock: FixedClock, smtp_server: SmtpReceiver
) -> Iterator[Flask]:
    config = {
        **app_config,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_security": "none",
        "smtp_from": "whistle@testfirma.example.org",
        "smtp_timeout": 5,
    }
    application = create_app(config, instance_path=instance_path, clock=clock)
    application.config["TESTING"] = True
    yield application
    runtime(application).engine.dispose()


def test_the_invitation_is_mailed_and_shown_once(
    mail_app: Flask, clock: FixedClock, smtp_server: SmtpReceiver
) -> None:
    rt = runtime(mail_app)
    with mail_app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
        slug = unit.org.slug
    admin = StaffMember(mail_app, clock, unit.admin)
    admin.sign_in()
    page = admin.submit(
        f"/staff/{slug}/admin/users", {"email": "ny.kollega@example.org", "roles": ["handler"]}
    )
    shown = text_of(page)
    assert "It has also been sent to the person by e-mail." in shown
    link = re.search(r"http://localhost/staff/invitation/[A-Za-z0-9_-]+", shown)
    assert link
    [mail] = smtp_server.received
    assert mail.recipients == ["TO:<ny.kollega@example.org>"]
    message = mail.message
    assert unit.org.name in message["Subject"]
    assert link.group(0) in message.get_content()
    # The link's secret is nowhere in the database: only its hash is stored.
    with rt.sessions() as s:
        from sqlalchemy import text

        dump = " ".join(
            str(row)
            for table in ("invitations", "outbox", "audit_entries")
            for row in s.execute(text(f"SELECT * FROM {table}"))
        )
    assert link.group(0).rsplit("/", 1)[1] not in dump


def test_without_mail_the_admin_is_told_to_pass_the_link_on(app: Flask, clock: FixedClock) -> None:
    rt = runtime(app)
    with app.app_context(), rt.sessions() as s:
        unit = make_unit(s, clock, rt.settings.instance_key)
        slug = unit.org.slug
    admin = StaffMember(app, clock, unit.admin)
    admin.sign_in()
    page = admin.submit(
        f"/staff/{slug}/admin/users", {"email": "ny.kollega@example.org", "roles": ["handler"]}
    )
    assert "This installation sends no e-mail" in text_of(page)
