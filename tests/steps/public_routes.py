"""The views anyone may open without signing in: the deny-by-default table."""

from __future__ import annotations

# Every view that may be reached without signing in, by endpoint. A new public view must be
# added here on purpose, so that opening one is a reviewed decision.
EXPECTED_PUBLIC = {
    "health.healthz",
    "i18n.switch",
    "reporting.index",
    "reporting.start",
    "reporting.report",
    "reporting.code",
    # The reporter's mailbox: no staff login, but every page but "open" needs the
    # reporter's own session, which only the case code creates.
    "mailbox.enter",
    "mailbox.case",
    "mailbox.file",
    "mailbox.receipt",
    "mailbox.receipt_page",
    "mailbox.receipt_proof",
    "mailbox.sign_out",
    "mailbox.keep_out",
    # Approving or correcting meeting minutes: the reporter's session too
    # (whistle/meetings/minutes.py).
    "mailbox.minutes_approve",
    "mailbox.minutes_correct",
    "mailbox.consent",
    "mailbox.refuse_consent",
    # The organisation's receipt key and the receipt check: for anyone, stores nothing.
    "receipt_check.page",
    "setup.setup",
    # Staff sign-in: the password step, then the code or enrolment step, which need the
    # pending session the password step creates; an invitation needs its one-time token.
    "staff.sign_in",
    "staff.code",
    "staff.enrol",
    "staff.enrol_qr",
    "staff.sign_out",
    "staff.invitation",
    # Invitation and setup links of the old form (the secret in the path): they open nothing.
    "staff.old_invitation_link",
    "setup.old_setup_link",
    # The organisation's logo, shown on its reporting page (re-encoded at upload).
    "org_logo.show",
    # The organisation's colour as a style sheet for its pages (only a colour it chose).
    "org_logo.theme",
    "static",
}
