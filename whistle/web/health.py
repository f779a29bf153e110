"""``/healthz`` for load balancers and monitoring: 200 with the database and the key store
reachable, else 503."""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from whistle.core.keystore_errors import KeyStoreError
from whistle.core.runtime import runtime
from whistle.web.access import public

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
@public
def healthz() -> Response:
    try:
        with runtime().engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable")
        return Response("database unreachable\n", status=503, mimetype="text/plain")
    try:
        runtime().keystore.ping()
    except KeyStoreError:
        log.warning("health check: key store unreachable")
        return Response("key store unreachable\n", status=503, mimetype="text/plain")
    return Response("ok\n", status=200, mimetype="text/plain")
