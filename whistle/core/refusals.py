"""The one refusal: a domain function that will not do what it was asked raises
:class:`Refused`, naming the form field it concerns and the message to show there.

Views map it in one place, :func:`whistle.web.forms.show_refusal` (the transaction is rolled
back, the message shown under the field, what the person typed kept); commands print the
message. Nothing else about a refusal differs between features.
"""

from __future__ import annotations


class Refused(ValueError):
    """An action was refused; ``field`` names the form field, ``message`` is shown (a lazy
    translation, rendered in the reader's language)."""

    def __init__(self, field: str, message: object) -> None:
        self.field = field
        self.message = message
        super().__init__(f"refused: {field}")
