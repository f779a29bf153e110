"""An organisation's settings as its administrator changes them.

Profile and logo, the texts reporters read, categories, the reporting channel (anonymous
reports, who may report), upload limits, retention presets and the deployment's mail server.
Each function checks what it is given, changes the rows, writes one audit entry per change
(ids, numbers and short codes only) and flushes; the caller commits. A refusal is a
:class:`~whistle.admin.Refused` naming the form field and the message to show.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import re
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import delete, exists, func, select
from sqlalchemy.orm import Session

from whistle.admin import texts
from whistle.casefile.holders import certified_members
from whistle.casefile.limits import upload_limits
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.labels import RELATION_LABELS
from whistle.core.models import (
    Case,
    CaseOutcome,
    CaseTombstone,
    Category,
    Membership,
    Organisation,
    OrgSetting,
    OrgText,
    Role,
    User,
)
from whistle.core.organisations import suggest_slug
from whistle.core.refusals import Refused
from whistle.core.settings import LOCALES, SMTP_SECURITY, Settings
from whistle.core.trust import KeysNotTrusted
from whistle.notify import mail
from whistle.retention import retention

NOT_SURE = "not-sure"
MAX_TEXT = 20_000


def _set(session: Session, org_id: int, key: str, value: object) -> None:
    row = session.get(OrgSetting, (org_id, key))
    text = json.dumps(value)
    if row is None:
        session.add(OrgSetting(org_id=org_id, key=key, value=text))
    else:
        row.value = text


def _get(session: Session, org_id: int, key: str) -> object:
    stored = session.scalar(
        select(OrgSetting.value).where(OrgSetting.org_id == org_id, OrgSetting.key == key)
    )
    if stored is None:
        return None
    try:
        return json.loads(stored)
    except ValueError:
        return None


# --- Overview -------------------------------------------------------------------------------


def active_members(session: Session, org_id: int, roles: tuple[Role, ...]) -> int:
    """How many active accounts hold one of ``roles`` in ``org_id``."""
    return int(
        session.scalar(
            select(func.count(func.distinct(Membership.user_id)))
            .join(User, User.id == Membership.user_id)
            .where(
                Membership.org_id == org_id,
                Membership.role.in_([r.value for r in roles]),
                User.is_active.is_(True),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Overview:
    """What the console's start page says is set up."""

    handlers: int  # active handlers and leads: who receives reports
    own_texts: int  # texts the organisation wrote itself
    mail_ready: bool


def _receiving(session: Session, org_id: int) -> int:
    """Who receives reports: the members whose keys a unit lead certified (none while the
    organisation's keys differ from the pins)."""
    try:
        return len(certified_members(session, org_id))
    except KeysNotTrusted:
        return 0


def overview(session: Session, org_id: int, settings: Settings) -> Overview:
    saved = mail.stored(session)
    return Overview(
        handlers=_receiving(session, org_id),
        own_texts=int(
            session.scalar(
                select(func.count()).select_from(OrgText).where(OrgText.org_id == org_id)
            )
            or 0
        ),
        mail_ready=bool(saved.host if saved is not None else settings.smtp_host),
    )


# --- Profile --------------------------------------------------------------------------------


def change_profile(
    session: Session, clock: Clock, org: Organisation, actor_id: int, *, name: str, locale: str
) -> bool:
    """Rename the organisation and set the language of its mails; True when changed."""
    name = " ".join(name.split())
    if not 2 <= len(name) <= 200:
        raise Refused("name", _l("Give a name of 2 to 200 characters."))
    if locale not in LOCALES:
        raise Refused("locale", _l("Choose Danish or English."))
    renamed = name != org.name
    if not renamed and locale == org.default_locale:
        return False
    org.name = name
    org.default_locale = locale
    audit.record(
        session,
        clock,
        action="settings.profile_changed",
        org_id=org.id,
        actor_user_id=actor_id,
        detail={"renamed": renamed, "locale": locale},
    )
    session.flush()
    return True


# --- Logo -----------------------------------------------------------------------------------

LOGO_KEY = "logo"
LOGO_MAX_BYTES = 1024 * 1024  # the upload
LOGO_MAX_PIXELS = 4000 * 4000  # the upload, checked before decoding: no decompression bombs
LOGO_BOX = (600, 200)  # what is kept: at most this wide and high


@dataclass(frozen=True)
class Logo:
    png: bytes
    etag: str


def logo(session: Session, org_id: int) -> Logo | None:
    """The organisation's logo as stored (a PNG re-encoded at upload), or None."""
    value = _get(session, org_id, LOGO_KEY)
    if not isinstance(value, str):
        return None
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None
    return Logo(data, hashlib.sha256(data).hexdigest()[:32])


