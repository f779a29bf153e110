"""Creating, suspending, reactivating and deleting organisations (the operator's work).

- **Create**: the organisation with the default categories, and an invitation for its first
  administrator. No keys yet: the organisation's recovery key opens every case, so it is made
  by that administrator, who alone sees it (whistle/admin/first_keys.py), never by the
  operator. Until then the reporting channel says it is not open yet.
- **Suspend / reactivate**: a suspended organisation's channel shows that it is closed (its
  cases and everything else are kept), its staff pages are closed and no reminder goes out.
- **Delete for good**: only a suspended organisation with no case on legal hold, and only
  when the operator types its address. Every case is deleted as retention deletes it
  (whistle/retention/deletion.py: keys destroyed in the key store, files removed, a
  tombstone and an audit entry each), then the organisation's rows; what stays is the audit
  log's content-free entries (``organisation.deleted`` with the address and the number of
  cases). Accounts left without any organisation are closed. Interrupted, it can be run again
  and goes on where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, delete, func, select, update
from sqlalchemy.orm import Session

from whistle.core import audit, shredding
from whistle.core.addresses import plausible_email
from whistle.core.clock import Clock
from whistle.core.db import unit_of_work
from whistle.core.key_pins import pins_of
from whistle.core.keystore import KeyStore
from whistle.core.keystore_errors import KeyStoreError
from whistle.core.models import (
    Case,
    CaseStatus,
    Membership,
    Organisation,
    OrgKey,
    Role,
    User,
)
from whistle.core.organisations import create_organisation, set_lists_organisations
from whistle.core.refusals import Refused
from whistle.core.settings import LOCALES
from whistle.core.storage import Store
from whistle.retention.deletion import compact, delete_cases, remove_pending_files
from whistle.staff.invitations import invite

BATCH = 200

NO_SUCH_ORGANISATION = _l("No organisation has this address.")


@dataclass(frozen=True, repr=False)
class NewOrganisation:
    organisation: Organisation
    invitation_token: str  # SECRET: goes into the first administrator's link, shown once

    def __repr__(self) -> str:
        return f"NewOrganisation(slug={self.organisation.slug!r})"


@dataclass(frozen=True)
class OrganisationSummary:
    """One row of the operator's list: counts and states, nothing of any case."""

    organisation: Organisation
    people: int
    open_cases: int
    cases: int
    has_keys: bool


@dataclass(frozen=True)
class Deletion:
    slug: str
    cases: int
    keys: int
    files: int
    accounts_closed: int


def is_operator(session: Session, user_id: int) -> bool:
    return bool(session.scalar(select(User.is_operator).where(User.id == user_id, User.is_active)))


def find(session: Session, slug: str) -> Organisation:
    """The organisation at ``slug``, suspended or not; :class:`Refused` otherwise."""
    org = session.scalar(select(Organisation).where(Organisation.slug == slug.strip().lower()))
    if org is None:
        raise Refused("slug", NO_SUCH_ORGANISATION)
    return org


def summaries(session: Session, only: int | None = None) -> list[OrganisationSummary]:
    """Every organisation (or only the one with id ``only``), by name, with its counts."""

    def narrowed(column: Any) -> list[ColumnElement[bool]]:
        return [] if only is None else [column == only]

    people = dict(
        session.execute(
            select(Membership.org_id, func.count(func.distinct(Membership.user_id)))
            .where(*narrowed(Membership.org_id))
            .group_by(Membership.org_id)
        ).all()
    )
    cases = dict(
        session.execute(
            select(Case.org_id, func.count()).where(*narrowed(Case.org_id)).group_by(Case.org_id)
        ).all()
    )
    open_cases = dict(
        session.execute(
            select(Case.org_id, func.count())
            .where(Case.status != CaseStatus.CLOSED.value, *narrowed(Case.org_id))
            .group_by(Case.org_id)
        ).all()
    )
    # Made by the first administrator (whistle/admin/first_keys.py).
    keyed = set(session.scalars(select(OrgKey.org_id).where(*narrowed(OrgKey.org_id)).distinct()))
    return [
        OrganisationSummary(
            organisation=org,
            people=int(people.get(org.id, 0)),
            open_cases=int(open_cases.get(org.id, 0)),
            cases=int(cases.get(org.id, 0)),
            has_keys=org.id in keyed,
        )
        for org in session.scalars(
            select(Organisation).where(*narrowed(Organisation.id)).order_by(Organisation.name)
        )
    ]


