"""The record of processing activities for the whistleblower scheme (GDPR art. 30(1)).

Generated from the organisation's settings each time it is opened, so it never falls behind
them: the controller's name, who may report, the categories offered, how many people receive
reports, the retention presets and whether anonymous reports are accepted. What the product
cannot know (the hosting provider, a data protection officer's contact details) the page asks
the organisation to add. Built from clear-text settings and counts only: no case is read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.admin.channel import reporter_group_labels
from whistle.admin.overview import active_members
from whistle.casefile.holders import HANDLING_ROLES
from whistle.casefile.limits import UploadLimits, upload_limits
from whistle.core.labels import OUTCOME_LABELS, preset_label
from whistle.core.models import CATEGORY_ORDER, Category, Organisation, Role
from whistle.core.settings import Settings
from whistle.notify import mail
from whistle.retention import schedule


@dataclass(frozen=True)
class RetentionLine:
    outcome: str
    rule: str


@dataclass(frozen=True)
class ProcessingRecord:
    controller: str
    reporting_page: str
    made_on: date
    accepts_anonymous: bool
    reporter_groups: list[str]
    categories: list[str]
    handlers: int
    counsel: int
    retention: list[RetentionLine]
    uploads: UploadLimits
    mail_host: str | None


def describe_preset(preset: schedule.Preset) -> str:
    """A retention preset in words, in the current language."""
    return preset_label(str(preset))


def processing_record(
    session: Session,
    org: Organisation,
    settings: Settings,
    *,
    today: date,
    english: bool,
    reporting_page: str,
) -> ProcessingRecord:
    """The record of processing for ``org``, from its settings as they are now."""
    labels = session.scalars(
        select(Category.label_en if english else Category.label_da)
        .where(Category.org_id == org.id, Category.is_active.is_(True))
        .order_by(*CATEGORY_ORDER)
    ).all()
    saved = mail.stored(session)
    return ProcessingRecord(
        controller=org.name,
        reporting_page=reporting_page,
        made_on=today,
        accepts_anonymous=org.accepts_anonymous,
        reporter_groups=reporter_group_labels(session, org.id),
        categories=list(labels),
        handlers=active_members(session, org.id, HANDLING_ROLES),
        counsel=active_members(session, org.id, (Role.COUNSEL,)),
        retention=[
            RetentionLine(str(OUTCOME_LABELS[outcome]), describe_preset(preset))
            for outcome, preset in schedule.presets(session, org.id).items()
        ],
        uploads=upload_limits(session, org.id),
        mail_host=(saved.host if saved is not None else settings.smtp_host) or None,
    )
