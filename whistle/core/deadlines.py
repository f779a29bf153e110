"""The legal deadlines of a case (REQUIREMENTS.md D1, D2, D5).

- Acknowledge within 7 days of receipt (Act § 12(2) no. 1; Directive art. 9(1)(b)).
- Feedback at the latest 3 months after the acknowledgement, or, where none was sent, 3
  months after the 7-day period ended (Act § 12(2) no. 3; Directive art. 9(1)(f)).
- Month arithmetic clamps at month ends: 30 November + 3 months is 28 or 29 February.

Internal schemes get no extension, so nothing here postpones a deadline.
"""

from __future__ import annotations

import calendar
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

    Counted from the acknowledgement when one was sent within or after the 7 days; from the end
    of the 7-day period when none was sent.
    """
    start = acknowledged_on if acknowledged_on is not None else acknowledge_due(received_on)
    return add_months(start, FEEDBACK_MONTHS)