def summary(session: Session, org: Organisation) -> OrganisationSummary:
    """One organisation's counts (its page, its deletion page)."""
    return summaries(session, only=org.id)[0]


def _check_email(email: str) -> str:
    address = email.strip().lower()
    if not plausible_email(address):
        raise Refused("admin_email", _l("Give a valid e-mail address."))
    return address


def create(
    session: Session,
    clock: Clock,
    *,
    name: str,
    slug: str,
    locale: str,
    admin_email: str,
    actor_id: int | None,
) -> NewOrganisation:
    """A new organisation and an invitation for its first administrator. Commits."""
    address = _check_email(admin_email)
    if locale not in LOCALES:
        raise Refused("locale", _l("Choose Danish or English."))
    with unit_of_work(session):
        org = create_organisation(
            session, clock, name=name, slug=slug.strip().lower(), default_locale=locale
        )
        audit.record(
            session,
            clock,
            action="organisation.created",
            org_id=org.id,
            actor_user_id=actor_id,
            detail={"slug": org.slug},
        )
    issued = invite(session, clock, org, email=address, roles=[Role.ADMIN], invited_by=actor_id)
    return NewOrganisation(org, issued.token)


def invite_admin(
    session: Session, clock: Clock, slug: str, *, email: str, actor_id: int | None
) -> str:
    """A new invitation for an administrator of ``slug`` (the first link was lost, or the
    organisation has lost its last administrator); returns the token (SECRET). Commits."""
    address = _check_email(email)
    org = find(session, slug)
    try:
        issued = invite(session, clock, org, email=address, roles=[Role.ADMIN], invited_by=actor_id)
    except Refused as refused:
        raise Refused("admin_email", refused.message) from None
    return issued.token


def _set_active(
    session: Session, clock: Clock, slug: str, active: bool, actor_id: int | None
) -> Organisation:
    with unit_of_work(session):
        org = find(session, slug)
        if org.is_active == active:
            raise Refused(
                "slug",
                _l("The organisation is already active.")
                if active
                else _l("The organisation is already suspended."),
            )
        org.is_active = active
        audit.record(
            session,
            clock,
            action="organisation.reactivated" if active else "organisation.suspended",
            org_id=org.id,
            actor_user_id=actor_id,
            detail={"slug": org.slug},
        )
    return org


def suspend(session: Session, clock: Clock, slug: str, *, actor_id: int | None) -> Organisation:
    return _set_active(session, clock, slug, False, actor_id)


def reactivate(session: Session, clock: Clock, slug: str, *, actor_id: int | None) -> Organisation:
    return _set_active(session, clock, slug, True, actor_id)


def check_deletable(session: Session, org: Organisation, confirm: str) -> None:
    """:class:`Refused` unless ``org`` may be deleted now with the confirmation typed."""
    if org.is_active:
        raise Refused(
            "confirm",
            _l("Suspend the organisation first: its channel closes, and nothing new arrives."),
        )
    held = session.scalar(
        select(func.count()).where(Case.org_id == org.id, Case.hold_since.is_not(None))
    )
    if held:
        raise Refused(
            "confirm",
            _l(
                "%(num)d of its cases are on legal hold. The organisation's unit must lift "
                "the holds before it can be deleted.",
                num=held,
            ),
        )
    if confirm.strip().lower() != org.slug:
        raise Refused("confirm", _l("Type the organisation's address exactly to confirm."))


def delete_for_good(
    session: Session,
    clock: Clock,
    slug: str,
    *,
    confirm: str,
    store: Store,
    keystore: KeyStore,
    actor_id: int | None,
) -> Deletion:
    """Delete the suspended organisation ``slug`` and all its cases (see the module's docs).

    Commits a unit of work per batch of cases. :class:`Refused` before anything is deleted
    when it may not be, and when the key store cannot be reached (the cases deleted so far
    stay deleted; run it again).
    """
    org = find(session, slug)
    check_deletable(session, org, confirm)
    try:
        return _delete(session, clock, org, store=store, keystore=keystore, actor_id=actor_id)
    except KeyStoreError:
        raise Refused("confirm", KEY_STORE_UNREACHABLE) from None