def has_logo(session: Session, org_id: int) -> bool:
    """Whether the organisation has a logo (without reading it)."""
    return bool(
        session.scalar(
            select(exists().where(OrgSetting.org_id == org_id, OrgSetting.key == LOGO_KEY))
        )
    )


def _reencode(data: bytes) -> tuple[bytes, int, int]:
    """The image drawn again as a plain PNG: nothing of the upload but its pixels survives
    (no EXIF, XMP, comments, text chunks or colour profile that could name a person or a
    device), scaled to fit :data:`LOGO_BOX`."""
    unreadable = Refused("logo", _l("This file is not a PNG or JPEG image that can be read."))
    too_many_pixels = Refused("logo", _l("The image has too many pixels. Choose a smaller one."))
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        # Pillow refuses a header declaring absurd dimensions before our own check can.
        raise too_many_pixels from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise unreadable from None
    with image:
        if image.format not in ("PNG", "JPEG"):
            raise Refused("logo", _l("Choose a PNG or JPEG image."))
        if image.width * image.height > LOGO_MAX_PIXELS:
            raise too_many_pixels
        try:
            image.load()
            upright = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
            has_alpha = upright.mode in ("RGBA", "LA", "PA") or (
                upright.mode == "P" and "transparency" in upright.info
            )
            drawn = upright.convert("RGBA" if has_alpha else "RGB")
            drawn.thumbnail(LOGO_BOX)
            out = io.BytesIO()
            drawn.save(out, "PNG", optimize=True)
        # Pillow raises far more than its documented errors on damaged or hostile input.
        except Exception:  # noqa: BLE001
            raise unreadable from None
    return out.getvalue(), drawn.width, drawn.height


def set_logo(session: Session, clock: Clock, org_id: int, actor_id: int, data: bytes) -> None:
    """Store ``data`` (PNG or JPEG, at most 1 MB) as the logo, re-encoded. Flushes."""
    if not data:
        raise Refused("logo", _l("Choose an image file."))
    if len(data) > LOGO_MAX_BYTES:
        raise Refused("logo", _l("The image is larger than 1 MB. Choose a smaller one."))
    png, width, height = _reencode(data)
    _set(session, org_id, LOGO_KEY, base64.b64encode(png).decode("ascii"))
    audit.record(
        session,
        clock,
        action="settings.logo_changed",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"bytes": len(png), "width": width, "height": height},
    )
    session.flush()


def remove_logo(session: Session, clock: Clock, org_id: int, actor_id: int) -> bool:
    """Remove the logo; True when there was one. Flushes."""
    row = session.get(OrgSetting, (org_id, LOGO_KEY))
    if row is None:
        return False
    session.delete(row)
    audit.record(
        session, clock, action="settings.logo_removed", org_id=org_id, actor_user_id=actor_id
    )
    session.flush()
    return True


# --- Texts ----------------------------------------------------------------------------------

TEXT_KEYS = tuple(texts.DEFAULTS)


def _default_html(key: str, locale: str) -> str:
    with force_locale(locale):
        return str(texts.default_text(key))


def _normalised(html: str) -> str:
    return re.sub(r"\s+", " ", texts.sanitise(html)).strip()


def text_drafts(session: Session, org_id: int) -> dict[tuple[str, str], str]:
    """Every text in every language as the form shows it: the organisation's own version, or
    the default (which then follows the translations as they improve)."""
    own = {
        (row.key, row.locale): row.body
        for row in session.scalars(select(OrgText).where(OrgText.org_id == org_id))
    }
    return {
        (key, locale): own.get((key, locale)) or _default_html(key, locale)
        for key in TEXT_KEYS
        for locale in LOCALES
    }


def save_texts(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    submitted: Mapping[tuple[str, str], str],
) -> int:
    """Save the texts as given (sanitised here and again when shown); return how many changed.

    A text left empty, or equal to the default, is the default again. Flushes.
    """
    for (key, locale), body in submitted.items():
        if key not in texts.DEFAULTS or locale not in LOCALES:
            raise KeyError(key)
        if len(body) > MAX_TEXT:
            raise Refused(
                f"{key}_{locale}",
                _l("A text may be at most %(n)d characters long.", n=MAX_TEXT),
            )
    changed = 0
    for (key, locale), body in submitted.items():
        row = session.get(OrgText, (org_id, key, locale))
        clean = texts.sanitise(body).strip()
        default = not _normalised(clean) or _normalised(clean) == _normalised(
            _default_html(key, locale)
        )
        if default:
            if row is None:
                continue
            session.delete(row)
        else:
            if row is not None and _normalised(row.body) == _normalised(clean):
                continue
            texts.set_org_text(session, org_id, key, locale, clean)
        audit.record(
            session,
            clock,
            action="settings.text_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"text": key, "locale": locale, "default": default},
        )
        changed += 1
    session.flush()
    return changed


