"""A reporter using the public pages through the Flask test client, step by step.

Tests read like what a person does: open the start page, fill in the form, write down the
code, come back later with it.
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field
from html import unescape
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from crypto import KeyKind, PrivateKey, decrypt_field, open_case_key
from tests.steps.factories import Staff
from tests.steps.pages import csrf_token
from whistle.casefile.access import KeyRing, case_kek, open_keys, open_reporter_keys, unwrap_sealed
from whistle.casefile.key_wrapping import unwrap_reporter_key
from whistle.core.contexts import identity_context, report_context
from whistle.core.models import Case, CaseKey, Category, Organisation
from whistle.core.runtime import runtime
from whistle.reporting.intake import Submission

CODE_RE = re.compile(r'<p class="code" lang="en">([A-Z0-9-]+)</p>')
SUBMISSION_RE = re.compile(r'name="submission" type="hidden" value="([^"]+)"')


@dataclass
class Upload:
    name: str
    data: bytes

    def as_form_value(self) -> tuple[io.BytesIO, str]:
        return io.BytesIO(self.data), self.name


@dataclass
class ReportAnswers:
    """What the reporter types. Only obviously fake content."""

    what: str = "Fake test report: pallets are sold privately from the warehouse."
    category: str = "not-sure"
    when_where: str = ""
    who: str = ""
    how_known: str = ""
    relation: str = ""
    named: bool = False
    name: str = ""
    contact: str = ""
    exclude: list[int] = field(default_factory=list)
    meeting: bool = False
    nudge_email: str = ""
    files: list[Upload] = field(default_factory=list)
    website: str = ""


class Reporter:
    """One person's browser on the reporter side of organisation ``slug``."""

    def __init__(self, app: Flask, slug: str, *, address: str = "192.0.2.10") -> None:
        self.app = app
        self.slug = slug
        self.client: FlaskClient = app.test_client()
        # Every reporter has their own client address, as real ones do (throttles are per
        # address); nothing stores it.
        self.client.environ_base["REMOTE_ADDR"] = address
        self.headers = {"Accept-Language": "en"}

    def get(self, path: str, **kwargs: Any) -> TestResponse:
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, data: dict[str, Any], **kwargs: Any) -> TestResponse:
        return self.client.post(path, data=data, headers=self.headers, **kwargs)

    def category_id(self, code: str) -> int:
        with runtime(self.app).sessions() as session:
            return session.scalars(
                select(Category.id)
                .join(Organisation, Organisation.id == Category.org_id)
                .where(Category.code == code, Organisation.slug == self.slug)
            ).one()

    def fill_report(self, answers: ReportAnswers) -> dict[str, Any]:
        form = self.get(f"/o/{self.slug}/report")
        assert form.status_code == 200
        submission = SUBMISSION_RE.search(form.get_data(as_text=True))
        assert submission, "the report form has no submission token"
        data: dict[str, Any] = {
            "csrf_token": csrf_token(form),
            "submission": unescape(submission.group(1)),
            "category": str(self.category_id(answers.category)),
            "what": answers.what,
            "when_where": answers.when_where,
            "who": answers.who,
            "how_known": answers.how_known,
            "relation": answers.relation,
            "identity": "named" if answers.named else "anonymous",
            "name": answers.name,
            "contact": answers.contact,
            "nudge_email": answers.nudge_email,
            "website": answers.website,
            "exclude": [str(i) for i in answers.exclude],
            "attachments": [f.as_form_value() for f in answers.files],
        }
        if answers.meeting:
            data["meeting"] = "y"
        return data

    def send_report(self, answers: ReportAnswers) -> TestResponse:
        """Fill in and send the form; the response is not followed."""
        return self.post(
            f"/o/{self.slug}/report",
            self.fill_report(answers),
            content_type="multipart/form-data",
        )

    def report(self, answers: ReportAnswers) -> str:
        """Send a report that must be accepted; return the case code shown once."""
        sent = self.send_report(answers)
        assert sent.status_code == 303, sent.get_data(as_text=True)[:2000]
        assert sent.headers["Location"].endswith(f"/o/{self.slug}/report/code")
        page = self.get(f"/o/{self.slug}/report/code")
        match = CODE_RE.search(page.get_data(as_text=True))
        assert match, "the code page shows no case code"
        return match.group(1)

    def confirm_written_down(self) -> TestResponse:
        page = self.get(f"/o/{self.slug}/report/code")
        return self.post(
            f"/o/{self.slug}/report/code", {"csrf_token": csrf_token(page), "written_down": "y"}
        )

    def open_case(self, code: str) -> TestResponse:
        page = self.get(f"/o/{self.slug}/case/open")
        return self.post(
            f"/o/{self.slug}/case/open", {"csrf_token": csrf_token(page), "code": code}
        )

    def mailbox(self) -> TestResponse:
        return self.get(f"/o/{self.slug}/case/")

    def reply(self, body: str, files: list[Upload] | None = None) -> TestResponse:
        page = self.mailbox()
        return self.post(
            f"/o/{self.slug}/case/",
            {
                "csrf_token": csrf_token(page),
                "body": body,
                "attachments": [f.as_form_value() for f in files or []],
            },
            content_type="multipart/form-data",
        )

    def leave(self) -> TestResponse:
        page = self.mailbox()
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))
        assert found, "the mailbox has no sign-out form"
        return self.post(f"/o/{self.slug}/case/sign-out", {"csrf_token": unescape(found.group(1))})


