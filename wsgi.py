"""WSGI entry point for production: ``gunicorn wsgi:app``."""

from whistle import create_app

app = create_app()
