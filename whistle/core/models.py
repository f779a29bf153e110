"""SQLAlchemy 2 typed models.

Clear-text columns are only what the server must act on (DESIGN.md, "Data and deadlines").
Every row that belongs to a scheme carries ``org_id``: the organisation is a first-class entity
from the first migration, so one deployment can host several (a group's legal entities, or a
law firm acting as the whistleblower unit of its clients) without a later rewrite.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    event,
    false,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from whistle.core.deadlines import due_rank

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite has no time zones)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Role(enum.StrEnum):
    """What a person may do in one organisation; a person may hold several."""

    ADMIN = "admin"
    HANDLER = "handler"
    LEAD = "lead"
    COUNSEL = "counsel"
    AUDITOR = "auditor"


class KeyPurpose(enum.StrEnum):
    SIGNING = "signing"
    RECOVERY = "recovery"
    # Signs key certifications; its private half is sealed only to certified leads and to the
    # recovery key (whistle/keys/certification.py).
    CERTIFICATION = "certification"


class Organisation(Base):
    """A scheme owner: its own public address, texts, handlers, categories and keys."""

    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    default_locale: Mapped[str] = mapped_column(String(5), default="da")
    accepts_anonymous: Mapped[bool] = mapped_column(Boolean, default=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    memberships: Mapped[list[Membership]] = relationship(back_populates="organisation")


class User(Base):
    """A staff member (handler, lead, counsel, auditor, admin). Reporters are never users."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    # HPKE public key, and the private key wrapped under Argon2id(password) (crypto/).
    public_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    wrapped_private_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # TOTP secret, encrypted under the instance key (so a database copy alone cannot mint codes).
    totp_secret: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # Set when the first code from the authenticator app was accepted; until then the secret
    # is only a pending enrolment.
    totp_confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The TOTP time step last accepted: a code is never accepted twice (replay).
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # The deployment's operator (whistle/operators/): creates, suspends and deletes
    # organisations. A deployment role, not a membership: it opens no organisation's pages
    # and no case; the person needs a membership for that like anyone else.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    confidentiality_ack_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    memberships: Mapped[list[Membership]] = relationship(back_populates="user")


class Membership(Base):
    """One role of one user in one organisation."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "role", name="org_user_role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    organisation: Mapped[Organisation] = relationship(back_populates="memberships")
    user: Mapped[User] = relationship(back_populates="memberships")


class OrgSetting(Base):
    """A per-organisation setting (JSON-encoded value)."""

    __tablename__ = "org_settings"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class OrgText(Base):
    """A per-organisation text (policy, notices) in one language; admins edit these."""

    __tablename__ = "org_texts"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    locale: Mapped[str] = mapped_column(String(5), primary_key=True)
    body: Mapped[str] = mapped_column(Text)


class InstanceSetting(Base):
    """A setting of the whole deployment, shared by every organisation (JSON value): the
    outgoing mail server chosen in the admin console (whistle/notify/mail.py). A secret in a value
    is sealed under the instance key, so a database copy alone does not reveal it."""

    __tablename__ = "instance_settings"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Category(Base):
    """A report category offered on an organisation's form ("not sure" is always one)."""

    __tablename__ = "categories"
    __table_args__ = (UniqueConstraint("org_id", "code", name="org_code"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(64))
    label_da: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)


NOT_SURE = "not-sure"  # the category every form offers (whistle/core/organisations.py)
# Categories in the form's order everywhere they are listed: by position, "not sure" last
# whatever its position (also for categories added before this rule, whose positions may put it
# elsewhere).
CATEGORY_ORDER = (Category.code == NOT_SURE, Category.position, Category.id)


