"""Fixtures of the attacker suites: the world of every role."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.steps.authorisation import World, build_world
from whistle.core.clock import FixedClock


@pytest.fixture
def world(app: Flask, session: Session, clock: FixedClock) -> World:
    """Every staff role signed in, a real case and more (tests/steps/authorisation.py)."""
    return build_world(app, session, clock)
