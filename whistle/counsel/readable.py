"""The case file as a person reads it: counsel's page and the PDF (whistle/pdf/render.py) draw
the case document (case.json, whistle/counsel/case_document.py) from what :func:`readable`
makes of it, every word translated and every date written out in one language (the
organisation's for the PDF, the reader's for the page), never a code, an ISO date or a bare
True/False.

The sections, in the order of a case file handed to a court: the cover (organisation,
reference, prepared for, date, confidentiality), the summary (status, outcome, dates, whether
the deadlines were met), the chronology, the parties (the reporter's identity only when it
was disclosed), the index of documents, the report, the conversation, the internal notes if
included, and how to verify the file.
"""

from __future__ import annotations

from datetime import date, datetime, time
from itertools import groupby
from typing import Any

from babel.numbers import format_decimal
from flask_babel import force_locale
from flask_babel import gettext as _gettext
from flask_babel import ngettext as _ngettext

from whistle.audit.labels import ACTION_NAMES
from whistle.core.dates import FORMAT_LOCALES, day, moment
from whistle.core.labels import (
    AUTHOR_LABELS,
    CHANNEL_LABELS,
    HEARING_LABELS,
    MESSAGE_KIND_LABELS,
    NOTE_KIND_LABELS,
    OUTCOME_LABELS,
    RELATION_LABELS,
    SCOPE_LABELS,
    STATUS_LABELS,
)
from whistle.counsel.case_reader import listed_files

Rows = list[list[str]]


def gettext(text: str, **variables: object) -> str:
    return str(_gettext(text, **variables))


def ngettext(singular: str, plural: str, num: int, **variables: object) -> str:
    return str(_ngettext(singular, plural, num, **variables))


def _label(table: dict[Any, Any], key: object) -> str:
    found = {str(k): v for k, v in table.items()}.get(str(key))
    return str(found) if found is not None else gettext("Other")


def _day(value: str | None, locale: str) -> str:
    return day(date.fromisoformat(value), locale) if value else ""


def _grouped(hex_text: str) -> str:
    """A long hex key in groups of eight, as people compare it (``whistle export`` reads it
    with or without the spaces)."""
    return " ".join(hex_text[i : i + 8] for i in range(0, len(hex_text), 8))


def size_text(size: int, locale: str) -> str:
    """A file's size as a person reads it: "820 bytes", "12.5 kB", "3.1 MB"."""
    babel_locale = FORMAT_LOCALES.get(locale, "da_DK")
    if size < 1000:
        return ngettext("%(num)d byte", "%(num)d bytes", size)
    for unit, scale in (("kB", 1e3), ("MB", 1e6), ("GB", 1e9)):
        if size < scale * 1000 or unit == "GB":
            return f"{format_decimal(size / scale, '#,##0.#', locale=babel_locale)} {unit}"
    raise AssertionError  # pragma: no cover


def _deadline(due: str, done: str | None, status: str, locale: str) -> str:
    """Whether a deadline of the Act was met, in words."""
    due_day = date.fromisoformat(due)
    if done is None:
        if status == "closed":
            return gettext("Not given (due %(due)s)", due=day(due_day, locale))
        return gettext("Not yet given; due %(due)s", due=day(due_day, locale))
    done_day = date.fromisoformat(done)
    late = (done_day - due_day).days
    if late <= 0:
        return gettext(
            "Given %(done)s, within the deadline (%(due)s)",
            done=day(done_day, locale),
            due=day(due_day, locale),
        )
    return ngettext(
        "Given %(done)s, %(num)d day after the deadline (%(due)s)",
        "Given %(done)s, %(num)d days after the deadline (%(due)s)",
        late,
        done=day(done_day, locale),
        due=day(due_day, locale),
    )


def _summary(document: dict[str, Any], locale: str) -> Rows:
    case = document["case"]
    category = case.get("category")
    rows = [
        [gettext("Received"), _day(case["received_on"], locale)],
        [
            gettext("Category"),
            (category["label_en"] if locale == "en" else category["label_da"])
            if category
            else gettext("Not given"),
        ],
        [gettext("Reporting channel"), _label(CHANNEL_LABELS, case["channel"])],
        [gettext("Status"), _label(STATUS_LABELS, case["status"])],
    ]
    if case.get("scope"):
        rows.append([gettext("Scope"), _label(SCOPE_LABELS, case["scope"])])
    if case.get("hearing"):
        rows.append([gettext("Hearing"), _label(HEARING_LABELS, case["hearing"])])
    rows.append(
        [
            gettext("Outcome"),
            _label(OUTCOME_LABELS, case["outcome"]) if case.get("outcome") else gettext("None yet"),
        ]
    )
    rows += [
        [
            gettext("Acknowledgement of receipt (7 days)"),
            _deadline(case["acknowledge_due"], case["acknowledged_on"], case["status"], locale),
        ],
        [
            gettext("Feedback to the reporter (3 months)"),
            _deadline(case["feedback_due"], case["feedback_on"], case["status"], locale),
        ],
    ]
    if case.get("closed_on"):
        rows.append([gettext("Closed"), _day(case["closed_on"], locale)])
    if case.get("legal_hold_since"):
        rows.append([gettext("Legal hold since"), _day(case["legal_hold_since"], locale)])
    if case.get("delete_on"):
        rows.append([gettext("To be deleted on"), _day(case["delete_on"], locale)])
    return rows


