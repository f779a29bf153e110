"""The reporter's side, as a reporter uses it: report, write down the code, follow up."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crypto import normalise_case_code
from tests.steps.factories import Unit, make_unit
from tests.steps.pages import text_of
from tests.steps.reporter import (
    ReportAnswers,
    Reporter,
    Upload,
    file_links,
    read_as_handler,
)
from whistle.admin.texts import set_org_text
from whistle.app import create_app
from whistle.casefile.conversation import PreparedFile, post_message
from whistle.core.clock import FixedClock
from whistle.core.models import Author, Case, CaseKey, Message, Organisation, OrgSetting
from whistle.core.org_keys import verify_key
from whistle.core.runtime import runtime
from whistle.core.storage import FileStore
from whistle.reporting import code_attempts
from whistle.reporting.receipts import InvalidReceipt, verify_receipt
from whistle.web.uploads import safe_display_name

EVIDENCE = b"Fake evidence file for tests. " * 2000  # 60 KB: spooled to disk by Werkzeug
UNKNOWN = "No case could be opened with this code."


@pytest.fixture
def reporter(app: Flask, unit: Unit) -> Reporter:
    return Reporter(app, unit.org.slug)


def cases(session: Session) -> list[Case]:
    session.expire_all()
    return list(session.scalars(select(Case).order_by(Case.id)))


def stored_files(app: Flask) -> list[str]:
    return sorted(FileStore(runtime(app).settings.file_store).names())


def set_org_setting(session: Session, unit: Unit, key: str, value: str) -> None:
    session.add(OrgSetting(org_id=unit.org.id, key=key, value=value))
    session.commit()


# --- the start page --------------------------------------------------------------------------


def test_start_page_explains_the_scheme_in_both_languages(
    reporter: Reporter, session: Session, unit: Unit
) -> None:
    english = text_of(reporter.get(f"/o/{unit.org.slug}/"))
    for expected in (
        "How the scheme works",
        "whistleblower.dk",
        "Retaliation against a person who reports",
        "No IP address or browser information is stored",
        "You can report anonymously",
    ):
        assert expected in english
    reporter.headers = {"Accept-Language": "da"}
    danish = text_of(reporter.get(f"/o/{unit.org.slug}/"))
    assert "Sådan fungerer ordningen" in danish
    assert "Datatilsynet" in danish


def test_an_organisation_text_overrides_the_default_and_is_sanitised(
    reporter: Reporter, session: Session, unit: Unit
) -> None:
    set_org_text(
        session,
        unit.org.id,
        "who_handles",
        "en",
        '<p>Our unit: <a href="https://example.org/unit">two lawyers</a></p>'
        "<script>alert(1)</script><img src=x onerror=alert(1)>",
    )
    session.commit()
    html = reporter.get(f"/o/{unit.org.slug}/").get_data(as_text=True)
    assert '<a href="https://example.org/unit" rel="noopener noreferrer">two lawyers</a>' in html
    assert "<script>" not in html and "onerror" not in html
    assert "impartial whistleblower unit" not in html  # the default was replaced


def test_unknown_organisation_is_404(reporter: Reporter) -> None:
    assert reporter.get("/o/no-such-org/").status_code == 404
    assert reporter.get("/o/no-such-org/report").status_code == 404


# --- reporting -------------------------------------------------------------------------------


def test_anonymous_report_with_a_file_from_form_to_mailbox(
    app: Flask, reporter: Reporter, session: Session, unit: Unit
) -> None:
    code = reporter.report(
        ReportAnswers(files=[Upload("delivery-notes.txt", EVIDENCE)], relation="employee")
    )
    assert normalise_case_code(code) == code.replace("-", "")
    assert len(code.replace("-", "")) >= 16

    page = text_of(reporter.get(f"/o/{unit.org.slug}/report/code"))
    assert "Case reference 2026-0001, received 2 March 2026." in page
    assert "shown only this once" in page
    assert "We cannot recover a lost code" in page

    # The code page insists on the "I have written it down" step, and keeps the code shown.
    unticked = reporter.post(
        f"/o/{unit.org.slug}/report/code",
        {
            "csrf_token": re.search(
                r'value="([^"]+)"',
                reporter.get(f"/o/{unit.org.slug}/report/code").get_data(as_text=True),
            ).group(1)
        },  # type: ignore[union-attr]
    )
    assert "Tick the box when you have written down your case code." in text_of(unticked)
    assert code in unticked.get_data(as_text=True)

    confirmed = reporter.confirm_written_down()
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"].endswith(f"/o/{unit.org.slug}/case/")
    # Once confirmed, the code is gone from the server: the page cannot show it again.
    again = reporter.get(f"/o/{unit.org.slug}/report/code")
    assert again.status_code == 303
    assert code not in reporter.mailbox().get_data(as_text=True)

    mailbox = reporter.mailbox()
    assert mailbox.status_code == 200
    shown = text_of(mailbox)
    assert "Case 2026-0001" in shown
    assert "Received, not yet acknowledged" in shown
    assert "Not yet (at the latest 9 March 2026)" in shown
    links = file_links(mailbox)
    assert list(links) == ["delivery-notes.txt"]
    download = reporter.get(links["delivery-notes.txt"])
    assert download.status_code == 200
    assert download.data == EVIDENCE
    assert "attachment" in download.headers["Content-Disposition"]

    (case,) = cases(session)
    assert case.anonymous is True and case.identity is None
    view = read_as_handler(session, case, unit.handlers[0])
    assert view.report["what"].startswith("Fake test report")
    assert view.report["relation"] == "employee"


def test_the_receipt_is_signed_and_carries_no_code(
    reporter: Reporter, session: Session, unit: Unit
) -> None:
    code = reporter.report(ReportAnswers())
    receipt = reporter.get(f"/o/{unit.org.slug}/case/receipt.txt")
    assert receipt.status_code == 200
    assert receipt.headers["Content-Disposition"].startswith("attachment")
    text = receipt.get_data(as_text=True)
    statement = verify_receipt(text, verify_key(session, unit.org.id))
    assert (statement.reference, statement.received_on) == ("2026-0001", "2026-03-02")
    assert code not in text and code.replace("-", "") not in text
    assert "pallets" not in text
    printable = reporter.get(f"/o/{unit.org.slug}/case/receipt")
    assert printable.status_code == 200 and code not in printable.get_data(as_text=True)
    # A forged receipt (another date) does not verify.
    with pytest.raises(InvalidReceipt, match="does not match"):
        verify_receipt(text.replace("2026-03-02", "2026-02-01"), verify_key(session, unit.org.id))


def test_named_report_keeps_the_identity_under_its_own_key(
    reporter: Reporter, session: Session, unit: Unit
) -> None:
    reporter.report(
        ReportAnswers(named=True, name="Testa Testesen", contact="+45 00 00 00 00", meeting=True)
    )
    (case,) = cases(session)
    assert case.anonymous is False
    assert case.meeting_requested is True
    view = read_as_handler(session, case, unit.handlers[0])
    assert view.identity == {"v": 1, "name": "Testa Testesen", "contact": "+45 00 00 00 00"}
    assert "Testa" not in str(view.report)


def test_a_named_report_without_a_name_is_refused_and_nothing_typed_is_lost(
    app: Flask, reporter: Reporter, session: Session, unit: Unit
) -> None:
    answers = ReportAnswers(
        what="Fake matter typed at length",
        who="Fake Person Doe",
        named=True,
        files=[Upload("scan.txt", EVIDENCE)],
    )
    response = reporter.send_report(answers)
    assert response.status_code == 200
    page = text_of(response)
    assert "Give your name, or choose to report anonymously." in page
    html = response.get_data(as_text=True)
    assert "Fake matter typed at length" in html and "Fake Person Doe" in html
    # Files cannot be kept in a re-shown form: the reporter is told exactly which to re-attach.
    assert "Please choose these files again" in page and "scan.txt" in page
    assert cases(session) == [] and stored_files(app) == []


def test_missing_description_gets_a_field_message(reporter: Reporter, session: Session) -> None:
    response = reporter.send_report(ReportAnswers(what="   "))
    assert response.status_code == 200
    assert "Describe what happened." in text_of(response)
    assert 'aria-invalid="true"' in response.get_data(as_text=True)
    assert cases(session) == []


def test_excluded_handler_gets_no_key(reporter: Reporter, session: Session, unit: Unit) -> None:
    henrik = unit.handlers[1]
    form = reporter.get(f"/o/{unit.org.slug}/report").get_data(as_text=True)
    assert "Henrik Handler" in form  # reporters see whom they can leave out
    reporter.report(ReportAnswers(exclude=[henrik.user.id]))
    (case,) = cases(session)
    holders = set(session.scalars(select(CaseKey.user_id).where(CaseKey.case_id == case.id)))
    assert henrik.user.id not in holders
    assert unit.handlers[0].user.id in holders


def test_anonymous_reports_refused_where_the_organisation_says_so(
    reporter: Reporter, session: Session, unit: Unit
) -> None:
    org = session.get(Organisation, unit.org.id)
    assert org is not None
    org.accepts_anonymous = False
    session.commit()
    form = reporter.get(f"/o/{unit.org.slug}/report").get_data(as_text=True)
    assert "No, I want to stay anonymous" not in form
    assert "does not accept anonymous reports" in text_of(reporter.get(f"/o/{unit.org.slug}/"))
    refused = reporter.send_report(ReportAnswers(named=False))
    assert refused.status_code == 200
    assert cases(session) == []


def test_the_honeypot_stores_nothing(reporter: Reporter, session: Session) -> None:
    response = reporter.send_report(ReportAnswers(website="http://spam.example"))
    assert response.status_code == 200
    assert "Leave this field empty." in text_of(response)
    assert cases(session) == []


def test_reporter_pages_work_in_danish(reporter: Reporter, unit: Unit) -> None:
    reporter.headers = {"Accept-Language": "da"}
    page = text_of(reporter.get(f"/o/{unit.org.slug}/report"))
    assert "Hvad er der sket?" in page and "Send indberetning" in page


# --- uploads ---------------------------------------------------------------------------------


def test_an_oversized_file_is_named_and_nothing_is_stored(
    app: Flask, reporter: Reporter, session: Session, unit: Unit
) -> None:
    set_org_setting(session, unit, "upload_max_file_mb", "1")
    response = reporter.send_report(
        ReportAnswers(
            what="Fake text that must survive",
            files=[Upload("small.txt", b"fine"), Upload("huge.txt", b"x" * (1024 * 1024 + 1))],
        )
    )
    assert response.status_code == 200
    page = text_of(response)
    # The refused file is named with the reason; only the files that were fine are to be
    # chosen again (issue 16: it used to ask for the refused one too).
    assert "“huge.txt” was not accepted: it is larger than 1 MB, the most one file may be." in page
    again = page.split("please choose them again:")[1]
    assert "small.txt" in again and "huge.txt" not in again
    assert "Nothing has been sent yet" in page
    assert "Fake text that must survive" in response.get_data(as_text=True)
    assert cases(session) == [] and stored_files(app) == []


def test_too_many_or_too_much_together_is_refused(
    app: Flask, reporter: Reporter, session: Session, unit: Unit
) -> None:
    set_org_setting(session, unit, "upload_max_files", "2")
    set_org_setting(session, unit, "upload_max_total_mb", "1")
    three = [Upload(f"f{i}.txt", b"data") for i in range(3)]
    assert "at most 2 files" in text_of(reporter.send_report(ReportAnswers(files=three)))
    big = [Upload(f"b{i}.txt", b"y" * 700_000) for i in range(2)]
    assert "Together the files are larger than 1 MB" in text_of(
        reporter.send_report(ReportAnswers(files=big))
    )
    assert cases(session) == [] and stored_files(app) == []


def test_an_empty_file_is_refused(app: Flask, reporter: Reporter, session: Session) -> None:
    response = reporter.send_report(ReportAnswers(files=[Upload("empty.pdf", b"")]))
    assert "“empty.pdf” is empty." in text_of(response)
    assert cases(session) == [] and stored_files(app) == []


def test_a_request_over_the_deployment_limit_gets_a_clear_413(
    app_config: dict[str, object], instance_path: Path, clock: FixedClock, unit: Unit
) -> None:
    small = create_app(
        {**app_config, "max_request_mb": 1}, instance_path=instance_path, clock=clock
    )
    reporter = Reporter(small, unit.org.slug)
    response = reporter.send_report(ReportAnswers(files=[Upload("big.bin", b"z" * 1_200_000)]))
    assert response.status_code == 413
    page = text_of(response)
    assert "Too much data" in page and "Nothing was saved" in page
    assert "Traceback" not in page
    runtime(small).engine.dispose()


@pytest.mark.parametrize(
    ("given", "shown"),
    [
        ("<script>alert(1).txt", "<script>alert(1).txt"),
        ("<img src=x onerror=alert(1)>.png", "<img src=x onerror=alert(1)>.png"),
        ("setup.v2.exe", "setup.v2.exe"),  # a program, not disguised as a document
        ("photo\u202egpj.exe", "photogpj.exe"),  # the right-to-left trick loses its mark
        ("x" * 250 + ".txt", "x" * 200),
    ],
)
def test_file_names_are_harmless(
    app: Flask, reporter: Reporter, session: Session, given: str, shown: str
) -> None:
    reporter.report(ReportAnswers(files=[Upload(given, b"Fake file content")]))
    reporter.confirm_written_down()
    mailbox = reporter.mailbox()
    html = mailbox.get_data(as_text=True)
    assert "<script>alert(1)" not in html and "<img src=x" not in html  # escaped, not markup
    assert list(file_links(mailbox)) == [shown]
    # The store names files itself: nothing a reporter typed reaches the file system.
    (name,) = stored_files(app)
    assert re.fullmatch(r"[0-9a-f]{32}", name)


def test_unsupported_types_are_kept_with_a_warning(reporter: Reporter) -> None:
    reporter.report(ReportAnswers(files=[Upload("data.bin", b"\x00\x01fake binary")]))
    reporter.confirm_written_down()
    assert "hidden information could not be removed" in text_of(reporter.mailbox())


# --- following up ----------------------------------------------------------------------------


def test_follow_up_with_messages_and_files_both_ways(
    app: Flask, reporter: Reporter, session: Session, unit: Unit, clock: FixedClock
) -> None:
    code = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    assert reporter.leave().status_code == 303
    assert reporter.mailbox().status_code == 303  # left: the case is closed to this browser

    # Days later, from another browser, with nothing but the code (typed loosely).
    clock.advance(timedelta(days=2))
    later = Reporter(app, unit.org.slug, address="192.0.2.20")
    opened = later.open_case(code.lower().replace("-", " "))
    assert opened.status_code == 303
    sent = later.reply("Fake answer: it happened again.", [Upload("photo-note.txt", b"note")])
    assert sent.status_code == 303
    assert "Your message has been sent." in text_of(later.get(sent.headers["Location"]))

    # A handler answers with a question and a file.
    (case,) = cases(session)
    assert case.unread_for_handlers is True
    view = read_as_handler(session, case, unit.handlers[0])
    with app.app_context():
        post_message(
            session,
            runtime(app).clock,
            FileStore(runtime(app).settings.file_store),
            case,
            view.content,
            author=Author.HANDLER,
            body="Fake question: which warehouse?",
            files=[PreparedFile("form-to-fill.txt", _bytes_io(b"Fake form"), "not_needed")],
            user_id=unit.handlers[0].user.id,
            kind="question",
        )
    page = later.mailbox()
    shown = text_of(page)
    assert "Fake answer: it happened again." in shown
    assert "Fake question: which warehouse?" in shown
    assert "Question" in shown and "New" in shown
    links = file_links(page)
    assert set(links) == {"photo-note.txt", "form-to-fill.txt"}
    assert later.get(links["form-to-fill.txt"]).data == b"Fake form"
    # Seen once: marked read, in the database and on the next visit.
    session.expire_all()
    handler_message = session.scalars(
        select(Message).where(Message.author == Author.HANDLER.value)
    ).one()
    assert handler_message.read_by_reporter_on is not None
    assert "<strong>New</strong>" not in later.mailbox().get_data(as_text=True)


def test_an_empty_reply_is_refused(reporter: Reporter, session: Session) -> None:
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    response = reporter.reply("   ")
    assert response.status_code == 200
    assert "Write a message or add a file." in text_of(response)
    assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_wrong_codes_all_get_the_same_message(
    app: Flask, reporter: Reporter, session: Session, clock: FixedClock
) -> None:
    with app.app_context():
        other = make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")
    code_elsewhere = Reporter(app, other.org.slug, address="192.0.2.30").report(ReportAnswers())
    answers = []
    for attempt in ("AAAA-BBBB-CCCC-DDDD-EEEE", "not a code", "", code_elsewhere):
        response = reporter.open_case(attempt)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        if attempt:
            assert attempt not in html  # the code is never echoed back
        answers.append(UNKNOWN in text_of(response) or "This field is required." in html)
    assert all(answers)
    assert reporter.mailbox().status_code == 303


def test_a_file_of_another_case_cannot_be_fetched(
    app: Flask, reporter: Reporter, unit: Unit
) -> None:
    first = Reporter(app, unit.org.slug, address="192.0.2.40")
    first.report(ReportAnswers(files=[Upload("mine.txt", b"Fake private")]))
    first.confirm_written_down()
    (link,) = file_links(first.mailbox()).values()
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    assert reporter.get(link).status_code == 404
    assert reporter.get(f"/o/{unit.org.slug}/case/file/..%2f..%2fwhistle.db").status_code == 404


def test_an_idle_reporter_is_signed_out(reporter: Reporter, unit: Unit, clock: FixedClock) -> None:
    reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    clock.advance(timedelta(minutes=14))
    assert reporter.mailbox().status_code == 200  # activity keeps the session alive
    clock.advance(timedelta(minutes=14))
    assert reporter.mailbox().status_code == 200
    assert "15 minutes without activity" in text_of(reporter.mailbox())
    clock.advance(timedelta(minutes=16))
    gone = reporter.mailbox()
    assert gone.status_code == 303
    assert gone.headers["Location"].endswith(f"/o/{unit.org.slug}/case/open?ended=1")
    assert "Enter your case code again" in text_of(reporter.get(gone.headers["Location"]))


def test_code_guessing_is_throttled_per_client(app: Flask, reporter: Reporter) -> None:
    code = reporter.report(ReportAnswers())
    reporter.confirm_written_down()
    reporter.leave()
    guesser = Reporter(app, reporter.slug, address="198.51.100.7")
    for _ in range(code_attempts.ADDRESS.free):
        assert guesser.open_case("AAAA-BBBB-CCCC-DDDD-EEEE").status_code == 200
    refused = guesser.open_case(code)
    assert refused.status_code == 429
    assert "Your code was not checked" in text_of(refused)
    assert guesser.mailbox().status_code == 303  # even the right code was not tried
    assert reporter.open_case(code).status_code == 303  # another client is not affected


def test_submissions_are_throttled_per_client(
    app: Flask, reporter: Reporter, session: Session
) -> None:
    # Six different reports (the same one sent again is recognised, not taken: issue 16).
    def report(n: int) -> ReportAnswers:
        return ReportAnswers(what=f"Fake test report number {n}: pallets leave the warehouse.")

    for n in range(5):
        assert reporter.send_report(report(n)).status_code == 303
    refused = reporter.send_report(report(5))
    assert refused.status_code == 429
    assert len(cases(session)) == 5
    assert (
        Reporter(app, reporter.slug, address="192.0.2.99").send_report(ReportAnswers()).status_code
        == 303
    )


def _bytes_io(data: bytes):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(data)


def test_display_names_lose_paths_and_control_characters() -> None:
    assert safe_display_name("C:\\Users\\x\\report.docx") == "report.docx"
    assert safe_display_name("../../etc/passwd") == "passwd"
    assert safe_display_name("a\x00b\x1bc.txt") == "abc.txt"
    assert safe_display_name("") == "file"
    assert safe_display_name("/") == "file"
    assert len(safe_display_name("y" * 5000)) == 200
