"""The legal deadlines of a case (REQUIREMENTS.md D1, D2, D5).

- Acknowledge within 7 days of receipt (Act § 12(2) no. 1; Directive art. 9(1)(b)).
- Feedback at the latest 3 months after the acknowledgement, or, where none was sent, 3
  months after the 7-day period ended (Act § 12(2) no. 3; Directive art. 9(1)(f)). The Act
  counts from the acknowledgement due under no. 1, so a late acknowledgement never moves the
  deadline: it is never later than receipt + 7 days + 3 months.
- Month arithmetic clamps at month ends: 30 November + 3 months is 28 or 29 February.

Internal schemes get no extension, so nothing here postpones a deadline.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta

ACKNOWLEDGE_DAYS = 7
FEEDBACK_MONTHS = 3


def add_months(day: date, months: int) -> date:
    """``day`` plus ``months`` calendar months, clamped to the last day of the target month."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    last = calendar.monthrange(year, month)[1]
    return date(year, month, min(day.day, last))


def acknowledge_due(received_on: date) -> date:
    """The last day on which the acknowledgement is on time."""
    return received_on + timedelta(days=ACKNOWLEDGE_DAYS)


def feedback_due(received_on: date, acknowledged_on: date | None) -> date:
    """The last day on which feedback is on time.

    Counted from the acknowledgement when one was sent within the 7 days; from the end of the
    7-day period when none was sent or it was sent late (a late acknowledgement gains no time).
    """
    start = acknowledge_due(received_on)
    if acknowledged_on is not None:
        start = min(start, acknowledged_on)
    return add_months(start, FEEDBACK_MONTHS)


# A deadline counts as "soon" this many days before it falls: two days of the seven for the
# acknowledgement, two weeks of the three months for the feedback.
ACK_WARN_DAYS = 2
FEEDBACK_WARN_DAYS = 14

ACKNOWLEDGEMENT = "acknowledgement"
FEEDBACK = "feedback"
# What a deadline's badge says, from the most to the least pressing (the class names of
# ``<span class="badge ...">``): passed, close, ahead, met, or ended unmet by the closure.
OVERDUE, SOON, OK, DONE, CLOSED = "overdue", "soon", "ok", "done", "closed"


@dataclass(frozen=True)
class Due:
    """One legal deadline of a case as a person reads it on a given day."""

    kind: str  # ACKNOWLEDGEMENT or FEEDBACK
    day: date  # the last day on time
    state: str  # OVERDUE, SOON, OK, DONE or CLOSED
    days_left: int  # days from today to ``day``; negative once it has passed
    done_on: date | None = None  # when the act was done (state DONE)

    @property
    def days_overdue(self) -> int:
        return max(0, -self.days_left)

    @property
    def open(self) -> bool:
        return self.state in (OVERDUE, SOON, OK)


def due(kind: str, day: date, done_on: date | None, closed: bool, today: date) -> Due:
    """The state of the deadline ``kind`` falling on ``day`` (met on ``done_on``, if it was)."""
    left = (day - today).days
    if done_on is not None:
        return Due(kind, day, DONE, left, done_on)
    if closed:
        return Due(kind, day, CLOSED, left)
    warn = ACK_WARN_DAYS if kind == ACKNOWLEDGEMENT else FEEDBACK_WARN_DAYS
    state = OVERDUE if left < 0 else SOON if left <= warn else OK
    return Due(kind, day, state, left)


def case_deadlines(
    *,
    closed: bool,
    acknowledge_due: date,
    acknowledged_on: date | None,
    feedback_due: date,
    feedback_on: date | None,
    today: date,
) -> tuple[Due, Due]:
    """The acknowledgement's and the feedback's deadline of a case, on ``today``."""
    return (
        due(ACKNOWLEDGEMENT, acknowledge_due, acknowledged_on, closed, today),
        due(FEEDBACK, feedback_due, feedback_on, closed, today),
    )


def next_open(deadlines: tuple[Due, ...]) -> Due | None:
    """The deadline that falls first of those still open (None when none is)."""
    running = [d for d in deadlines if d.open]
    return min(running, key=lambda d: d.day) if running else None


# The status of a closed case (whistle/core/models.py ``CaseStatus.CLOSED``; this module is a leaf).
CLOSED_STATUS = "closed"
# A case with no deadline running ranks after every day a deadline can fall on.
NO_DEADLINE_RANK = 2 * date.max.toordinal() + 1


def due_rank(
    status: str,
    received_on: date,
    acknowledge_due: date,
    acknowledged_on: date | None,
    feedback_due: date,
    feedback_on: date | None,
) -> int:
    """Where a case stands in the inbox's "what is due first" order, as one number.

    A case with an open deadline (the acknowledgement while none was sent, then the feedback
    while none was given, until the case is closed) ranks by that deadline's day, the nearest
    first; a case with none running ranks after all of them, the most recently received first.
    Ties go by id.
    """
    if status != CLOSED_STATUS and acknowledged_on is None:
        return acknowledge_due.toordinal()
    if status != CLOSED_STATUS and feedback_on is None:
        return feedback_due.toordinal()
    return NO_DEADLINE_RANK - received_on.toordinal()