def _chronology(document: dict[str, Any], locale: str) -> Rows:
    """The case's history: when, what, by whom; a run of one action by one person on one day
    (a case opened again and again) is one line, with how many times."""
    rows: Rows = []
    entries = document["timeline"]

    def key(entry: dict[str, Any]) -> tuple[str, str, str]:
        return (entry["at"][:10], entry["action"], entry["by"])

    for (_on, action, by), run in groupby(entries, key=key):
        same = list(run)
        name = str(ACTION_NAMES[action]) if action in ACTION_NAMES else gettext("Other event")
        if len(same) > 1:
            name = ngettext(
                "%(what)s (%(num)d time)", "%(what)s (%(num)d times)", len(same), what=name
            )
        at = datetime.fromisoformat(same[0]["at"])
        # What a reporter did is logged by the day only (whistle/core/audit.py ``day_only``):
        # its midnight is no time of day, so none is shown.
        reporter_day = not by and at.time() == time(0)
        rows.append([day(at, locale) if reporter_day else moment(at, locale), name, by])
    return rows


def _parties(document: dict[str, Any], prepared_for: str) -> Rows:
    report = document.get("report") or {}
    identity = document.get("identity")
    if identity:
        reporter = gettext(
            "%(name)s, %(contact)s: disclosed in this case file with the reporter's consent",
            name=identity["name"],
            contact=identity["contact"] or gettext("no contact details"),
        )
    elif document["case"]["anonymous"]:
        reporter = gettext("Anonymous")
    else:
        reporter = gettext(
            "Known to the whistleblower unit; the identity is not disclosed in this case file"
        )
    if report.get("relation"):
        reporter += " · " + gettext(
            "Relation to the organisation: %(relation)s",
            relation=_label(dict(RELATION_LABELS), report["relation"]),
        )
    handlers = list(dict.fromkeys(e["by"] for e in document["timeline"] if e["by"]))
    rows = [
        [gettext("Organisation"), document["organisation"]["name"]],
        [gettext("Reporter"), reporter],
    ]
    if handlers:
        rows.append([gettext("Whistleblower unit"), ", ".join(handlers)])
    rows.append([gettext("Prepared for (legal counsel)"), prepared_for])
    if report.get("who"):
        rows.append([gettext("Persons concerned"), gettext('See "Who is involved" in the report')])
    return rows


def _documents(document: dict[str, Any], locale: str) -> list[dict[str, Any]]:
    """The index: every file, numbered as in the archive, with where it came from."""
    origin: dict[str, str] = {}
    for item in document.get("report_files") or []:
        origin[item["path"]] = gettext("Sent with the report")
    for message in document["conversation"]:
        for item in message["files"]:
            origin[item["path"]] = gettext(
                "%(who)s, %(kind)s of %(day)s",
                who=_label(AUTHOR_LABELS, message["author"]),
                kind=_label(MESSAGE_KIND_LABELS, message["kind"]).lower(),
                day=_day(message["sent_on"], locale),
            )
    return [
        {
            "number": number,
            "name": item["name"],
            "size": size_text(int(item["size"]), locale),
            "origin": origin.get(item["path"], ""),
        }
        for number, item in enumerate(listed_files(document), start=1)
    ]


def _report(document: dict[str, Any]) -> Rows | None:
    report = document.get("report")
    if not report:
        return None
    rows = [
        [gettext("What happened"), report.get("what") or ""],
        [gettext("When and where"), report.get("when_where") or ""],
        [gettext("Who is involved"), report.get("who") or ""],
        [gettext("How the reporter knows"), report.get("how_known") or ""],
        [
            gettext("Meeting"),
            gettext("The reporter asked for a meeting")
            if report.get("meeting_requested")
            else gettext("The reporter did not ask for a meeting"),
        ],
    ]
    return [row for row in rows if row[1]]


def _entries(document: dict[str, Any], locale: str) -> list[dict[str, Any]]:
    numbers = {item["path"]: n for n, item in enumerate(listed_files(document), start=1)}
    return [
        {
            "meta": " · ".join(
                [
                    _day(m["sent_on"], locale),
                    _label(AUTHOR_LABELS, m["author"]),
                    _label(MESSAGE_KIND_LABELS, m["kind"]),
                ]
            ),
            "body": m["body"],
            "files": [
                {
                    "number": numbers[f["path"]],
                    "text": gettext(
                        "Document %(num)d: %(name)s", num=numbers[f["path"]], name=f["name"]
                    ),
                }
                for f in m["files"]
            ],
        }
        for m in document["conversation"]
    ]


