"""gunicorn's configuration module: ``gunicorn -c python:whistle.serving.gunicorn_conf wsgi:app``.

gunicorn reads this module's top-level names. They come from the instance's settings
(``WHISTLE_INSTANCE``), and why each is chosen is in whistle/serving/gunicorn_options.py.
Importing it reads the instance folder, so nothing else imports it.
"""

from __future__ import annotations

from whistle.core.settings import load_settings
from whistle.serving.gunicorn_options import options

globals().update(options(load_settings()))
