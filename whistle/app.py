"""The app factory: ``create_app`` is the only entry point of the web app (config in, app
out, nothing done at import time), and the one place that knows every package's blueprint.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from whistle.core.clock import Clock, SystemClock
from whistle.core.db import make_engine, make_sessionmaker
from whistle.core.key_pins import session_info
from whistle.core.keystore import KeyStore
from whistle.core.runtime import EXTENSION_KEY, Runtime, close_db
from whistle.core.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parent.parent


def create_app(
    config: Mapping[str, Any] | Settings | None = None,
    *,
    instance_path: Path | str | None = None,
    clock: Clock | None = None,
) -> Flask:
    """Build the Flask app.

    ``config`` is either a ready :class:`Settings` or a mapping of overrides applied on top of
    the instance folder and the ``WHISTLE_*`` environment. Bad settings raise
    :class:`whistle.core.settings.SettingsError` with every problem listed.
    """
    if isinstance(config, Settings):
        settings = config
    else:
        settings = load_settings(
            Path(instance_path) if instance_path is not None else None, overrides=config
        )

    app = Flask(
        __name__,
        instance_path=str(settings.instance_path),
        template_folder=str(ROOT / "templates"),
        static_folder="static",
    )
    app.config["SECRET_KEY"] = settings.secret_key
    from whistle.web.uploads import WhistleRequest

    app.request_class = WhistleRequest

    engine = make_engine(settings.database_url)
    keystore = KeyStore(settings.keystore_url)
    app.extensions[EXTENSION_KEY] = Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(
            engine, info={**session_info(settings.instance_path), "keystore": keystore}
        ),
        clock=clock or SystemClock(),
        keystore=keystore,
    )
    app.teardown_appcontext(close_db)

    from whistle.admin import views as admin_views
    from whistle.audit import views as audit_views
    from whistle.cases import views as cases
    from whistle.counsel import views as counsel_views
    from whistle.disclosure import views as disclosure_views
    from whistle.keys import views as certification_views
    from whistle.meetings import views as meeting_views
    from whistle.notices import views as notices_views
    from whistle.operators import views as operator_views
    from whistle.registers import views as registers_views
    from whistle.reporting.views import mailbox, receipt_check
    from whistle.reporting.views import report as reporting
    from whistle.rights import views as rights_views
    from whistle.setup import views as setup
    from whistle.staff import views as staff
    from whistle.statistics import views as statistics_views
    from whistle.web import health, i18n, logs
    from whistle.web import security as web_security
    from whistle.web.access import enforce_login
    from whistle.web.errors import init_errors
    from whistle.web.login import init_login
    from whistle.web.templating import init_templating

    logs.init_logging(app, settings.log_level)
    web_security.init_security(app, settings)
    i18n.init_i18n(app)
    init_login(app)
    init_templating(app)
    init_errors(app)
    app.before_request(enforce_login)
    app.register_blueprint(health.bp)
    app.register_blueprint(setup.bp)
    app.register_blueprint(reporting.bp)
    app.register_blueprint(mailbox.bp)
    app.register_blueprint(receipt_check.bp)
    app.register_blueprint(staff.bp)
    app.register_blueprint(admin_views.bp)
    app.register_blueprint(admin_views.logo_bp)
    app.register_blueprint(cases.bp)
    app.register_blueprint(cases.all_bp)
    app.register_blueprint(meeting_views.bp)
    app.register_blueprint(audit_views.bp)
    app.register_blueprint(registers_views.bp)
    app.register_blueprint(statistics_views.bp)
    app.register_blueprint(rights_views.bp)
    app.register_blueprint(notices_views.bp)
    app.register_blueprint(counsel_views.bp)
    app.register_blueprint(disclosure_views.bp)
    app.register_blueprint(certification_views.bp)
    app.register_blueprint(operator_views.bp)
    return app
