"""E-mail addresses: one rule for every form and command that takes one."""

from __future__ import annotations

import re

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")


def plausible_email(value: str) -> bool:
    """A plausible address (delivery is what proves it)."""
    return len(value) <= 254 and EMAIL_RE.match(value.strip()) is not None