# --- Categories -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryRow:
    category: Category
    used: bool  # a case or a deleted case's tombstone refers to it: it is never deleted

    @property
    def always_on(self) -> bool:
        return self.category.code == NOT_SURE


def categories(session: Session, org_id: int) -> list[CategoryRow]:
    """The organisation's categories in the form's order, with whether each is in use."""
    used_by_case = exists().where(Case.category_id == Category.id)
    used_by_tombstone = exists().where(CaseTombstone.category_id == Category.id)
    rows = session.execute(
        select(Category, used_by_case | used_by_tombstone)
        .where(Category.org_id == org_id)
        .order_by(Category.position, Category.id)
    ).all()
    return [CategoryRow(category, bool(used)) for category, used in rows]


def category(session: Session, org_id: int, category_id: int) -> Category:
    """The category ``category_id`` of ``org_id``; LookupError otherwise."""
    found = session.get(Category, category_id)
    if found is None or found.org_id != org_id:
        raise LookupError(category_id)
    return found


def _labels(label_da: str, label_en: str) -> tuple[str, str]:
    da, en = " ".join(label_da.split()), " ".join(label_en.split())
    message = _l("Give a name of 2 to 200 characters.")
    if not 2 <= len(da) <= 200:
        raise Refused("label_da", message)
    if not 2 <= len(en) <= 200:
        raise Refused("label_en", message)
    return da, en


def add_category(
    session: Session, clock: Clock, org_id: int, actor_id: int, label_da: str, label_en: str
) -> Category:
    """A new active category, last in the list (before nothing: "not sure" may move). Flushes."""
    da, en = _labels(label_da, label_en)
    taken = set(session.scalars(select(Category.code).where(Category.org_id == org_id)))
    base = suggest_slug(en)[:56].strip("-") or "category"
    code, n = base, 2
    while code in taken:
        code, n = f"{base}-{n}", n + 1
    last = max(
        session.scalars(select(Category.position).where(Category.org_id == org_id)), default=-1
    )
    added = Category(
        org_id=org_id, code=code, label_da=da, label_en=en, position=last + 1, is_active=True
    )
    session.add(added)
    session.flush()
    audit.record(
        session,
        clock,
        action="settings.category_added",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"category": added.id},
    )
    return added


def rename_category(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    category_id: int,
    label_da: str,
    label_en: str,
) -> bool:
    """New names in both languages (cases keep their category: it is the same one). Flushes."""
    found = category(session, org_id, category_id)
    da, en = _labels(label_da, label_en)
    if (da, en) == (found.label_da, found.label_en):
        return False
    found.label_da, found.label_en = da, en
    audit.record(
        session,
        clock,
        action="settings.category_renamed",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"category": category_id},
    )
    session.flush()
    return True


def move_category(
    session: Session, clock: Clock, org_id: int, actor_id: int, category_id: int, step: int
) -> bool:
    """Move a category one place up (``step`` -1) or down (+1); False at either end."""
    rows = [r.category for r in categories(session, org_id)]
    index = next(i for i, c in enumerate(rows) if c.id == category(session, org_id, category_id).id)
    target = index + step
    if step not in (-1, 1) or not 0 <= target < len(rows):
        return False
    rows[index], rows[target] = rows[target], rows[index]
    for position, row in enumerate(rows):
        row.position = position
    audit.record(
        session,
        clock,
        action="settings.category_moved",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"category": category_id, "position": target},
    )
    session.flush()
    return True


def set_category_active(
    session: Session, clock: Clock, org_id: int, actor_id: int, category_id: int, active: bool
) -> bool:
    """Offer a category on the form again, or no longer (its cases keep it). "Not sure" is
    always offered. True when changed. Flushes."""
    found = category(session, org_id, category_id)
    if found.code == NOT_SURE and not active:
        raise Refused("active", _l("“Not sure” is always offered to reporters."))
    if found.is_active == active:
        return False
    found.is_active = active
    audit.record(
        session,
        clock,
        action="settings.category_reactivated" if active else "settings.category_deactivated",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"category": category_id},
    )
    session.flush()
    return True


