"""Organisations: creation with sensible defaults, lookup by public address."""

from __future__ import annotations

import re
import unicodedata

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from whistle.core.clock import Clock
from whistle.core.models import NOT_SURE, Category, InstanceSetting, Organisation
from whistle.core.refusals import Refused

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")
RESERVED_SLUGS = frozenset({"admin", "api", "static", "setup", "staff", "healthz", "lang", "o"})

# The Directive's areas (art. 2), the Act's "other serious matters" and harassment, and the
# always-available "not sure" (REQUIREMENTS.md C6). Admins may rename, reorder or add.
DEFAULT_CATEGORIES = (
    ("public-procurement", _l("Public procurement")),
    ("financial-services", _l("Financial services, products and markets; money laundering")),
    ("product-safety", _l("Product safety and compliance")),
    ("transport-safety", _l("Transport safety")),
    ("environment", _l("Protection of the environment")),
    ("nuclear-safety", _l("Radiation protection and nuclear safety")),
    ("food-safety", _l("Food and feed safety, animal health and welfare")),
    ("public-health", _l("Public health")),
    ("consumer-protection", _l("Consumer protection")),
    ("privacy-security", _l("Privacy, personal data and network security")),
    ("eu-financial-interests", _l("Fraud against the EU's financial interests")),
    ("internal-market", _l("Internal market, competition and state aid, corporate tax")),
    ("harassment", _l("Sexual harassment or other serious harassment")),
    ("serious-matter", _l("Other serious breaches of law or serious matters")),
    (NOT_SURE, _l("Not sure")),
)


def suggest_slug(name: str) -> str:
    """A public address from a name: ``Nordisk Fjer A/S`` becomes ``nordisk-fjer-a-s``."""
    text = name.lower().replace("æ", "ae").replace("ø", "oe").replace("å", "aa")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    return text[:64].strip("-") or "organisation"


def create_organisation(
    session: Session, clock: Clock, *, name: str, slug: str, default_locale: str = "da"
) -> Organisation:
    """Create an organisation with the default categories. Flushes, does not commit."""
    name = name.strip()
    if not 2 <= len(name) <= 200:
        raise Refused("name", _l("Give a name of 2 to 200 characters."))
    if not SLUG_RE.match(slug) or slug in RESERVED_SLUGS:
        raise Refused(
            "slug",
            _l("Use 1 to 64 lower-case letters, digits and dashes, not starting with a dash."),
        )
    taken = session.scalar(select(func.count()).where(Organisation.slug == slug))
    if taken:
        raise Refused("slug", _l("This address is already in use."))
    org = Organisation(
        slug=slug,
        name=name,
        default_locale=default_locale,
        accepts_anonymous=True,
        is_active=True,
        created_at=clock.now(),
    )
    session.add(org)
    session.flush()
    for position, (code, label) in enumerate(DEFAULT_CATEGORIES):
        with force_locale("da"):
            label_da = str(label)
        with force_locale("en"):
            label_en = str(label)
        session.add(
            Category(
                org_id=org.id,
                code=code,
                label_da=label_da,
                label_en=label_en,
                position=position,
                is_active=True,
            )
        )
    session.flush()
    return org


def find_by_slug(session: Session, slug: str) -> Organisation | None:
    return session.scalar(
        select(Organisation).where(Organisation.slug == slug, Organisation.is_active.is_(True))
    )


def find_any_by_slug(session: Session, slug: str) -> Organisation | None:
    """The organisation at ``slug``, suspended or not (the reporting channel tells a
    suspended one's reporters that it is closed, instead of a page not found)."""
    return session.scalar(select(Organisation).where(Organisation.slug == slug))


def active_organisations(session: Session) -> list[Organisation]:
    return list(
        session.scalars(
            select(Organisation).where(Organisation.is_active.is_(True)).order_by(Organisation.name)
        )
    )


# Whether ``/`` lists the organisations: the operator's choice (``instance_settings``), else
# the instance folder's ``list_organisations`` (off by default).
FRONT_PAGE_LIST_KEY = "front_page_lists_organisations"


def lists_organisations(session: Session, configured: bool) -> bool:
    row = session.get(InstanceSetting, FRONT_PAGE_LIST_KEY)
    if row is None:
        return configured
    return row.value == "true"


def set_lists_organisations(session: Session, on: bool) -> None:
    """The operator's choice for ``/``. Flushes, never commits."""
    row = session.get(InstanceSetting, FRONT_PAGE_LIST_KEY)
    value = "true" if on else "false"
    if row is None:
        session.add(InstanceSetting(key=FRONT_PAGE_LIST_KEY, value=value))
    else:
        row.value = value
    session.flush()
