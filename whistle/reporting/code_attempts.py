"""Case-code attempts: what a guesser pays, and why a reporter with the right code still gets in.

A case code is 20 symbols: a 20-bit lookup part and an 80-bit secret part (crypto/case_codes.py,
DESIGN.md). Guessing one blind means guessing 100 bits; even someone who knows a lookup part
(their own case's) must guess 80. Online, that is hopeless at any rate a web server answers:
a million addresses at the rate below make 2 * 10^7 guesses an hour, against 2^80 = 1.2 *
10^24 codes: 6 * 10^16 hours. So the limits are not what keeps codes secret; they keep the
server's work bounded (each guess whose lookup part matches a case costs an Argon2id
derivation, 64 MiB) and they must never keep a reporter out of their own case. The old global
limit did: 600 wrong codes from anywhere in 15 minutes refused every reporter of every
organisation, their right code included.

The numbers, counted in the database for every app process (whistle/core/throttle.py):

* **Per address** (an IPv4 address, or an IPv6 /64, what one household or host gets):
  :data:`ADDRESS` allows 5 attempts in an hour, then each further one must wait 2 s, doubling
  (4, 8, ... s) up to 10 minutes: about 20 attempts an hour from one address. A right code is
  taken back (:func:`right`): it never brings a wait closer, and it lifts the wait its own
  attempt set, so a reporter who opens their case often never waits.
* **Per organisation**: wrong codes are counted over :data:`ORGANISATION`'s 15 minutes. From
  :data:`UNDER_ATTACK` = 50 of them (no honest use comes near: a mistyped code is a handful),
  the organisation is *under attack*, and every address meets :data:`ADDRESS_UNDER_ATTACK`:
  one attempt, then 30 s doubling up to 10 minutes (about 10 an hour). Nothing is refused for
  the organisation as a whole: an address that has not guessed gets its first attempt at once,
  so a reporter with the right code gets in at once during any attack; one who mistypes first
  waits 30 seconds, is told so on a page that keeps what they typed, and gets in then.

The attack from the issue (1,400 wrong codes from 70 addresses in 26 s) so gets about 350
answered, puts the organisation under attack after 50, and keeps no reporter out.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from whistle.core.throttle import Policy, Verdict, attempt, hits_in_window, refund

ADDRESS = Policy("code.address", free=5, window=3600, base=2, cap=600)
ADDRESS_UNDER_ATTACK = Policy("code.address", free=1, window=3600, base=30, cap=600)
# Counted only, never waited on (the huge ``free``): a count of an organisation is never
# a reason to refuse anyone.
ORGANISATION = Policy("code.organisation", free=2**30, window=15 * 60)
UNDER_ATTACK = 50


def under_attack(session: Session, secret: bytes, org_id: int, now: int) -> bool:
    """Whether ``org_id`` has met :data:`UNDER_ATTACK` wrong codes in its current window."""
    return hits_in_window(session, secret, ORGANISATION, str(org_id), now) >= UNDER_ATTACK


def begin(session: Session, secret: bytes, org_id: int, address: str, now: int) -> Verdict:
    """Count one attempt from ``address`` at ``org_id``'s codes, or say how long it must
    wait (then the code is not looked at). Commits."""
    policy = ADDRESS_UNDER_ATTACK if under_attack(session, secret, org_id, now) else ADDRESS
    return attempt(session, secret, policy, address, now)


def wrong(session: Session, secret: bytes, org_id: int, now: int) -> None:
    """A wrong code for ``org_id``: counted towards its being under attack. Commits."""
    attempt(session, secret, ORGANISATION, str(org_id), now)


def right(session: Session, secret: bytes, address: str, now: int) -> None:
    """A right code: its attempt is taken back (module docstring). Commits."""
    refund(session, secret, ADDRESS, address, now)