class OrgKey(Base):
    """An organisation key: the receipt-signing key or the recovery key.

    Public halves are stored in clear. The signing key's private half is sealed under the
    instance key (a database copy alone cannot forge receipts); the recovery key's private half
    is never stored: it is shown once to the person who creates the organisation.
    """

    __tablename__ = "org_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(16))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_private_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CertificationKeyCopy(Base):
    """The organisation's certification signing key, opened through one holder's copy.

    The signing key itself is encrypted (``OrgKey.sealed_private_key``) under a random
    wrapping key; each row here holds that wrapping key sealed (HPKE) to a certified unit
    lead's public key or to the recovery key, or, for ``recipient == "bootstrap"`` and only
    until the organisation's first lead is trusted on first use, encrypted under the instance
    key. The server alone, without a lead's password, opens none of the others.
    """

    __tablename__ = "certification_key_copies"
    __table_args__ = (
        UniqueConstraint("org_key_id", "recipient", "user_id", name="certification_copy"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    org_key_id: Mapped[int] = mapped_column(
        ForeignKey("org_keys.id", ondelete="CASCADE"), index=True
    )
    recipient: Mapped[str] = mapped_column(String(16))  # "user", "recovery" or "bootstrap"
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class KeyCertification(Base):
    """A unit lead's signed statement that ``user_id``'s public key (by SHA-256) is theirs, for
    one key role in the organisation. Checked against the organisation's pinned certification
    key whenever something is sealed to the key; a changed key no longer matches."""

    __tablename__ = "key_certifications"
    __table_args__ = (UniqueConstraint("org_id", "user_id", "role", name="key_certification"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    key_sha256: Mapped[bytes] = mapped_column(LargeBinary)
    statement: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    # The lead who certified; NULL when trusted on first use (first lead, or the upgrade).
    certified_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class KeyWarning(Base):
    """Something about the organisation's keys that its unit leads must look into: a staff
    key that did not match at sign-in, or organisation keys that no longer match the pins in
    the instance folder. Shown to the leads until one of them dismisses it."""

    __tablename__ = "key_warnings"
    __table_args__ = (Index("ix_key_warnings_open", "org_id", "dismissed_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    dismissed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    dismissed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )


class SetupToken(Base):
    """The one-time first-run token (only its hash is stored)."""

    __tablename__ = "setup_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseStatus(enum.StrEnum):
    NEW = "new"
    OPEN = "open"  # acknowledged, under follow-up
    CLOSED = "closed"


class Author(enum.StrEnum):
    REPORTER = "reporter"
    HANDLER = "handler"


# Every column the inbox filters on (whistle/cases/inbox.py), carried in each of its indexes.
_INBOX_FILTER_COLUMNS = (
    "status",
    "category_id",
    "scope",
    "unread_for_handlers",
    "acknowledged_on",
    "feedback_on",
    "acknowledge_due",
    "feedback_due",
)


def _inbox_index(name: str, *order: str) -> Index:
    """An index of an organisation's cases in one inbox order, then every filter column."""
    rest = [c for c in _INBOX_FILTER_COLUMNS if c not in order]
    return Index(name, "org_id", *order, *rest)


class Case(Base):
    """One report and its follow-up.

    Clear text is only what the server acts on: reference, status, category, channel, dates,
    deadlines, and whether the reporter chose anonymity (for statistics). Dates are days, not
    times: nothing here says at what hour someone reported. Everything a person typed is in
    ``report`` (content key) or ``identity`` (identity key).
    """

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("org_id", "reference", name="org_reference"),
        # The inbox (whistle/cases/inbox.py) picks its page of 50 inside one of these: each holds an
        # organisation's cases in one order the inbox offers, then every column it filters on.
        # A case row is mostly ciphertext, so testing a filter on rows costs a disk page per
        # case, and SQLite (no planner statistics) would walk the rows of the whole
        # organisation for a filtered list. Measured: docs/benchmarks.md, "Inbox".
        _inbox_index("ix_cases_inbox_received", "received_on", "id"),  # newest or oldest first
        # a status, or the deadline filters (cases not closed)
        _inbox_index("ix_cases_inbox_status", "status", "received_on", "id"),
        _inbox_index("ix_cases_inbox_unread", "unread_for_handlers", "received_on", "id"),
        _inbox_index("ix_cases_inbox_ack_due", "acknowledge_due", "id"),
        _inbox_index("ix_cases_inbox_feedback_due", "feedback_due", "id"),
        _inbox_index("ix_cases_inbox_due_rank", "due_rank", "id"),  # what is due first
        # `whistle retention run` finds what is due from this index alone, so its cost follows
        # the cases it deletes, not the cases kept (docs/benchmarks.md, "Retention").
        Index("ix_cases_delete_on", "delete_on", "hold_since"),
        # The registers' pending deletions and legal holds of one organisation.
        Index("ix_cases_retention", "org_id", "delete_on", "status", "hold_since"),
        Index("ix_cases_hold", "org_id", "hold_since"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What ciphertexts of the case are bound to (known before the row has an id).
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    reference: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.NEW)
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16), default="web")
    anonymous: Mapped[bool] = mapped_column(Boolean)
    meeting_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    received_on: Mapped[date] = mapped_column(Date)
    acknowledge_due: Mapped[date] = mapped_column(Date)
    acknowledged_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    feedback_due: Mapped[date] = mapped_column(Date)
    feedback_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The case's place in the inbox's "what is due first" order (whistle/core/deadlines.py
    # ``due_rank``), kept by the flush events below so that an index serves that order, the
    # inbox's default; computed at each query it cost a sort of the whole list (120-130 ms at
    # 100,000 cases).
    # (The server default only lets migration 0020 add the column to existing rows.)
    due_rank: Mapped[int] = mapped_column(Integer, server_default=text("0"))
    # Reporter access: HMAC(pepper, case code) to find the case, and the content key wrapped
    # under Argon2id(code, per-case salt; the salt is inside the blob). Nothing here recovers
    # the code.
    reporter_tag: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    # The code opens ``reporter_key``: for a case received since key epochs (issue 14) the seed
    # of the reporter's own key pair, whose public half is ``reporter_public_key`` and to which
    # each epoch's content key is sealed (a ``case_keys`` row, recipient "reporter"); for an
    # older case (``reporter_public_key`` NULL) the content key of epoch 0 itself, until the
    # reporter's next sign-in gives the case its key pair (whistle/reporting/followup.py).
    reporter_key: Mapped[bytes] = mapped_column(LargeBinary)
    reporter_public_key: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    # The newest key epoch (whistle/casefile/access.py): when someone leaves the case, its new
    # records are encrypted under fresh keys sealed only to those who remain.
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # An older case without a reporter key pair keeps its content key through an epoch change
    # (only its reporter's code opens it); the content key is renewed at the reporter's next
    # sign-in, which this marks as due.
    content_rotation_pending: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[bytes] = mapped_column(LargeBinary)
    identity: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    nudge_address: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    unread_for_handlers: Mapped[bool] = mapped_column(Boolean, default=True)
    unread_for_reporter: Mapped[bool] = mapped_column(Boolean, default=False)
    # Handling, in clear because the inbox filters on it (no content): the unit lead's
    # assignment, the scope assessment (Act § 12(3)), the hearing of the person concerned
    # (S6) and the outcome of a closed case. The reasons behind them are internal notes.
    assigned_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    scope: Mapped[str | None] = mapped_column(String(16), nullable=True)
    hearing: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # Retention (R2-R4, whistle/retention/schedule.py): set when the case is closed.
    # ``retention_rule``
    # names the preset or decision the date comes from; a legal hold (``hold_since``) stops
    # deletion until it is lifted. The reasons are internal notes.
    delete_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    retention_rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    hold_since: Mapped[date | None] = mapped_column(Date, nullable=True)


class ReferenceCounter(Base):
    """The last case reference number given out per organisation and year.

    Taken with one ``UPDATE ... RETURNING`` just before a new case is written, so concurrent
    reports never race for a number (and nothing reads every reference of the year).
    """

    __tablename__ = "reference_counters"

    org_id: Mapped[int] = mapped_column(
        ForeignKey("organisations.id", ondelete="CASCADE"), primary_key=True
    )
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class CaseKey(Base):
    """A case key (content, notes or identity) sealed to one recipient's public key.

    ``user_id`` is NULL for the organisation's recovery key. Access to a case *is* holding a
    row here: leaving someone out is enforced by cryptography, not by a check in a view.
    """

    __tablename__ = "case_keys"
    __table_args__ = (
        UniqueConstraint(
            "case_id", "epoch", "kind", "user_id", "recipient", name="case_epoch_kind_recipient"
        ),
        # A handler's keys in one organisation: the inbox counts a handler's whole list here,
        # and PostgreSQL hashes it to check many cases at once (whistle/cases/inbox.py).
        Index("ix_case_keys_holder", "user_id", "org_id", "kind", "epoch", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Which generation of the case's keys (whistle/casefile/access.py, "key epochs").
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    kind: Mapped[str] = mapped_column(String(16))
    recipient: Mapped[str] = mapped_column(String(16))  # "user", "recovery" or "reporter"
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class Message(Base):
    """One message of the case conversation, encrypted under the case content key."""

    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author: Mapped[str] = mapped_column(String(16))
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="message")
    sent_on: Mapped[date] = mapped_column(Date)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The key epoch whose key encrypts this record (whistle/casefile/access.py), and the record
    # format (whistle/casefile/records.py): 1 before issue 14; 2 binds the clear columns a reader
    # trusts (author, kind, day) into the ciphertext.
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[int] = mapped_column(Integer, default=2)
    read_by_reporter_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # Purged as manifestly irrelevant (R3): the body is gone, the row says when.
    purged_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Attachment(Base):
    """An encrypted file in the file store; its name is encrypted too."""

    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    # Indexed: deleting a message looks up its files (measured: docs/benchmarks.md, "Retention").
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), nullable=True, index=True
    )
    author: Mapped[str] = mapped_column(String(16))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    metadata_outcome: Mapped[str] = mapped_column(String(16))
    added_on: Mapped[date] = mapped_column(Date)
    # The key epoch whose key encrypts this record (whistle/casefile/access.py), and the record
    # format (whistle/casefile/records.py): 1 before issue 14; 2 binds the clear columns a reader
    # trusts (author, kind, day) into the ciphertext.
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[int] = mapped_column(Integer, default=2)
    # Purged as manifestly irrelevant (R3): the file and its name are gone, the row says when.
    purged_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class WebSession(Base):
    """A server-side session whose secret only the browser's cookie can open.

    The cookie carries a random id and a random key; the database keeps a hash of the id and
    the session's secret (a reporter's case content key, a handler's private key) encrypted
    under that key. Neither the database nor the cookie alone opens anything.

    A session ends after an idle time and, however busy, an absolute lifetime from
    ``created_at`` (whistle/core/vault.py); the two indexes let the sweep delete what has ended
    without reading the table.
    """

    __tablename__ = "web_sessions"
    __table_args__ = (
        Index("ix_web_sessions_kind_last_seen", "kind", "last_seen_at"),
        Index("ix_web_sessions_kind_created", "kind", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), nullable=True, index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CaseOutcome(enum.StrEnum):
    SUBSTANTIATED = "substantiated"
    NOT_SUBSTANTIATED = "not_substantiated"
    OUTSIDE_SCOPE = "outside_scope"  # Act § 12(3): with a reason and a referral text
    KNOWINGLY_FALSE = "knowingly_false"
    REFERRED = "referred"  # to a public authority


class Invitation(Base):
    """An admin's invitation to join an organisation with given roles (token hash only)."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    roles: Mapped[str] = mapped_column(String(100))  # comma-separated Role values
    token_hash: Mapped[bytes] = mapped_column(LargeBinary, unique=True)
    invited_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseNote(Base):
    """An internal note of the unit, under the case notes key: never reachable by reporters."""

    __tablename__ = "case_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="note")
    created_on: Mapped[date] = mapped_column(Date)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The key epoch whose key encrypts this record (whistle/casefile/access.py), and the record
    # format (whistle/casefile/records.py): 1 before issue 14; 2 binds the clear columns a reader
    # trusts (author, kind, day) into the ciphertext.
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    format: Mapped[int] = mapped_column(Integer, default=2)
    # Purged as manifestly irrelevant (R3): the body is gone, the row says when.
    purged_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class CaseExclusion(Base):
    """A handler kept out of a case after intake (REQUIREMENTS.md K3): by the reporter from
    the mailbox, or by a unit lead. Who, and by whom, is under the case content key (the
    reporter reads their own exclusions); the row itself says only that there is one.
    Exclusions at intake are in the report."""

    __tablename__ = "case_exclusions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    created_on: Mapped[date] = mapped_column(Date)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)


class Meeting(Base):
    """A physical meeting the reporter asked for (Directive art. 9(2)): a task with a due date."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    held_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class MinutesVersion(Base):
    """One version of a meeting's minutes, under the case content key (C2: every version kept).

    The handler writes a version; the reporter reads it in the mailbox and either approves it
    or sends a corrected version, which the handler can take up in a next version.
    """

    __tablename__ = "minutes_versions"
    __table_args__ = (UniqueConstraint("meeting_id", "version", name="meeting_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    author: Mapped[str] = mapped_column(String(16))
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[date] = mapped_column(Date)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    # The key epoch whose key encrypts this record (whistle/casefile/access.py).
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    approved_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class AuditEntry(Base):
    """One entry of the append-only, hash-chained audit log (who, what, when, which case).

    No content and no identity, ever: ``detail`` holds ids, kinds and reasons' presence, not
    text a person typed. ``entry_hash`` is SHA-256 over the previous entry's hash and this
    entry's fields, so editing or removing any entry breaks every later link. Case ids are
    plain numbers (no foreign key): the log outlives deleted cases.
    """

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    org_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    actor_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    action: Mapped[str] = mapped_column(String(64))
    case_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    case_reference: Mapped[str | None] = mapped_column(String(32), nullable=True)
    detail: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[bytes] = mapped_column(LargeBinary)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)


class AuditHead(Base):
    """The chain's head (one row): appending locks it, so concurrent writers never fork."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    entry_hash: Mapped[bytes] = mapped_column(LargeBinary)


class OutboxMail(Base):
    """A content-free notification waiting for ``whistle notify send`` (K5).

    Staff are addressed by user id (the address is read when sending); a reporter's nudge
    address is sealed under the instance key here and the row is deleted once sent.
    ``dedup_key`` keeps a reminder from being queued twice.
    """

    __tablename__ = "outbox"
    # A deleted case's mails are found by its reference (whistle/retention/deletion.py).
    __table_args__ = (Index("ix_outbox_case_reference", "org_id", "case_reference"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    sealed_address: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    case_reference: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dedup_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Which ``notify send`` run is handing the mail to the server, and since when
    # (whistle/notify/sending.py): set just before the hand-over, cleared once it is recorded.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CaseTombstone(Base):
    """What remains of a deleted case (R1, R4): dates, category, channel, outcome and rule.

    No content, no identity, no key, nothing a person typed: enough for the record of reports
    and the statistics. ``case_id`` is the deleted case's id, a plain number that links the
    tombstone to the case's entries in the audit log.
    """

    __tablename__ = "case_tombstones"
    __table_args__ = (
        UniqueConstraint("org_id", "reference", name="tombstone_org_reference"),
        # The statistics and the register of reports read an organisation's period.
        Index("ix_case_tombstones_org_received", "org_id", "received_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(Integer)
    reference: Mapped[str] = mapped_column(String(32))
    category_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(16))
    anonymous: Mapped[bool] = mapped_column(Boolean)
    received_on: Mapped[date] = mapped_column(Date)
    acknowledge_due: Mapped[date] = mapped_column(Date)
    acknowledged_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    feedback_due: Mapped[date] = mapped_column(Date)
    feedback_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    scope: Mapped[str | None] = mapped_column(String(16), nullable=True)
    outcome: Mapped[str | None] = mapped_column(String(32), nullable=True)
    closed_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    delete_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    deleted_on: Mapped[date] = mapped_column(Date)
    retention_rule: Mapped[str | None] = mapped_column(String(64), nullable=True)
    assigned_user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class PendingFileDeletion(Base):
    """A stored file whose rows are gone, to be removed from the file store.

    Deletion removes a case's rows and lists its files here in one transaction, then deletes
    the files and these rows. A crash in between leaves no half-deleted case, only files
    (unreadable: their keys went with the rows) that the next run removes.
    """

    __tablename__ = "pending_file_deletions"

    storage_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    queued_on: Mapped[date] = mapped_column(Date)


class PendingKeyDestruction(Base):
    """A key in the key store whose rows are gone, to be destroyed (whistle/core/shredding.py).

    Like :class:`PendingFileDeletion`: deletion removes the rows and lists the keys here in
    one transaction, then destroys the keys and these rows. A crash in between leaves the key
    alive only until the next retention run or ``whistle doctor --repair``. No date: the
    listing says nothing about when anything happened.
    """

    __tablename__ = "pending_key_destructions"

    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))


class RightsRequest(Base):
    """A data-subject request (GDPR art. 15-21; REQUIREMENTS.md S1-S5) and its handling.

    Who asked, and every text about the request (assessment, reasons, statements), is under
    the request's own key, sealed to the unit's handlers and the recovery key like a case's
    keys (:class:`RightsRequestKey`); the server keeps in clear only the kind, the dates, the
    status, the decision and its legal basis.
    """

    __tablename__ = "rights_requests"
    __table_args__ = (Index("ix_rights_requests_open", "org_id", "status", "due_on"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    received_on: Mapped[date] = mapped_column(Date)
    due_on: Mapped[date] = mapped_column(Date)
    extended_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    extension_notice_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="open")
    decision: Mapped[str | None] = mapped_column(String(16), nullable=True)
    legal_basis: Mapped[str | None] = mapped_column(String(32), nullable=True)
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    answered_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    subject: Mapped[bytes] = mapped_column(LargeBinary)
    # The newest epoch of the request's key: linking a case, or someone leaving, renews it
    # for those who remain (whistle/rights/linked_cases.py).
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)


class RightsRequestKey(Base):
    """The request key sealed to one handler (or to the recovery key)."""

    __tablename__ = "rights_request_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(
        ForeignKey("rights_requests.id", ondelete="CASCADE"), index=True
    )
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    recipient: Mapped[str] = mapped_column(String(16))  # "user" or "recovery"
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=True, index=True
    )
    sealed: Mapped[bytes] = mapped_column(LargeBinary)


class RightsNote(Base):
    """A text about a request (assessment, extension reason, decision, statement), encrypted."""

    __tablename__ = "rights_notes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    request_id: Mapped[int] = mapped_column(
        ForeignKey("rights_requests.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    author_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[date] = mapped_column(Date)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)


class RightsRequestCase(Base):
    """A case a request concerns (found by the handler's search)."""

    __tablename__ = "rights_request_cases"

    request_id: Mapped[int] = mapped_column(
        ForeignKey("rights_requests.id", ondelete="CASCADE"), primary_key=True
    )
    case_id: Mapped[int] = mapped_column(
        ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))


class ItemRestriction(Base):
    """A restriction of processing (GDPR art. 18; S5) on an item of a case: the item is left
    out of every export and disclosure while the restriction stands."""

    __tablename__ = "item_restrictions"
    __table_args__ = (
        UniqueConstraint("case_id", "item_kind", "item_id", name="one_restriction_per_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    item_kind: Mapped[str] = mapped_column(String(16))  # "report", "message", "file", "note"
    item_id: Mapped[int] = mapped_column(Integer)  # 0 for the report
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("rights_requests.id", ondelete="SET NULL"), nullable=True
    )
    since: Mapped[date] = mapped_column(Date)


class PersonConcerned(Base):
    """A person a report is about (GDPR art. 14; S4): who (under the case notes key) and the
    state of the notice they are owed. The notice never names the reporter."""

    __tablename__ = "persons_concerned"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    label: Mapped[bytes] = mapped_column(LargeBinary)
    # The key epoch whose key encrypts this record (whistle/casefile/access.py).
    key_epoch: Mapped[int] = mapped_column(Integer, default=0)
    notice_status: Mapped[str] = mapped_column(String(16), default="pending")
    notified_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    deferral_basis: Mapped[str | None] = mapped_column(String(32), nullable=True)
    review_on: Mapped[date | None] = mapped_column(Date, nullable=True, index=True)
    created_on: Mapped[date] = mapped_column(Date)


class CaseExport(Base):
    """A case file exported for legal counsel: one encrypted bundle in the file store.

    The bundle key is sealed to the chosen counsel's public key only (``sealed_key``, also in
    the file's header); ``preview`` and ``pdf`` are the bundle's case.json and case.pdf under
    that key, so counsel can read the case in the browser without the server unpacking the
    bundle. The case reference stays when the case is deleted (the bundle is counsel's now).
    """

    __tablename__ = "case_exports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int | None] = mapped_column(
        ForeignKey("cases.id", ondelete="SET NULL"), nullable=True, index=True
    )
    case_reference: Mapped[str] = mapped_column(String(32))
    counsel_user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    created_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    created_on: Mapped[date] = mapped_column(Date)
    includes_notes: Mapped[bool] = mapped_column(Boolean)
    includes_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    preview: Mapped[bytes] = mapped_column(LargeBinary)
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    downloaded_on: Mapped[date | None] = mapped_column(Date, nullable=True)


class Disclosure(Base):
    """The case's disclosure register (REQUIREMENTS.md K2): what left the unit, to whom,
    when, and whether the reporter's identity was part of it.

    ``kind`` "export" is a case file to counsel ``recipient_user_id``; "authority" is the
    reporter's identity handed to the public authority named (encrypted) by the identity
    disclosure ``identity_disclosure_id``."""

    __tablename__ = "disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # "export", "authority"
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    export_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_exports.id", ondelete="SET NULL"), nullable=True
    )
    includes_identity: Mapped[bool] = mapped_column(Boolean, default=False)
    disclosed_on: Mapped[date] = mapped_column(Date)
    by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    identity_disclosure_id: Mapped[int | None] = mapped_column(
        ForeignKey("identity_disclosures.id", ondelete="SET NULL"), nullable=True
    )


class IdentityDisclosure(Base):
    """A disclosure of a named reporter's identity (REQUIREMENTS.md K2), step by step.

    ``ground`` is the reporter's consent or a legal ground (to a public authority, to counter
    violations; to secure the rights of defence). ``notice`` says how the reporter was told
    beforehand: asked for consent, sent a written notice with the reasons, or not told because
    telling would jeopardise the investigation, which a second person (a unit lead) approves.
    ``recipient`` is "authority" (a public authority, named in the case note
    ``authority_note_id``; handed over by ``handed_over_by`` on ``handed_over_on``) or
    "counsel" (``recipient_user_id``, only with consent: one export carries the identity).
    A disclosure that is ``ready`` may be used once; it is then ``used``. Status
    "withdrawn_old_rule" marks a disclosure to counsel on a legal ground, withdrawn by
    migration 0018. The reasons and the authority's name are case notes (under the notes
    key), never clear text.
    """

    __tablename__ = "identity_disclosures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    uid: Mapped[str] = mapped_column(String(36), unique=True)
    org_id: Mapped[int] = mapped_column(ForeignKey("organisations.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), index=True)
    recipient_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    ground: Mapped[str] = mapped_column(String(16))  # consent, authority, defence
    notice: Mapped[str] = mapped_column(String(16))  # consent, sent, withheld
    status: Mapped[str] = mapped_column(String(24))
    requested_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    requested_on: Mapped[date] = mapped_column(Date)
    reasons_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_notes.id", ondelete="SET NULL"), nullable=True
    )
    withheld_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_notes.id", ondelete="SET NULL"), nullable=True
    )
    message_id: Mapped[int | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    decided_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    export_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_exports.id", ondelete="SET NULL"), nullable=True
    )
    recipient: Mapped[str] = mapped_column(
        String(16), default="counsel", server_default="counsel"
    )  # counsel, authority
    authority_note_id: Mapped[int | None] = mapped_column(
        ForeignKey("case_notes.id", ondelete="SET NULL"), nullable=True
    )
    handed_over_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    handed_over_on: Mapped[date | None] = mapped_column(Date, nullable=True)


@event.listens_for(Case, "before_insert")
@event.listens_for(Case, "before_update")
def _keep_due_rank(_mapper: Any, _connection: Any, case: Case) -> None:
    case.due_rank = due_rank(
        case.status,
        case.received_on,
        case.acknowledge_due,
        case.acknowledged_on,
        case.feedback_due,
        case.feedback_on,
    )


class ThrottleEntry(Base):
    """One throttle's count for one key (whistle/core/throttle.py), shared by every app process
    and machine and kept across restarts.

    ``key`` is a keyed hash (HMAC-SHA256 under a key derived from the instance key, truncated
    to 16 bytes) of what is counted: a client address, an account's e-mail address, an
    organisation. Without the instance folder the table cannot be tested against a guessed
    address. Times are whole Unix seconds, so the counting is the same integer arithmetic in
    one SQL statement on SQLite and PostgreSQL; ``expires_at`` is when the row says nothing any
    more and may be pruned.
    """

    __tablename__ = "throttles"
    __table_args__ = (Index("ix_throttles_expires_at", "expires_at"),)

    scope: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    hits: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[int] = mapped_column(BigInteger)
    wait_until: Mapped[int] = mapped_column(BigInteger)
    expires_at: Mapped[int] = mapped_column(BigInteger)


class UsedTotpStep(Base):
    """A TOTP time step that signed a user in: the primary key makes a code good for one
    sign-in, even when two sessions send it at the same moment (whistle/staff/auth.py)."""

    __tablename__ = "used_totp_steps"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class StoreFile(Base):
    """A file of the file store's database backend (whistle/core/db_storage.py): its content
    is the ordered :class:`StoreChunk` rows of the same name.

    ``complete`` is false while the file is being written: the writer commits each chunk on its
    own, and flips this in one last transaction, so readers see a file only once it is whole.
    A row left incomplete is a write that never finished (a killed worker); ``whistle doctor``
    removes it like a ``.partial`` file. ``written_at`` (Unix seconds) is when the write began
    and, once complete, when it finished: the doctor's age of the file. The content is what the
    local folder would hold (ciphertext under a per-file key in the key store), never plaintext.
    """

    __tablename__ = "store_files"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    complete: Mapped[bool] = mapped_column(Boolean)
    size: Mapped[int] = mapped_column(BigInteger)
    chunk_size: Mapped[int] = mapped_column(Integer)
    written_at: Mapped[int] = mapped_column(BigInteger)


class StoreChunk(Base):
    """Bytes ``seq * chunk_size`` to ``(seq + 1) * chunk_size`` of a stored file."""

    __tablename__ = "store_chunks"

    name: Mapped[str] = mapped_column(
        ForeignKey("store_files.name", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    data: Mapped[bytes] = mapped_column(LargeBinary)
