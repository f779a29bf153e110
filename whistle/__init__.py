"""Whistle: a self-hosted whistleblower reporting system.

The app factory is :func:`whistle.app.create_app`; the ``whistle`` command is
:mod:`whistle.cli`. The map of the packages is in ``docs/development.md``.
"""