def _notes(document: dict[str, Any], locale: str) -> list[dict[str, Any]] | None:
    if document.get("notes") is None:
        return None
    return [
        {
            "meta": " · ".join(
                part
                for part in (
                    _day(n["created_on"], locale),
                    n.get("author") or "",
                    _label(NOTE_KIND_LABELS, n["kind"]),
                )
                if part
            ),
            "body": n["body"],
            "files": [],
        }
        for n in document["notes"]
    ]


def _left_out(document: dict[str, Any]) -> str | None:
    left = document.get("left_out") or {}
    restricted, purged = int(left.get("restricted", 0)), int(left.get("purged", 0))
    if not (restricted or purged):
        return None
    return gettext(
        "Left out of this case file: %(restricted)d restricted item(s) (GDPR art. 18) and "
        "%(purged)d item(s) removed as irrelevant.",
        restricted=restricted,
        purged=purged,
    )


def readable(
    document: dict[str, Any],
    locale: str,
    *,
    prepared_for: str,
    export_id: str,
    verify_key_hex: str,
    fingerprint: str,
) -> dict[str, Any]:
    """The case file in ``locale``, as nested lists and strings (JSON, for the PDF's
    process too)."""
    with force_locale(locale):
        return _readable(
            document,
            locale,
            prepared_for=prepared_for,
            export_id=export_id,
            verify_key_hex=verify_key_hex,
            fingerprint=fingerprint,
        )


def _readable(
    document: dict[str, Any],
    locale: str,
    *,
    prepared_for: str,
    export_id: str,
    verify_key_hex: str,
    fingerprint: str,
) -> dict[str, Any]:
    org = document["organisation"]["name"]
    reference = document["case"]["reference"]
    prepared_on = _day(document["exported_on"], locale)
    return {
        "locale": locale,
        "title": gettext("Case file %(ref)s", ref=reference),
        "cover": {
            "organisation": org,
            "kind": gettext("Whistleblower case file"),
            "reference": gettext("Case %(ref)s", ref=reference),
            "rows": [
                [gettext("Organisation"), org],
                [gettext("Case reference"), reference],
                [gettext("Prepared for"), prepared_for],
                [gettext("Prepared on"), prepared_on],
                [gettext("Case file number"), export_id],
            ],
            "marking": gettext("CONFIDENTIAL"),
            "notice": gettext(
                "This case file is covered by the duty of confidentiality of the Danish "
                "Whistleblower Act. It is for %(name)s only: do not copy it or pass it on "
                "except as the Act allows.",
                name=prepared_for,
            ),
        },
        "headings": {
            "summary": gettext("Summary"),
            "chronology": gettext("Chronology"),
            "parties": gettext("Parties"),
            "documents": gettext("Index of documents"),
            "report": gettext("The report"),
            "conversation": gettext("Conversation with the reporter"),
            "notes": gettext("Internal notes"),
            "verification": gettext("Verification"),
            "when": gettext("When"),
            "what": gettext("What"),
            "by": gettext("By"),
            "number": gettext("No."),
            "document": gettext("Document"),
            "size": gettext("Size"),
            "origin": gettext("From"),
            "page": gettext("Page"),
            "no_messages": gettext("No messages."),
            "no_documents": gettext("No documents."),
            "no_notes": gettext("No internal notes."),
            "restricted_report": gettext(
                "The report is restricted (GDPR art. 18) and left out of this case file."
            ),
        },
        "summary": _summary(document, locale),
        "chronology": _chronology(document, locale),
        "parties": _parties(document, prepared_for),
        "documents": _documents(document, locale),
        "report": _report(document),
        "conversation": _entries(document, locale),
        "notes": _notes(document, locale),
        "left_out": _left_out(document),
        "verification": {
            "rows": [
                [gettext("Signed by"), org],
                [gettext("Signing key fingerprint"), fingerprint],
                [gettext("Signing key"), _grouped(verify_key_hex)],
                [gettext("Case file number"), export_id],
            ],
            "paragraphs": [
                gettext(
                    "This PDF is one part of an encrypted case file that only %(name)s can "
                    "open. The case file holds a manifest listing the SHA-256 checksum of this "
                    "PDF, of the case data and of every document in the index, and the "
                    "manifest is signed (Ed25519) with %(org)s's signing key shown here.",
                    name=prepared_for,
                    org=org,
                ),
                gettext(
                    "To verify: open the case file with 'whistle export open', then run "
                    "'whistle export verify' on the opened folder with '--signing-key' and the "
                    "key above, in quotes. Any part that was changed is named. Compare the "
                    "fingerprint with the one %(org)s publishes on its receipt check page.",
                    org=org,
                ),
            ],
        },
    }