def delete_category(
    session: Session, clock: Clock, org_id: int, actor_id: int, category_id: int
) -> None:
    """Delete a category no case ever had (a typo, say); one in use is only deactivated,
    so that the record of reports and the statistics keep it. Flushes."""
    row = next((r for r in categories(session, org_id) if r.category.id == category_id), None)
    if row is None:
        raise LookupError(category_id)
    if row.always_on:
        raise Refused("category", _l("“Not sure” is always offered to reporters."))
    if row.used:
        raise Refused(
            "category",
            _l("Reports have this category, so it cannot be deleted. Deactivate it instead."),
        )
    session.execute(delete(Category).where(Category.id == category_id))
    audit.record(
        session,
        clock,
        action="settings.category_deleted",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"category": category_id},
    )
    session.flush()


# --- The reporting channel -------------------------------------------------------------------

REPORTERS_KEY = "reporters"
# Who may report (REQUIREMENTS.md C5): the reporter's relations of the report form, but "other".
REPORTER_GROUPS = tuple((code, label) for code, label in RELATION_LABELS if code != "other")
_GROUP_CODES = tuple(code for code, _label in REPORTER_GROUPS)


def reporter_groups(session: Session, org_id: int) -> list[str]:
    """The groups who may report to ``org_id`` (codes, in the form's order; default all)."""
    value = _get(session, org_id, REPORTERS_KEY)
    if not isinstance(value, list):
        return list(_GROUP_CODES)
    chosen = {v for v in value if isinstance(v, str)}
    return [code for code in _GROUP_CODES if code in chosen] or list(_GROUP_CODES)


def reporter_group_labels(session: Session, org_id: int) -> list[str]:
    """The groups who may report, as the start page lists them (in the page's language)."""
    labels = dict(REPORTER_GROUPS)
    return [str(labels[code]) for code in reporter_groups(session, org_id)]


def change_channel(
    session: Session,
    clock: Clock,
    org: Organisation,
    actor_id: int,
    *,
    accepts_anonymous: bool,
    groups: list[str],
) -> int:
    """Whether anonymous reports are accepted, and who may report; return changes. Flushes."""
    chosen = [code for code in _GROUP_CODES if code in set(groups)]
    if not chosen or len(chosen) != len(set(groups)):
        raise Refused("groups", _l("Choose at least one group."))
    changed = 0
    if org.accepts_anonymous != accepts_anonymous:
        org.accepts_anonymous = accepts_anonymous
        audit.record(
            session,
            clock,
            action="settings.anonymous_changed",
            org_id=org.id,
            actor_user_id=actor_id,
            detail={"accepted": accepts_anonymous},
        )
        changed += 1
    if chosen != reporter_groups(session, org.id):
        _set(session, org.id, REPORTERS_KEY, chosen)
        audit.record(
            session,
            clock,
            action="settings.reporters_changed",
            org_id=org.id,
            actor_user_id=actor_id,
            detail={code.replace("-", "_"): code in chosen for code in _GROUP_CODES},
        )
        changed += 1
    session.flush()
    return changed


# --- Upload limits --------------------------------------------------------------------------

MAX_FILES = 50


def change_upload_limits(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    *,
    file_mb: int,
    files: int,
    total_mb: int,
    request_mb: int,
) -> bool:
    """Per file, number of files and together, in one report or message. ``request_mb`` is the
    deployment's cap on any request (``max_request_mb``): the limits stay under it, leaving
    room for the form itself. True when changed. Flushes."""
    ceiling = max(1, request_mb - 10)
    if not 1 <= file_mb <= ceiling:
        raise Refused("file_mb", _l("Choose from %(low)d to %(high)d MB.", low=1, high=ceiling))
    if not 1 <= files <= MAX_FILES:
        raise Refused("files", _l("Choose from %(low)d to %(high)d files.", low=1, high=MAX_FILES))
    if not file_mb <= total_mb <= ceiling:
        raise Refused(
            "total_mb",
            _l(
                "Choose from %(low)d MB (one file) to %(high)d MB (what this installation "
                "accepts in one request).",
                low=file_mb,
                high=ceiling,
            ),
        )
    current = upload_limits(session, org_id)
    if (current.max_file_mb, current.max_files, current.max_total_mb) == (file_mb, files, total_mb):
        return False
    _set(session, org_id, "upload_max_file_mb", file_mb)
    _set(session, org_id, "upload_max_files", files)
    _set(session, org_id, "upload_max_total_mb", total_mb)
    audit.record(
        session,
        clock,
        action="settings.uploads_changed",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={"file_mb": file_mb, "files": files, "total_mb": total_mb},
    )
    session.flush()
    return True


