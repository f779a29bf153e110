"""Deadline arithmetic, including month ends (REQUIREMENTS.md D1, D2, D5)."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from whistle.core.deadlines import acknowledge_due, add_months, feedback_due


def test_acknowledgement_is_due_seven_days_after_receipt() -> None:
    assert acknowledge_due(date(2026, 3, 2)) == date(2026, 3, 9)
    assert acknowledge_due(date(2026, 12, 28)) == date(2027, 1, 4)


def test_month_ends_clamp() -> None:
    assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)  # leap year
    assert add_months(date(2026, 8, 31), 1) == date(2026, 9, 30)
    assert add_months(date(2026, 1, 31), 3) == date(2026, 4, 30)
    assert add_months(date(2026, 10, 15), 3) == date(2027, 1, 15)


def test_feedback_counts_from_acknowledgement_or_end_of_seven_days() -> None:
    received = date(2026, 11, 20)
    # Acknowledged on the fourth day: 3 months from the acknowledgement.
    assert feedback_due(received, date(2026, 11, 24)) == date(2027, 2, 24)
    # No acknowledgement: 3 months from the end of the 7-day period (27 November).
    assert feedback_due(received, None) == date(2027, 2, 27)


def test_a_late_acknowledgement_gains_no_time() -> None:
    """D2: the Act counts from the acknowledgement due under § 12(2) no. 1, so acknowledging on
    30 November, three days late, leaves feedback due on 27 February, not 28 February."""
    received = date(2026, 11, 20)
    assert feedback_due(received, date(2026, 11, 30)) == date(2027, 2, 27)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 60))
def test_feedback_is_never_later_than_receipt_seven_days_three_months(
    received: date, ack_after: int
) -> None:
    latest = add_months(acknowledge_due(received), 3)
    assert feedback_due(received, received + timedelta(days=ack_after)) <= latest


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)), st.integers(0, 36))
def test_add_months_lands_in_the_right_month_never_past_it(day: date, months: int) -> None:
    result = add_months(day, months)
    assert (result.year * 12 + result.month) - (day.year * 12 + day.month) == months
    assert result.day <= day.day
    assert result.day == day.day or (result + timedelta(days=1)).day == 1