def file_links(page: TestResponse) -> dict[str, str]:
    """The files listed on a mailbox page: shown name -> download path."""
    html = page.get_data(as_text=True)
    return {
        unescape(name): unescape(href)
        for href, name in re.findall(r'<a href="([^"]*/case/file/[0-9a-f]+)">([^<]*)</a>', html)
    }


@dataclass
class HandlerView:
    """What an entitled handler decrypts for a case (the handler workspace's raw material)."""

    report: dict[str, Any]
    identity: dict[str, Any] | None
    content_key: bytes  # of epoch 0, the report's
    content: KeyRing  # every epoch the handler holds


def reporter_ring(session: Session, submission: Submission) -> KeyRing:
    """The content keys the reporter of ``submission`` holds (through their key pair)."""
    return open_reporter_keys(
        session, submission.case, PrivateKey.from_seed(submission.reporter_seed)
    )


def stored_sealed(session: Session, case: Case, stored: bytes) -> bytes:
    """A sealed key as its row stores it, unwrapped from the case's key-encryption key (which
    the key store, outside the database, holds)."""
    sealed = unwrap_sealed(case_kek(session, case.uid), case.uid, stored)
    assert sealed is not None, "the case's key-encryption key is gone"
    return sealed


def reporter_blob(session: Session, case: Case) -> bytes:
    """The reporter's R blob, unwrapped from the case's key-encryption key."""
    blob = unwrap_reporter_key(session, case)
    assert blob is not None
    return blob


def read_as_handler(session: Session, case: Case, handler: Staff) -> HandlerView:
    assert handler.private_key is not None

    def key(kind: KeyKind) -> bytes:
        sealed = session.scalars(
            select(CaseKey.sealed).where(
                CaseKey.case_id == case.id,
                CaseKey.user_id == handler.user.id,
                CaseKey.kind == kind.value,
                CaseKey.epoch == 0,
            )
        ).one()
        assert handler.private_key is not None
        return open_case_key(
            handler.private_key, stored_sealed(session, case, sealed), case_id=case.uid, kind=kind
        )

    content_key = key(KeyKind.CONTENT)
    report = json.loads(decrypt_field(content_key, case.report, context=report_context(case.uid)))
    identity = None
    if case.identity is not None:
        identity = json.loads(
            decrypt_field(key(KeyKind.IDENTITY), case.identity, context=identity_context(case.uid))
        )
    content = open_keys(session, case, handler.user.id, handler.private_key).content
    return HandlerView(report=report, identity=identity, content_key=content_key, content=content)
