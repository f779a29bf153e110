"""/healthz: 200 with the database reachable, 503 otherwise."""

from __future__ import annotations

from pathlib import Path

from flask.testing import FlaskClient

from whistle.app import create_app
from whistle.core.runtime import runtime


def test_healthy_with_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_data(as_text=True) == "ok\n"


def test_unavailable_without_database(instance_path: Path) -> None:
    app = create_app(
        {"database_url": "postgresql://nobody@127.0.0.1:1/none", "argon2_profile": "test"},
        instance_path=instance_path,
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert "nobody" not in response.get_data(as_text=True)
    runtime(app).engine.dispose()