# --- Retention ------------------------------------------------------------------------------


def change_presets(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    chosen: Mapping[CaseOutcome, str],
) -> int:
    """Set the retention preset of each outcome (``30d``, ``2m`` or ``date``); cases already
    closed keep their day. Return how many changed. Flushes."""
    parsed: dict[CaseOutcome, retention.Preset] = {}
    for outcome, value in chosen.items():
        try:
            parsed[outcome] = retention.Preset.parse(value)
        except ValueError:
            raise Refused(
                outcome.value,
                _l(
                    "Give a number of days or months up to %(years)d years, or choose a date "
                    "set at closing.",
                    years=retention.MAX_KEEP_YEARS,
                ),
            ) from None
    current = retention.presets(session, org_id)
    changed = 0
    for outcome, preset in parsed.items():
        if current.get(outcome) == preset:
            continue
        retention.set_preset(session, org_id, outcome, preset)
        audit.record(
            session,
            clock,
            action="settings.retention_changed",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"outcome": outcome.value, "preset": str(preset)},
        )
        changed += 1
    session.flush()
    return changed


# --- Mail -----------------------------------------------------------------------------------

# A host name or IPv4 address, or an IPv6 address (no brackets: smtplib takes it bare).
HOST_RE = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|[0-9A-Fa-f]*:[0-9A-Fa-f:]+")
SENDER_RE = re.compile(r"[^@\s<>\",]{1,64}@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


def change_mail(
    session: Session,
    clock: Clock,
    org_id: int,
    actor_id: int,
    settings: mail.StoredMail,
    password: str,
    *,
    instance_key: bytes,
) -> None:
    """Save the deployment's mail server (an empty host: back to the instance folder's).
    An empty ``password`` keeps the stored one. Flushes."""
    if not settings.host:
        mail.forget_stored(session)
        audit.record(
            session, clock, action="settings.mail_reset", org_id=org_id, actor_user_id=actor_id
        )
        session.flush()
        return
    if not HOST_RE.fullmatch(settings.host):
        raise Refused("host", _l("Give the server's name, such as smtp.example.org."))
    if not 1 <= settings.port <= 65535:
        raise Refused("port", _l("Give a port from 1 to 65535, usually 587 or 465."))
    if settings.security not in SMTP_SECURITY:
        raise Refused("security", _l("Choose how the connection is protected."))
    if not SENDER_RE.fullmatch(settings.sender):
        raise Refused("sender", _l("Enter an e-mail address such as name@example.org."))
    if len(settings.username) > 254 or any(c in settings.username for c in "\r\n"):
        raise Refused("username", _l("Give the user name of at most 254 characters."))
    if len(password) > 1000 or any(c in password for c in "\r\n"):
        raise Refused("password", _l("The password is too long or contains a line break."))
    previous = mail.stored(session)
    if settings.username and not password and not (previous and previous.has_password):
        raise Refused("password", _l("Give the password that goes with the user name."))
    mail.save_stored(session, settings, password or None, instance_key=instance_key)
    audit.record(
        session,
        clock,
        action="settings.mail_changed",
        org_id=org_id,
        actor_user_id=actor_id,
        detail={
            "port": settings.port,
            "security": settings.security,
            "login": bool(settings.username),
            "new_password": bool(password),
        },
    )
    session.flush()


def trial_message(*, to: str, organisation: str, now: datetime) -> EmailMessage:
    """The test mail: says where it comes from and nothing else."""
    message = EmailMessage()
    message["To"] = to
    message["Subject"] = _("Test mail from Whistle")
    message["Date"] = format_datetime(now)
    message.set_content(
        _(
            "This is a test mail from the whistleblower scheme of %(organisation)s. "
            "Mail from Whistle reaches you. Nothing needs to be done.",
            organisation=" ".join(organisation.split()),
        )
        + "\n"
    )
    return message


def send_test_mail(
    session: Session,
    clock: Clock,
    org: Organisation,
    actor_id: int,
    transport: mail.Transport,
    *,
    to: str,
) -> str | None:
    """Send the test mail to ``to``; None when the server took it, else the kind of failure
    (an exception's type name: never its text, which may quote the server). Flushes."""
    failure = None
    try:
        transport.send(trial_message(to=to, organisation=org.name, now=clock.now()))
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        failure = type(exc).__name__
    audit.record(
        session,
        clock,
        action="settings.mail_tested",
        org_id=org.id,
        actor_user_id=actor_id,
        detail={"sent": failure is None},
    )
    session.flush()
    return failure
