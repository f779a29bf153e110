"""Mails give their days in words, in the language the mail is written in (the organisation's):
"4. maj 2026" or "4 May 2026", never ISO or the US order."""

from __future__ import annotations

import re
from datetime import date

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.steps.factories import Unit
from whistle.notify.outbox import MailKind
from whistle.notify.sending import render_mail

DUE = date(2026, 5, 4)
DATED = (
    MailKind.ACK_SOON,
    MailKind.ACK_OVERDUE,
    MailKind.FEEDBACK_SOON,
    MailKind.FEEDBACK_OVERDUE,
    MailKind.DELETION_SOON,
)
ISO_OR_US = re.compile(r"\d{4}-\d{2}-\d{2}|May 4, 2026|5/4/2026")


@pytest.mark.parametrize(("language", "day"), [("da", "4. maj 2026"), ("en", "4 May 2026")])
def test_every_mail_with_a_day_says_it_in_words_in_the_mails_language(
    app: Flask, session: Session, unit: Unit, language: str, day: str
) -> None:
    unit.org.default_locale = language
    session.commit()
    with app.app_context():
        for kind in MailKind:
            mail = render_mail(
                kind,
                unit.org,
                base_url="https://whistle.example",
                case_reference="2026-0042",
                due=DUE if kind in DATED else None,
            )
            assert not ISO_OR_US.search(mail.subject + mail.body), kind
            assert (day in mail.body) == (kind in DATED), kind
