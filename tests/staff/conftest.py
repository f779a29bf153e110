"""Fixtures of the staff suites: a deployment with mail set up."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from tests.steps.smtp_stub import SmtpReceiver
from whistle.app import create_app
from whistle.core.clock import FixedClock
from whistle.core.runtime import runtime


@pytest.fixture
def mail_app(
    app_config: dict[str, Any], instance_path: Path, clock: FixedClock, smtp_server: SmtpReceiver
) -> Iterator[Flask]:
    config = {
        **app_config,
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_server.port,
        "smtp_security": "none",
        "smtp_from": "whistle@testfirma.example.org",
        "smtp_timeout": 5,
    }
    application = create_app(config, instance_path=instance_path, clock=clock)
    application.config["TESTING"] = True
    yield application
    runtime(application).engine.dispose()
