"""The admin console: people, the organisation's profile and texts, categories, the reporting
channel, retention, mail, and the record of processing (GDPR art. 30).

An administrator manages people and settings and never reads a case: nothing here opens a
case key, a message or an identity. Every change is written to the audit log with
identifiers only (whistle/core/audit.py).

- :mod:`whistle.admin.people`: roles, deactivation, resetting two-step sign-in.
- :mod:`whistle.admin.scheme`: profile, logo, texts, categories, reporting channel, uploads,
  retention, mail.
- :mod:`whistle.admin.record`: the record of processing, generated from the settings.
- :mod:`whistle.admin.views`: the pages (blueprint ``admin``, ``/staff/<slug>/admin``), made
  of :mod:`whistle.admin.views.people` (the People page) and
  :mod:`whistle.admin.views.settings` (the settings pages and the art. 30 record), with
  :mod:`whistle.admin.views.console` holding the blueprint and the page frame they share.
"""
