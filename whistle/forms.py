"""Form pieces shared by every audience: validators whose messages are translated."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import Field, Form
from wtforms.validators import ValidationError

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def valid_email(_form: Form, field: Field) -> None:
    """A plausible e-mail address (delivery is what proves it)."""
    value: Any = field.data or ""
    if len(value) > 254 or not EMAIL_RE.match(value.strip()):
        raise ValidationError(_l("Enter an e-mail address such as name@example.org."))
