"""The admin console: people, the organisation's profile and texts, categories, the reporting
channel, retention, mail, and the record of processing (GDPR art. 30).

An administrator manages people and settings and never reads a case: nothing here opens a
case key, a message or an identity. Every change is written to the audit log with
identifiers only (whistle/core/audit.py).

- :mod:`whistle.admin.people`: roles, deactivation, resetting two-step sign-in.
- :mod:`whistle.admin.overview`: what the console's start page says is set up.
- The settings, a module each: :mod:`~whistle.admin.profile` (name and language),
  :mod:`~whistle.admin.logo`, :mod:`~whistle.admin.texts` (the texts reporters read),
  :mod:`~whistle.admin.categories`, :mod:`~whistle.admin.channel` (anonymous reports, who may
  report), :mod:`~whistle.admin.uploads` (upload limits),
  :mod:`~whistle.admin.retention_presets` and :mod:`~whistle.admin.mail_server`; those kept
  as key and value go through :mod:`~whistle.admin.org_settings`.
- :mod:`whistle.admin.record`: the record of processing, generated from the settings.
- :mod:`whistle.admin.views`: the pages (blueprint ``admin``, ``/staff/<slug>/admin``), a
  module per page, with :mod:`whistle.admin.views.console` holding the blueprint and the page
  frame they share.

A change an administrator makes is a unit of work: the domain function the page calls
commits it (:func:`whistle.core.db.unit_of_work`); the views never commit.
"""
