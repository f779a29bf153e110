"""Claims on outbox rows, so that ``whistle notify send`` may run on every machine at once and
still send each mail at most once (issue 18).

A run sends a mail in four steps (whistle/notify/sending.py, :func:`send_pending`):

1. it picks the next ready row that nobody has claimed and locks it (PostgreSQL:
   ``FOR UPDATE SKIP LOCKED``, so a run at the same moment skips it; SQLite: the transaction
   begins as the database's one writer) and composes the mail;
2. it *claims* the row, ``claimed_by`` its own name (:func:`claimant`) and ``claimed_at`` the
   time, and commits: from now on no run picks the row;
3. it hands the mail to the server with no transaction open;
4. it records the outcome (sent, or a failed attempt) and clears the claim, only while it
   still holds it (:func:`held_by`).

**At most once, not at least once.** A run killed between 2 and 4 (a crash, a reboot, the
timer's timeout) leaves its claim, and nobody can know whether the server took the mail. The
next run gives such a claim up once it is older than :data:`CLAIM_TIMEOUT`
(:func:`give_up_interrupted`): the mail counts as failed, with ``last_error`` ``Interrupted``,
and is never sent again. We chose that because a second copy of a mail is not harmless here
(a handler's or a reporter's mailbox may be read by others, and "a second mail about case X"
says that something happened twice), while a lost notice is made good elsewhere: the inbox
shows the case at once, and ``notify deadlines`` reminds of its deadlines. The price is that
a notice whose run died mid-hand-over is lost; the operator sees it in the failed count.

It is not "exactly once" either: a server that takes a mail and then breaks the connection
before saying so looks like a failed attempt, and the mail is tried again on a later run;
SMTP cannot tell that case apart.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, update
from sqlalchemy.orm import Session

from whistle.core.db import unit_of_work
from whistle.core.joblock import begin_writing, rows_changed
from whistle.core.models import OutboxMail

# A claim older than this belongs to a run that stopped while handing the mail over: a send
# takes seconds, each SMTP step times out after ``smtp_timeout`` (30 s by default).
CLAIM_TIMEOUT = timedelta(hours=1)
INTERRUPTED = "Interrupted"  # the ``last_error`` of a mail given up that way


def claimant() -> str:
    """A name for one sending run, unique among every machine's: process, a random part and
    the host (which tells an operator where a stale claim came from)."""
    return f"{os.getpid()}-{secrets.token_hex(6)}@{socket.gethostname()}"[:64]


def held_by(row_id: int, claimed_by: str) -> ColumnElement[bool]:
    """The row ``row_id``, while ``claimed_by`` still holds it."""
    return and_(OutboxMail.id == row_id, OutboxMail.claimed_by == claimed_by)


def give_up_interrupted(
    session: Session, now: datetime, *, max_attempts: int, deleted_kinds: Collection[str]
) -> int:
    """Give up every mail whose claim is older than :data:`CLAIM_TIMEOUT`; commit and return
    how many. A row of ``deleted_kinds`` is deleted, as after its last failed attempt; any
    other keeps its row, with ``max_attempts`` attempts (never ready again) and ``last_error``
    :data:`INTERRUPTED`. Never sends anything."""
    stale = and_(
        OutboxMail.claimed_at < now - CLAIM_TIMEOUT,
        OutboxMail.sent_at.is_(None),
        OutboxMail.attempts < max_attempts,
    )
    deleted = OutboxMail.kind.in_(sorted(deleted_kinds))
    with unit_of_work(session):
        begin_writing(session)
        given_up = rows_changed(session.execute(delete(OutboxMail).where(stale, deleted)))
        # The claim stays: a run that was only slow may still record its mail as sent.
        given_up += rows_changed(
            session.execute(
                update(OutboxMail)
                .where(stale, ~deleted)
                .values(attempts=max_attempts, last_error=INTERRUPTED)
            )
        )
    return given_up
