"""Where a case stands: its stages (received, acknowledged, investigating, feedback given,
closed) and the next legal step, which the case page shows above everything else.

Pure: it reads the case's clear-text dates and status only, so the inbox and the case page can
ask it without opening a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from whistle.cases.inbox import deadlines_of
from whistle.core.deadlines import Due, feedback_due, next_open
from whistle.core.models import Case, CaseStatus

RECEIVED, ACKNOWLEDGED, INVESTIGATING, FEEDBACK, CLOSED = (
    "received",
    "acknowledged",
    "investigating",
    "feedback",
    "closed",
)
STAGES = (RECEIVED, ACKNOWLEDGED, INVESTIGATING, FEEDBACK, CLOSED)

# The next step a case asks for: acknowledge it, give feedback, close it, or none (closed).
ACKNOWLEDGE, GIVE_FEEDBACK, CLOSE, NONE = "acknowledge", "feedback", "close", "none"


@dataclass(frozen=True)
class Stage:
    name: str  # one of STAGES
    state: str  # "done", "current" or "todo" (the class of ``<li class="stage ...">``)
    day: date | None  # when it was reached, if it was


@dataclass(frozen=True)
class Progress:
    stages: list[Stage]
    next_step: str  # ACKNOWLEDGE, GIVE_FEEDBACK, CLOSE or NONE
    due: Due | None  # the deadline of the next step, if the law sets one
    acknowledgement: Due
    feedback: Due
    # Until receipt is acknowledged: the feedback deadline an acknowledgement sent today sets
    # (earlier than ``feedback.day`` when sent within the 7 days, D2).
    feedback_if_acknowledged_today: date | None


def progress(case: Case, today: date) -> Progress:
    """The stages of ``case`` and its next step, as of ``today``."""
    closed = case.status == CaseStatus.CLOSED
    reached = {
        RECEIVED: (True, case.received_on),
        ACKNOWLEDGED: (case.acknowledged_on is not None, case.acknowledged_on),
        INVESTIGATING: (case.feedback_on is not None or closed, None),
        FEEDBACK: (case.feedback_on is not None, case.feedback_on),
        CLOSED: (closed, case.closed_on if closed else None),
    }
    stages, current_found = [], closed
    for name in STAGES:
        done, day = reached[name]
        if done:
            state = "done"
        elif not current_found:
            state, current_found = "current", True
        else:
            state = "todo"
        stages.append(Stage(name, state, day))
    acknowledgement, feedback = deadlines_of(case, today)
    if closed:
        step = NONE
    elif case.acknowledged_on is None:
        step = ACKNOWLEDGE
    elif case.feedback_on is None:
        step = GIVE_FEEDBACK
    else:
        step = CLOSE
    return Progress(
        stages=stages,
        next_step=step,
        due=next_open((acknowledgement, feedback)),
        acknowledgement=acknowledgement,
        feedback=feedback,
        feedback_if_acknowledged_today=(
            feedback_due(case.received_on, today) if case.acknowledged_on is None else None
        ),
    )