CASES_IN_USE = _l(
    "Some of its cases were in use and could not be deleted yet. The cases deleted so far stay "
    "deleted; try again in a minute to go on."
)
KEY_STORE_UNREACHABLE = _l(
    "The key store could not be reached. The cases deleted so far stay deleted; try again to go on."
)


def _delete(
    session: Session,
    clock: Clock,
    org: Organisation,
    *,
    store: Store,
    keystore: KeyStore,
    actor_id: int | None,
) -> Deletion:
    org_id, org_slug = org.id, org.slug
    cases = keys = files = 0
    # What an earlier, interrupted run of this (or of retention) left.
    keys += shredding.finish_destructions(session, keystore).destroyed
    files += remove_pending_files(session, store)
    while batch := _cases_of(session, org_id):
        with unit_of_work(session):
            delete_cases(session, clock, batch)
        cases += len(batch)
        done = shredding.finish_destructions(session, keystore)
        keys += done.destroyed
        files += remove_pending_files(session, store)
    done = shredding.finish_destructions(session, keystore)
    keys += done.destroyed
    if done.incomplete:
        raise Refused("confirm", KEY_STORE_UNREACHABLE)
    with unit_of_work(session):
        # A case another transaction held locked was skipped above. Deleting the organisation's
        # row now would take that case's rows with it without destroying its keys (an older
        # backup would still open it), so stop and let the operator run it again.
        if session.scalar(select(func.count()).where(Case.org_id == org_id)):
            raise Refused("confirm", CASES_IN_USE)
        closed = _close_lonely_accounts(session, org_id)
        audit.record(
            session,
            clock,
            action="organisation.deleted",
            org_id=org_id,
            actor_user_id=actor_id,
            detail={"slug": org_slug, "cases": cases, "accounts_closed": closed},
        )
        session.expunge(org)
        session.execute(
            delete(Organisation)
            .where(Organisation.id == org_id)
            .execution_options(synchronize_session=False)
        )
    pins_of(session).forget(org_id)
    compact(session)
    return Deletion(org_slug, cases, keys, files, closed)


def _cases_of(session: Session, org_id: int) -> Sequence[Case]:
    return list(
        session.scalars(
            select(Case)
            .where(Case.org_id == org_id)
            .order_by(Case.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )


def _close_lonely_accounts(session: Session, org_id: int) -> int:
    """Deactivate the accounts whose every membership is in ``org_id`` (operators keep
    theirs: they run the deployment); return how many. Flushes."""
    members = set(session.scalars(select(Membership.user_id).where(Membership.org_id == org_id)))
    elsewhere = set(session.scalars(select(Membership.user_id).where(Membership.org_id != org_id)))
    lonely = sorted(members - elsewhere)
    if not lonely:
        return 0
    result = session.execute(
        update(User)
        .where(User.id.in_(lonely), User.is_operator.is_(False), User.is_active.is_(True))
        .values(is_active=False)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_operator(session: Session, clock: Clock, email: str, *, operator: bool) -> User:
    """Make the account at ``email`` an operator, or no longer one. Commits. Refuses to take
    the role from the last operator (the deployment would have nobody to run it)."""
    with unit_of_work(session):
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None or not user.is_active:
            raise Refused("email", _l("No active account has this address."))
        if not operator and user.is_operator:
            others = session.scalar(
                select(func.count()).where(
                    User.is_operator.is_(True), User.is_active.is_(True), User.id != user.id
                )
            )
            if not others:
                raise Refused("email", _l("This is the last operator: name another one first."))
        user.is_operator = operator
        audit.record(
            session,
            clock,
            action="operator.granted" if operator else "operator.revoked",
            org_id=None,
            actor_user_id=None,
            detail={"user": user.id},
        )
    return user


def set_front_page_list(session: Session, clock: Clock, *, on: bool, actor_id: int | None) -> None:
    """Whether ``/`` lists the deployment's organisations (off by default: a reporter comes
    with their organisation's own address, and the list tells anyone who else is served
    here). Commits."""
    with unit_of_work(session):
        set_lists_organisations(session, on)
        audit.record(
            session,
            clock,
            action="deployment.front_page_list",
            org_id=None,
            actor_user_id=actor_id,
            detail={"on": on},
        )
