"""WSGI entry point for production: ``gunicorn wsgi:app``."""

from whistle.app import create_app

app = create_app()
