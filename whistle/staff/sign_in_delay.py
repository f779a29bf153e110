"""Staff sign-in: a wait that grows with each failure, instead of a lockout.

Five wrong passwords used to pause an account for 15 minutes: anyone who knew a colleague's
e-mail address could keep the unit out of its cases, and the "paused" answer (given only for
real accounts) told which addresses had one. Now failures are counted in the database
(whistle/core/throttle.py), for every app process, in two ways:

* **Per account** (the e-mail address as typed, normalised, whether or not an account has it,
  so the answers tell nothing about which addresses exist): :data:`ACCOUNT`, 5 attempts, then
  15 s before the next, doubling (30 s, 1 min, 2 min, ...) up to 15 minutes; counted over a
  day. Someone guessing one account's password from anywhere gets about 100 tries a day:
  nothing against a password the policy accepts (whistle/staff/passwords.py: zxcvbn's
  10^10 guesses at the least).
* **Per address** (:data:`ADDRESS`): 20 attempts in an hour, then the same doubling: one
  client trying many accounts.

* **Per known browser** (:data:`DEVICE`): a browser that has signed in to the account in full
  before carries a signed cookie saying so (whistle/staff/views/known_device.py). Its attempts
  are counted on their own, 5 then the same doubling, and not in the account's or the
  address's count: however long someone else guesses the account's password, from anywhere
  (a colleague behind the same office address included), its owner's own browser signs in
  without waiting. Only a full sign-in (password and code) earns the cookie.

A wait ends; the form says in words when it does, the same words for every address typed.
Both steps count (a password, then a TOTP code, so that knowing the password buys no free
code guesses); a right password is taken back (:func:`password_right`), and a complete sign-in
clears the account's count (:func:`signed_in`). The pages that check a password of someone
signed in or invited (password change, invitation acceptance) count against the account too.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from whistle.core.throttle import Policy, attempt, forget, refund

ACCOUNT = Policy("sign_in.account", free=5, window=24 * 3600, base=15, cap=15 * 60)
ADDRESS = Policy("sign_in.address", free=20, window=3600, base=15, cap=15 * 60)
DEVICE = Policy("sign_in.device", free=5, window=24 * 3600, base=15, cap=15 * 60)


def account_key(email: str) -> str:
    """The account as counted: the e-mail address as sign-in looks it up."""
    return email.strip().lower()


def device_key(email: str, device: str) -> str:
    """A known browser of an account, as counted."""
    return f"{account_key(email)}\n{device}"


def begin(
    session: Session,
    secret: bytes,
    email: str,
    address: str | None,
    now: int,
    device: str | None = None,
) -> int:
    """Count one attempt at ``email`` (from ``address``, where a client is known; from the
    known browser ``device`` of this account, if the request proved one); the seconds to wait
    before trying, 0 when the attempt may go on. Commits."""
    if device is not None:
        known = attempt(session, secret, DEVICE, device_key(email, device), now)
        return 0 if known.allowed else max(1, known.wait_seconds(now))
    account = attempt(session, secret, ACCOUNT, account_key(email), now)
    if not account.allowed:
        return max(1, account.wait_seconds(now))
    if address is None:
        return 0
    client = attempt(session, secret, ADDRESS, address, now)
    if not client.allowed:
        # Nothing was checked: the account's attempt is given back.
        refund(session, secret, ACCOUNT, account_key(email), now)
        return max(1, client.wait_seconds(now))
    return 0


def password_right(
    session: Session,
    secret: bytes,
    email: str,
    address: str | None,
    now: int,
    device: str | None = None,
) -> None:
    """The password was right: its attempt is taken back (the code step still counts)."""
    if device is not None:
        refund(session, secret, DEVICE, device_key(email, device), now)
        return
    refund(session, secret, ACCOUNT, account_key(email), now)
    if address is not None:
        refund(session, secret, ADDRESS, address, now)


def signed_in(
    session: Session,
    secret: bytes,
    email: str,
    address: str | None,
    now: int,
    device: str | None = None,
) -> None:
    """A complete sign-in: the count it was made under starts again (from a known browser,
    that browser's only: someone guessing elsewhere keeps their wait)."""
    if device is not None:
        forget(session, secret, DEVICE, device_key(email, device))
        return
    forget(session, secret, ACCOUNT, account_key(email))
    if address is not None:
        refund(session, secret, ADDRESS, address, now)
