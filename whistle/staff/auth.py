"""Staff sign-in: password, then a TOTP code; key pairs; password change.

Who may do what is decided by memberships (whistle/core/models.py ``Role``); this module only
establishes who someone is and unlocks their private key:

- The password is checked against an Argon2id hash, and the same password unwraps the
  user's HPKE private key (a separate Argon2id derivation, crypto/keypairs.py). The unwrapped
  key leaves this module only to be put in the server-side vault (whistle/core/vault.py).
- Every user must pass a TOTP code. Until their authenticator is enrolled, a correct
  password leads only to enrolment, never into the application.
- Attempts count per account and per client address, in the database so every app process
  sees them (whistle/staff/sign_in_delay.py): after a few failures each attempt must wait,
  longer each time, never for good, and the form says until when. Unknown addresses are
  counted, cost the same Argon2id work and get the same answers as known ones, so the form
  does not tell which addresses have accounts.
- A TOTP code signs in once: the step it was valid for is stored under a primary key in the
  same transaction as the sign-in (``used_totp_steps``), so two sessions racing with one code
  cannot both get in; the database, not a check, decides.
- Handlers, unit leads and counsel hold a key pair. It is created from the password when the
  invitee sets it (whistle/staff/invitations.py), or at the first sign-in after such a role was
  added to an existing user.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from crypto import (
    Argon2Params,
    OpenError,
    PrivateKey,
    PublicKey,
    needs_rewrap,
    rewrap_private_key,
    unwrap_private_key,
    wrap_private_key,
)
from whistle.core import audit
from whistle.core.clock import Clock
from whistle.core.dates import ShownWait
from whistle.core.db import unit_of_work
from whistle.core.models import Membership, Role, UsedTotpStep, User, WebSession
from whistle.core.refusals import Refused
from whistle.core.throttle import seconds
from whistle.keys.warnings import warn_key_mismatch
from whistle.staff import sign_in_delay, totp
from whistle.staff.passwords import (
    PasswordMatch,
    PasswordRejected,
    check_password_hash,
    check_policy,
    hash_password,
    nfc,
    rehash_password,
    verify_password,
)

KEY_ROLES = frozenset({Role.HANDLER, Role.LEAD, Role.COUNSEL})


@functools.cache
def dummy_hash(params: Argon2Params) -> str:
    """Verified when the address is unknown, so that both answers take the same time."""
    return hash_password("not a password of anyone", params)


class SignInRefused(Exception):
    """Wrong address, password or code; ``wait`` (seconds) when nothing was checked because
    the account or the client must wait first; ``key_mismatch`` when the password was right
    but the private key it unlocked is not the one whose public half is stored (see
    :func:`check_password`)."""

    def __init__(self, *, wait: int = 0, key_mismatch: bool = False) -> None:
        self.wait = wait
        self.key_mismatch = key_mismatch
        super().__init__("sign-in refused")


@dataclass(frozen=True, repr=False)
class PasswordChecked:
    """The first factor passed: the user, and their private key if they hold one."""

    user: User
    private_key: PrivateKey | None  # SECRET

    def __repr__(self) -> str:
        return f"PasswordChecked(user_id={self.user.id})"


def roles_of(session: Session, user_id: int) -> set[Role]:
    """Every role the user holds, in any organisation."""
    return {
        Role(r)
        for r in session.scalars(select(Membership.role).where(Membership.user_id == user_id))
    }


def record_failure(session: Session, clock: Clock, user: User, step: str) -> None:
    """Audit a failed password or code of ``user`` (the count that makes the next attempt
    wait is :mod:`whistle.staff.sign_in_delay`'s). Commits."""
    with unit_of_work(session):
        audit.record(
            session,
            clock,
            action="user.sign_in_failed",
            org_id=None,
            actor_user_id=user.id,
            detail={"step": step},
        )


def check_password(
    session: Session,
    clock: Clock,
    email: str,
    password: str,
    *,
    argon2: Argon2Params,
    throttle_key: bytes,
    address: str | None,
    device: str | None = None,
) -> PasswordChecked:
    """First factor, counted per account and per client ``address``, or per known browser
    ``device`` of this account (whistle/staff/sign_in_delay.py): :class:`SignInRefused` with
    ``wait`` set, before anything is checked, while either must wait. Otherwise
    :func:`unlock`. Commits."""
    now = seconds(clock.now())
    wait = sign_in_delay.begin(session, throttle_key, email, address, now, device)
    if wait:
        raise SignInRefused(wait=wait)
    checked = unlock(session, clock, email, password, argon2=argon2)
    sign_in_delay.password_right(session, throttle_key, email, address, now, device)
    return checked


def unlock(
    session: Session, clock: Clock, email: str, password: str, *, argon2: Argon2Params
) -> PasswordChecked:
    """The password check itself, not counted: callers count (:func:`check_password`, the
    invitation page). Unwraps (or, for a new key role, creates) the private key. Commits.

    Raises :class:`SignInRefused` for an unknown address, a wrong password or an inactive
    account, always after the same work.
    """
    with unit_of_work(session):
        user = session.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            verify_password(dummy_hash(argon2), password)
            raise SignInRefused
        match = check_password_hash(user.password_hash, password)
        if match is PasswordMatch.WRONG or not user.is_active:
            record_failure(session, clock, user, "password")
            raise SignInRefused
        if match is PasswordMatch.RIGHT_REHASH:
            user.password_hash = rehash_password(user.password_hash, password, argon2)
        private_key = None
        if user.wrapped_private_key is not None:
            try:
                private_key = unwrap_private_key(user.wrapped_private_key, password)
            except OpenError:
                # The hash matched but the key did not open: the two are out of step, which only
                # tampering or a bug can cause. Refuse rather than sign in without the key.
                record_failure(session, clock, user, "password")
                raise SignInRefused from None
            if not _matches(private_key, user.public_key):
                # The stored public key is not this private key's: someone replaced it (every new
                # case would be sealed to their key) or the row was damaged. Refuse, audit and warn
                # the unit leads. Only said after a right password, so it is no guessing oracle.
                warn_key_mismatch(session, clock, user)
                raise SignInRefused(key_mismatch=True)
            if needs_rewrap(user.wrapped_private_key, argon2):
                user.wrapped_private_key = wrap_private_key(private_key, password, argon2)
        elif roles_of(session, user.id) & KEY_ROLES:
            private_key = PrivateKey.generate()
            user.public_key = private_key.public_key().to_bytes()
            user.wrapped_private_key = wrap_private_key(private_key, password, argon2)
    return PasswordChecked(user=user, private_key=private_key)


def _matches(private_key: PrivateKey, stored: bytes | None) -> bool:
    if stored is None:
        return False
    try:
        return private_key.public_key() == PublicKey.from_bytes(stored)
    except OpenError:
        return False


def is_enrolled(user: User) -> bool:
    return user.totp_secret is not None and user.totp_confirmed_at is not None


def start_enrolment(session: Session, user: User, *, instance_key: bytes) -> bytes:
    """A fresh pending TOTP secret for ``user`` (replacing any pending one). Commits."""
    with unit_of_work(session):
        if is_enrolled(user):
            raise ValueError("already enrolled")
        secret = totp.new_secret()
        user.totp_secret = totp.seal_secret(secret, instance_key, user.id)
        user.totp_last_step = None
    return secret


def pending_secret(user: User, *, instance_key: bytes) -> bytes | None:
    """The secret being enrolled (shown as a QR code), or None."""
    if user.totp_secret is None or user.totp_confirmed_at is not None:
        return None
    return totp.open_secret(user.totp_secret, instance_key, user.id)


def check_code(
    session: Session,
    clock: Clock,
    user: User,
    code: str,
    *,
    instance_key: bytes,
    throttle_key: bytes,
    address: str | None,
    device: str | None = None,
) -> None:
    """Second factor (also confirms a pending enrolment), counted like the password
    (:func:`check_password`). Commits.

    Raises :class:`SignInRefused` for a wrong, reused or expired code (``wait`` set when
    nothing was checked). A code is used once: its step goes into ``used_totp_steps`` in the
    same transaction as the sign-in, so of two sessions sending it at once, the database lets
    one commit and the other is refused.
    """
    seconds_now = seconds(clock.now())
    wait = sign_in_delay.begin(session, throttle_key, user.email, address, seconds_now, device)
    if wait:
        raise SignInRefused(wait=wait)
    try:
        _accept_code(session, clock, user, code, instance_key=instance_key)
    except IntegrityError:
        # The other session committed this step first: this one is a replay.
        raise SignInRefused from None
    sign_in_delay.signed_in(session, throttle_key, user.email, address, seconds_now, device)


def _accept_code(
    session: Session, clock: Clock, user: User, code: str, *, instance_key: bytes
) -> None:
    with unit_of_work(session):
        now = clock.now()
        session.refresh(user)
        if user.totp_secret is None or not user.is_active:
            raise SignInRefused
        secret = totp.open_secret(user.totp_secret, instance_key, user.id)
        accepted = (
            totp.check_code(secret, code, now, last_step=user.totp_last_step) if secret else None
        )
        if accepted is None:
            record_failure(session, clock, user, "code")
            raise SignInRefused
        session.add(UsedTotpStep(user_id=user.id, step=accepted.step))
        # Steps before the drift window can never be accepted again: their rows go.
        session.execute(
            delete(UsedTotpStep).where(
                UsedTotpStep.user_id == user.id,
                UsedTotpStep.step < accepted.step - 2 * totp.DRIFT_STEPS,
            )
        )
        session.flush()
        user.totp_last_step = accepted.step
        if user.totp_confirmed_at is None:
            user.totp_confirmed_at = now
            audit.record(
                session, clock, action="user.two_step_enrolled", org_id=None, actor_user_id=user.id
            )
        audit.record(session, clock, action="user.signed_in", org_id=None, actor_user_id=user.id)


def record_sign_out(session: Session, clock: Clock, user: User) -> None:
    """Write the audit entry of ``user`` signing out, and commit."""
    with unit_of_work(session):
        audit.record(session, clock, action="user.signed_out", org_id=None, actor_user_id=user.id)


def acknowledge_confidentiality(session: Session, clock: Clock, user: User) -> None:
    """Record the confidentiality undertaking (REQUIREMENTS.md K4). Commits."""
    with unit_of_work(session):
        if user.confidentiality_ack_at is None:
            user.confidentiality_ack_at = clock.now()
            audit.record(
                session,
                clock,
                action="user.confidentiality_accepted",
                org_id=None,
                actor_user_id=user.id,
            )


def change_password(
    session: Session,
    clock: Clock,
    user: User,
    current: str,
    new: str,
    *,
    argon2: Argon2Params,
    throttle_key: bytes,
    keep_session_id: int | None = None,
    organisation: Sequence[str] = (),
) -> None:
    """Replace the password; the private key is rewrapped, no case is re-encrypted. Commits.

    Every other session of the user ends: whoever knew the old password is signed out.
    ``organisation`` (the names of the user's organisations): more words the new password
    must not be built on.
    """
    # Someone at an unattended, signed-in computer must not get unlimited guesses at the
    # password here either: attempts count against the account like sign-in attempts.
    wait = sign_in_delay.begin(session, throttle_key, user.email, None, seconds(clock.now()))
    if wait:
        raise Refused("current", wait_message(wait))
    with unit_of_work(session):
        now = clock.now()
        if not verify_password(user.password_hash, current):
            record_failure(session, clock, user, "password_change")
            raise Refused("current", _l("This is not your current password."))
        if nfc(new) == nfc(current):
            raise Refused("new", _l("Choose a password different from the current one."))
        try:
            check_policy(new, email=user.email, name=user.display_name, organisation=organisation)
        except PasswordRejected as exc:
            raise Refused("new", exc.message) from None
        if user.wrapped_private_key is not None:
            try:
                user.wrapped_private_key = rewrap_private_key(
                    user.wrapped_private_key, current, new, argon2
                )
            except OpenError:
                raise Refused("current", _l("This is not your current password.")) from None
        user.password_hash = rehash_password(user.password_hash, new, argon2)
        user.password_changed_at = now
        others = delete(WebSession).where(WebSession.user_id == user.id)
        if keep_session_id is not None:
            others = others.where(WebSession.id != keep_session_id)
        session.execute(others)
        audit.record(
            session, clock, action="user.password_changed", org_id=None, actor_user_id=user.id
        )


def wait_message(wait: int) -> object:
    """The answer while an account or a client must wait: the same words whether the account
    exists or not."""
    return _l(
        "Too many failed attempts. Nothing was checked: try again in %(wait)s.",
        wait=ShownWait(wait),
    )
