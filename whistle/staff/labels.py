"""Names a person reads for staff roles: the admin console, the sign-in pages and the key pages
(a leaf: it imports only core)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from whistle.core.models import Role

ROLE_LABELS = {
    Role.HANDLER: _l("Case handler"),
    Role.LEAD: _l("Unit lead"),
    Role.COUNSEL: _l("Legal counsel"),
    Role.AUDITOR: _l("Auditor"),
    Role.ADMIN: _l("Administrator"),
}
