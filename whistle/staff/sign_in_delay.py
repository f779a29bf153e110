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


def account_key(email: str) -> str:
    """The account as counted: the e-mail address as sign-in looks it up."""
    return email.strip().lower()


def begin(session: Session, secret: bytes, email: str, address: str | None, now: int) -> int:
    """Count one attempt at ``email`` (from ``address``, where a client is known); the seconds
    to wait before trying, 0 when the attempt may go on. Commits."""
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
    session: Session, secret: bytes, email: str, address: str | None, now: int
) -> None:
    """The password was right: its attempt is taken back (the code step still counts)."""
    refund(session, secret, ACCOUNT, account_key(email), now)
    if address is not None:
        refund(session, secret, ADDRESS, address, now)


def signed_in(session: Session, secret: bytes, email: str, address: str | None, now: int) -> None:
    """A complete sign-in: the account's count starts again."""
    forget(session, secret, ACCOUNT, account_key(email))
    if address is not None:
        refund(session, secret, ADDRESS, address, now)
