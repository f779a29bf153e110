"""An admin's invitation is mailed at once when mail is set up (and then not shown to the
admin), or shown to the admin to pass on when it is not."""

from __future__ import annotations

import re

from flask import Flask

from tests.steps.factories import make_unit
from tests.steps.pages import text_of
from tests.steps.smtp_stub import SmtpReceiver
from tests.steps.staff import StaffMember
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime


def test_the_invitation_is_mailed_and_not_shown_to_the_admin(
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
    assert "The invitation has been sent to ny.kollega@example.org by e-mail." in shown
    [mail] = smtp_server.received
    assert mail.recipients == ["TO:<ny.kollega@example.org>"]
    message = mail.message
    assert unit.org.name in message["Subject"]
    link = re.search(
        r"http://localhost/staff/invitation#([A-Za-z0-9_-]{40,})", message.get_content()
    )
    assert link
    # Mailed, the link goes to the person only: the administrator never holds its secret.
    assert link.group(1) not in page.get_data(as_text=True)
    assert "/staff/invitation" not in page.get_data(as_text=True)
    # The link's secret is nowhere in the database: only its hash is stored.
    with rt.sessions() as s:
        from sqlalchemy import text

        dump = " ".join(
            str(row)
            for table in ("invitations", "outbox", "audit_entries")
            for row in s.execute(text(f"SELECT * FROM {table}"))
        )
    assert link.group(1) not in dump


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
